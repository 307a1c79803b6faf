/*
 * vmid.h — VM ids: "vm-" + 20 lowercase base32 characters encoding a 48-bit
 * millisecond timestamp and 52 random bits, so ids sort by creation time.
 * apid makes one per run request; pool-worker makes one per warm slot (a
 * slot's id becomes the VM's when a run takes it).
 */
#ifndef UI_VMID_H
#define UI_VMID_H

#include <stdint.h>

#define UI_VM_ID_LEN 23 /* "vm-" + 20 base32 characters */

/* out holds UI_VM_ID_LEN + 1 bytes. */
void ui_vm_id_format(uint64_t ms, uint64_t rnd, char *out);
/* A new id from the wall clock and getrandom(); negative errno on failure. */
int ui_vm_id_new(char *out);

#endif
