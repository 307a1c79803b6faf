/*
 * orphans.h — kill VMM processes of this instance that no VM owns.
 */
#ifndef PW_ORPHANS_H
#define PW_ORPHANS_H

struct pw_vm;

/* Kills the VMMs whose command line names a socket under <run_dir>/vms/,
 * or (jails not NULL or "": "<chroot_base>/<exec name>", vmm.jailer's) that
 * say --id ID and whose root directory is jails/ID/root, and that no VM of vms owns; returns how
 * many. Call after recovery has adopted every live VMM the registry knows. */
int pw_kill_orphans(struct pw_vm *vms, const char *run_dir, const char *jails);

/* Removes every entry of dir (<run_dir>/vms, or a jails directory) that is
 * not named after a VM of vms (<id> or <id>.<suffix>); returns how many (a missing dir: 0), or
 * negative errno. Call after pw_kill_orphans. */
int pw_sweep_vmm_dirs(struct pw_vm *vms, const char *dir);

#endif
