/*
 * console.h — GET /vm/{id}/console: a VM's serial console, read by apid
 * straight from the files pool-worker keeps (pool-worker/console.h: the
 * VMM appends to <log>; past limits.console_bytes its bytes are moved to
 * <log>.1 and <log> starts again from 0). The path is the registry row's
 * console_log, never anything from the request.
 *
 *   ?bytes=N   the last N bytes (1..limits.console_bytes; default 64 KiB
 *              or the cap if smaller), the end of <log>.1 then <log>;
 *              200 text/plain; charset=utf-8, the bytes as the guest wrote
 *              them (no re-encoding). A VM that never had a console
 *              (never started) answers 200 with an empty body.
 *   ?follow=1  the tail, then new output as it appears (chunked; HTTP/1.0:
 *              raw until close), polled every CONSOLE_POLL_MS on apid's
 *              loop (one timer for every follower, no thread), at most
 *              CONSOLE_READ_MAX bytes a follower a poll and none while the
 *              client has not taken what was sent; ends with the last
 *              chunk once the VM is stopped or failed (or deleted) and its
 *              log has been read to the end, or when the client leaves.
 *              A rotation is followed: the rest of the old log is read
 *              from <log>.1 (its identity — inode, ctime — tells a new one
 *              apart), then <log> from 0. A follower that falls behind by
 *              two rotations between polls loses the log in between.
 *              Followers are connections (counted in limits.max_conns_*)
 *              and at most a quarter of a listener's limit (at least 1)
 *              follow at once: more get 503.
 *   404 unknown VM, 400 a bad or unknown parameter or one given twice.
 *
 * Ownership: struct apid_console is allocated by console_init and freed
 * once console_close's timer has closed; a follower belongs to its conn
 * (conn->follow), freed when the stream ends or the conn closes.
 */
#ifndef APID_CONSOLE_H
#define APID_CONSOLE_H

#include <stddef.h>

#include "config.h"
#include "http.h"

#define CONSOLE_DEFAULT_BYTES 65536u
#define CONSOLE_POLL_MS 100
#define CONSOLE_READ_MAX (256u * 1024)
/* On <log>.1: where its bytes ended in the old log (pool-worker/console.h,
 * PW_CONSOLE_END_XATTR: the same name). */
#define CONSOLE_END_XATTR "user.uigniter.console_end"

struct apid_server;
struct conn;
struct route;

/* routes.c: bytes= and follow= of GET /vm/{id}/console into out (query may
 * be NULL); on a bad one fills out->resp (400) and returns -EINVAL. Pure. */
int console_parse_query(const char *query, size_t len, const struct ui_config *cfg,
			struct route *out);

/* server.c: set-up and tear-down (after every conn has closed). */
void console_init(struct apid_server *s);
void console_close(struct apid_server *s);

/* server.c: answers rt (fills r, returns < 0 or 1: respond with r) or
 * takes the connection over for a follow (returns 0). */
int console_dispatch(struct conn *c, const struct route *rt, struct http_response *r);

/* conn.c: c closes while following; forget it. */
void console_follow_cancel(struct conn *c);

#endif
