/*
 * notify.h — the systemd readiness protocol without libsystemd: one
 * datagram ("READY=1", "STATUS=…", "STOPPING=1", "RELOADING=1", lines
 * separated by \n) to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or "@name" for the abstract namespace). See sd_notify(3).
 */
#ifndef UI_NOTIFY_H
#define UI_NOTIFY_H

/* Takes $NOTIFY_SOCKET for ui_sd_notify and unsets it (children must not
 * inherit it). 0, or -EINVAL for a name neither absolute nor abstract, or
 * too long (then ui_sd_notify sends nothing). */
int ui_sd_notify_take_env(void);

/* Sends msg to the socket taken by ui_sd_notify_take_env. 0 when sent or
 * when there is none (not under systemd: nothing to do), else -errno of
 * socket/sendto. */
int ui_sd_notify(const char *msg);
#endif
