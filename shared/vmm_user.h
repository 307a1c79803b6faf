/*
 * vmm_user.h — the unprivileged user VMMs run as (config vmm.user): looked
 * up, and created when missing (useradd --system --user-group [--groups kvm]
 * --no-create-home --shell /usr/sbin/nologin). netd owns every tap by it;
 * pool-worker drops VMMs to it. "root" is the explicit opt-out (uid 0: no
 * drop, a loud warning).
 */
#ifndef UI_VMM_USER_H
#define UI_VMM_USER_H

#include <stddef.h>
#include <sys/types.h>

/* uid and primary gid of name; creates the user when missing (root only).
 * 0, or negative errno + a sentence naming the user. */
int ui_vmm_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

#endif
