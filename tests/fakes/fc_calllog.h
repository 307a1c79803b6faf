/*
 * fc_calllog.h — the machine-readable call log tests read: one JSON object
 * per line, appended to <api-sock>.calls.jsonl or $FC_FAKE_LOG_DIR/<id>.calls.jsonl.
 *
 *   {"event":"spawn","t_ms":N,"argv":[...],"pid":N}            first line
 *   {"t_ms":N,"method":"PUT","path":"/drives/rootfs","body":{..}|null,
 *    "status":204,"fault":null|"..."}                           one per request
 *   {"event":"exit","t_ms":N,"reason":"...","status":N}          when it exits by itself
 *   {"event":"vsock"|"agent"|..., "t_ms":N, ...}                 what the "guest" saw
 *
 * t_ms is CLOCK_MONOTONIC in milliseconds. A body that is not JSON is logged
 * as "body":null plus "raw_body":"<text>". One write(2) per line (O_APPEND).
 */
#ifndef FC_CALLLOG_H
#define FC_CALLLOG_H

#include <stdint.h>
#include <jansson.h>

int64_t fc_now_ms(void);

/* A new JSON string for untrusted text: if s is not valid UTF-8, bytes >= 0x80
 * and control bytes become '?'. NULL only on allocation failure. */
json_t *fc_text(const char *s);

/* Opens (creates, appends) path; on failure the log is off and -errno returned. */
int fc_calllog_open(const char *path);
void fc_calllog_close(void);
void fc_calllog_spawn(int argc, char **argv);
/* body: parsed JSON (borrowed) or NULL; raw: the body text when it did not parse. */
void fc_calllog_request(const char *method, const char *path, json_t *body, const char *raw,
			int status, const char *fault);
void fc_calllog_exit(const char *reason, int status);
/* {"event":<event>,"t_ms":N, <fields...>}; fields (stolen) may be NULL. */
void fc_calllog_event(const char *event, json_t *fields);

#endif
