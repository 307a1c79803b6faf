/*
 * engine_pause.c — pause and resume of a running VM (POST /vm/{id}/pause,
 * /resume): the requests and the three actions of the PAUSING, PAUSED and
 * RESUMING states (fsm.c).
 *
 *   PAUSE  in RUNNING:  recorded `pausing`, then the driver pauses (QMP
 *          `stop`, PATCH /vm Paused); its PAUSED report is recorded
 *          `paused` and answers the request (ANSWER).
 *   RESUME in PAUSED:   recorded `resuming`, then the driver resumes
 *          (`cont`, PATCH /vm Resumed); RESUMED is recorded `running` and
 *          answers. started_at and ready_at are kept (engine.c).
 * Anything else is 409 with the state named. The requests wait in
 * vm->pause_waiters; a VM that ends first (stopped, failed) answers them
 * with the reason (engine.c reply_final). A driver that fails to pause or
 * resume fails the VM (ERROR → FAILING: its state is no longer known).
 * After a pool-worker restart the row wins: an adopted VMM is paused or
 * resumed as its row says (fsm.c ADOPTED), whatever it was doing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "engine_int.h"
#include "log.h"

static void reply_now(struct pw_engine *e, const struct ui_msg *m, int status,
		      const char *err)
{
	struct pw_waiter w = { NULL, m->req_id, m->gen, m->op, false };

	e->hooks.reply(e, &w, status, 0, m->vm_id, err);
}

void pw_eng_pause_act(struct pw_vm *vm, enum pw_action a)
{
	const struct ui_vmm_driver *drv = vm->vmm.drv;
	struct pw_cause c = { -ENOTSUP, NULL, NULL };
	char err[128];
	int rc;

	if (a == PW_A_ANSWER) {
		pw_eng_reply_all(vm, &vm->pause_waiters, 0, 0, NULL);
		return;
	}
	rc = drv->pause && vm->vmm.data ? drv->pause(&vm->vmm, a == PW_A_PAUSE) :
	     drv->pause ? -ESRCH : -ENOTSUP;
	if (rc == 0)
		return;
	snprintf(err, sizeof(err), "cannot %s the guest: %s",
		 a == PW_A_PAUSE ? "pause" : "resume", strerror(-rc));
	c.status = rc;
	c.error = err;
	pw_eng_fire(vm, PW_E_ERROR, &c);
}

void pw_engine_pause(struct pw_engine *e, const struct ui_msg *m)
{
	struct pw_vm *vm = pw_vm_find(e->vms, m->vm_id);
	bool pause = m->op == UI_OP_PAUSE;
	enum pw_event ev = pause ? PW_E_PAUSE : PW_E_RESUME;
	const struct pw_transition *t;
	char err[160];

	if (!vm || pw_state_is_slot(vm->state)) {
		/* not ours in memory: final (apid had an older row), or a slot */
		reply_now(e, m, vm ? -ENOENT : -EEXIST, vm ? "no such VM" :
			  "VM is not running");
		return;
	}
	t = pw_fsm_step(vm->state, ev);
	if (!t || t->action == PW_A_IGNORE || vm->held) {
		snprintf(err, sizeof(err), "VM %s is %s: only a %s VM can be %s", vm->row.id,
			 pw_state_name(vm->state), pause ? "running" : "paused",
			 pause ? "paused" : "resumed");
		reply_now(e, m, vm->held ? -EAGAIN : -EEXIST, vm->held ?
			  "the registry is busy; try again" : err);
		return;
	}
	if (pw_waiter_add(&vm->pause_waiters, m->req_id, m->gen, m->op) < 0) {
		reply_now(e, m, -ENOMEM, "out of memory");
		return;
	}
	ui_info("%s: %s requested", vm->row.id, pause ? "pause" : "resume");
	pw_engine_fire(vm, ev, 0, NULL);
}
