/* fc_seccomp.h — the fake's seccomp filter (see fc_seccomp.c). */
#ifndef FC_SECCOMP_H
#define FC_SECCOMP_H

/* no_new_privs, then the filter: 0 or -errno. */
int fc_seccomp_install(void);

#endif
