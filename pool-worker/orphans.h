/*
 * orphans.h — kill VMM processes of this instance that no VM owns.
 */
#ifndef PW_ORPHANS_H
#define PW_ORPHANS_H

struct pw_vm;

/* Kills the VMMs whose command line names a socket under <run_dir>/vms/
 * and that no VM of vms owns; returns how many. Call after recovery has
 * adopted every live VMM the registry knows. */
int pw_kill_orphans(struct pw_vm *vms, const char *run_dir);

#endif
