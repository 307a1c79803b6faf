/*
 * ring_vm.h — a reply that carries its VM (UI_REPLY_VM, ring.h).
 *
 * pool-worker answers a run once the VM's `running` is committed; the
 * reply then carries the row as committed, and apid answers the 201 from
 * it instead of reading the registry (one read and a process's wait off
 * the run path). The fields GET /vm/{id} shows travel in the message:
 * vm_id, name, image, ip, tap, vcpus, mem_mib and error in the fields of
 * those names, the rest in `vm` (struct ui_msg_vm). A row whose error or
 * console_log does not fit is not carried: the reply goes without the
 * flag and apid reads the row, as before.
 *
 * Both functions are pure; the pair is the identity on what vm_to_json
 * reads (tests/unit/test_ring_vm.c).
 */
#ifndef UI_RING_VM_H
#define UI_RING_VM_H

#include <stdbool.h>

#include "registry.h"
#include "ring.h"

/* Copies row into m's VM fields and sets UI_REPLY_VM in m->flags; false
 * (m untouched) when a column does not fit its field. */
bool ui_reply_put_vm(struct ui_msg *m, const struct ui_vm *row);
/* The VM of a UI_REPLY_VM reply into *out (zeroed first; every string
 * terminated: the ring is not trusted). -EINVAL: m carries no VM (no
 * flag, or no id or state). */
int ui_reply_get_vm(const struct ui_msg *m, struct ui_vm *out);

#endif
