/*
 * console.h — the cap on a VM's console log (limits.console_bytes).
 *
 * The VMM writes its console log itself (QEMU `-chardev file,append=on`,
 * Firecracker's stdout: both O_APPEND), so a guest's output never waits
 * on pool-worker and goes on while pool-worker restarts. Every
 * PW_CONSOLE_CHECK_MS pool-worker checks (one stat) the log of every VM it
 * holds with a VMM, spawned or adopted, and rotates one past the cap: its
 * head — all of it but the last partial block — is copied to <log>.1 (a
 * temp file renamed over it, with xattr PW_CONSOLE_END_XATTR = where in
 * the old log it ended), then removed from the log with
 * fallocate(FALLOC_FL_COLLAPSE_RANGE): the rest moves down, the VMM's
 * appends go on above it, and no byte is lost or doubled. A file system
 * that cannot collapse (tmpfs) gets copy-truncate instead: the whole log
 * copied (again while it grew under the copy, up to PW_CONSOLE_COPY_TRIES
 * times), then truncated to 0 — what the guest writes between the last
 * check and the truncate is lost (microseconds of output).
 * So on disk, while pool-worker runs:
 *   <log>.1  at most 2 × cap: the old log, or only its last cap bytes if
 *            it had grown past 2 × cap (pool-worker was down or late);
 *   <log>    at most cap + what the guest writes in one check interval
 *            (more if the loop is late); while pool-worker is down nothing
 *            rotates, and the first check after its restart does.
 * The rotation holds an flock (LOCK_EX, tried without waiting: busy, the
 * next check) on <log> from the copy to the collapse; readers (apid) hold
 * LOCK_SH while they read, so they see the files before or after a
 * rotation, never half-way. The VMM takes no lock and never waits.
 *
 * Files are removed with their VM: at DELETE, when a slot goes, and by a
 * level-triggered sweep (every <id>.console.log* under <state_dir>/vms
 * whose VM has neither a row nor a place in memory), which also covers
 * rows pruned by limits.keep_stopped and whatever a crash left.
 */
#ifndef PW_CONSOLE_H
#define PW_CONSOLE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#define PW_CONSOLE_CHECK_MS 100
#define PW_CONSOLE_COPY_TRIES 4
/* On <log>.1: the old log's offset where its bytes end (apid/console.h
 * reads it by the same name). */
#define PW_CONSOLE_END_XATTR "user.uigniter.console_end"

/* Rotates path if it is larger than cap: 1 rotated, 0 not needed (or no
 * file), negative errno on failure (the log is then left as it is). */
int pw_console_rotate(const char *path, uint64_t cap);

/* Removes path and path.1 (and a rotation's temp file); missing is fine. */
void pw_console_remove(const char *path);

/* The same for VM id's log under <state_dir>/vms (vm.c's pw_vm_paths). */
void pw_console_remove_id(const char *state_dir, const char *id);

/* The sweep, a slice at a time: a pass walks dir, at most max entries a
 * call; keep(id) says whether the VM id still owns its files. Returns 1
 * while the pass goes on, 0 when it has ended (the next call starts a new
 * pass), negative errno if dir cannot be read. *removed counts files. */
struct pw_console_sweep {
	DIR *dir;                /* open during a pass */
};
int pw_console_sweep_step(struct pw_console_sweep *s, const char *dir, unsigned max,
			  bool (*keep)(const char *id, void *arg), void *arg,
			  unsigned *removed);
void pw_console_sweep_end(struct pw_console_sweep *s);

#endif
