/*
 * engine_int.h — private to the engine's two files (engine.h is the
 * interface): engine.c fires events, records them and acts;
 * engine_commit.c owns the batch and a registry that cannot take writes.
 * They call each other; nothing else includes this.
 */
#ifndef PW_ENGINE_INT_H
#define PW_ENGINE_INT_H

#include <stdbool.h>

#include "engine.h"

#define REG_BUSY_MSG "the registry is busy (another process holds its write lock); try again"
#define REG_FULL_MSG "the registry's disk is full (state_dir: no space left on device)"

/* Why an event happened: status (-errno of a failure), detail (the event
 * row's), error (a failure's sentence; NULL: detail). */
struct pw_cause {
	int status;
	const char *detail;
	const char *error;
};

static inline struct pw_engine *pw_eng(const struct pw_vm *vm)
{
	return vm->owner;
}

/* engine.c */
int pw_eng_fire(struct pw_vm *vm, enum pw_event ev, const struct pw_cause *c);
void pw_eng_act(struct pw_vm *vm, const struct pw_transition *t, bool tap_ready);
/* The write of target failed (rc): the VM fails in memory (see engine.h). */
void pw_eng_record_failed(struct pw_vm *vm, enum pw_state target, int rc);
void pw_eng_reply_all(struct pw_vm *vm, struct pw_waiter **list, int status,
		      uint32_t flags, const char *err);

/* engine_pause.c: PAUSE, RESUME and ANSWER */
void pw_eng_pause_act(struct pw_vm *vm, enum pw_action a);

/* engine_commit.c: the batch */
int pw_eng_open_batch(struct pw_engine *e);
/* The action of t waits for the commit (prev_*: the VM before it; ev and
 * c: its event, kept in case the batch is undone; PW_E_COUNT: a final
 * write retried). */
void pw_eng_defer(struct pw_engine *e, struct pw_vm *vm, const struct pw_transition *t,
		  bool tap_ready, enum pw_state prev_state, enum pw_state prev_stored,
		  enum pw_event ev, const struct pw_cause *c);
bool pw_eng_has_deferred(const struct pw_engine *e, const struct pw_vm *vm);
void pw_eng_forget_deferred(struct pw_engine *e, struct pw_vm *vm);
/* Commits the open batch and takes its actions, until none is open. */
void pw_eng_flush(struct pw_engine *e);

/* engine_commit.c: a registry that cannot take writes for now */
bool pw_eng_unavailable(int rc);            /* -EBUSY (locked), -ENOSPC (full) */
bool pw_eng_is_request(enum pw_event ev);   /* RUN, STOP: refusable */
void pw_eng_reg_down(struct pw_engine *e, int rc);
void pw_eng_refuse(struct pw_vm *vm, enum pw_event ev, int rc);
/* Holds ev at the tail of the VM's held events (front: back at the head). */
int pw_eng_hold(struct pw_vm *vm, enum pw_event ev, const struct pw_cause *c, bool front);

#endif
