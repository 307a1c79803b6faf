/*
 * lock.h — instance locks: flock(2) on files in state_dir, held for a
 * process's lifetime. One manager per state_dir (`uigniterd.lock`) and one
 * daemon per role (`netd.lock`, `pool-worker.lock`, `apid.lock`), so two
 * sets of daemons can never run against one state_dir, whichever manager
 * started them (docs/ARCHITECTURE.md "Supervision").
 *
 * The kernel drops an flock when the last fd of its open file description
 * closes — at the holder's death, even by SIGKILL — so a lock never outlives
 * its holder and needs no stale-lock rule. The fd is O_CLOEXEC: a VMM a
 * daemon spawns never inherits it (a VMM outlives the daemons by design and
 * would hold the lock forever). The file holds the holder's pid, for
 * messages only: the lock, not the pid, is the truth.
 */
#ifndef UI_LOCK_H
#define UI_LOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "shm.h"

/* "<state_dir>/<daemon name>.lock"; -ENAMETOOLONG if it does not fit. */
int ui_lock_role_path(const struct ui_config *cfg, enum ui_daemon d,
		      char *buf, size_t len);
/* Takes the exclusive lock on path (created 0644 if missing) and writes our
 * pid in it. 0 and *fd (the caller's to keep open, then close); -EBUSY if
 * another process holds it, *holder then its pid (0: unknown); or -errno. */
int ui_lock_take(const char *path, int *fd, pid_t *holder);
/* Whether someone holds the lock on path, without taking it for longer than
 * the call: 0 free (or no file), -EBUSY held (*holder its pid, 0: unknown),
 * or -errno. */
int ui_lock_probe(const char *path, pid_t *holder);

#endif
