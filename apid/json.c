/*
 * json.c — JSON for responses (jansson). Every body apid sends is built
 * here, so the error envelope and the VM shape are defined in one place.
 * Keys are emitted in insertion order (JSON_PRESERVE_ORDER) for readable
 * output; bodies end with a newline for terminal users.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

static const char oom_body[] =
	"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";

/* Last resort when even building the error failed. */
static void set_oom(struct http_response *r)
{
	http_response_free(r);
	r->status = 500;
	r->body = strdup(oom_body);
	r->body_len = r->body ? strlen(oom_body) : 0;
}

void api_json(struct http_response *r, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	size_t n;
	char *body;

	json_decref(j);
	if (!s) {
		set_oom(r);
		return;
	}
	n = strlen(s);
	body = realloc(s, n + 2);
	if (!body) {
		free(s);
		set_oom(r);
		return;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	http_response_free(r);
	r->status = status;
	r->body = body;
	r->body_len = n + 1;
}

void api_error(struct http_response *r, int status, const char *code,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *m;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* json_string rejects invalid UTF-8 (e.g. echoed garbage): fall back. */
	m = json_string(msg);
	if (!m)
		m = json_string("invalid request");
	api_json(r, status, json_pack("{s:{s:s,s:o}}", "error", "code", code,
				      "message", m));
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

/* ms between two registry times ("YYYY-MM-DDTHH:MM:SS.mmmZ"); -1 if
 * either is unset or not one. */
static long long ms_between(const char *from, const char *to)
{
	long long t[2];
	const char *s[2] = { from, to };

	for (int i = 0; i < 2; i++) {
		struct tm tm = { 0 };
		const char *rest = s[i][0] ? strptime(s[i], "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
		unsigned ms = 0;

		if (!rest || (rest[0] == '.' && sscanf(rest + 1, "%3u", &ms) != 1))
			return -1;
		t[i] = (long long)timegm(&tm) * 1000 + ms;
	}
	return t[1] - t[0];
}

json_t *vm_to_json(const struct ui_vm *vm)
{
	long long boot = ms_between(vm->created_at, vm->ready_at);
	json_t *j;

	/* Unset values are null, not "": a client tests them with one check. */
	j = json_pack("{s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:s,s:o,"
			 "s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:o}",
			 "id", vm->id, "name", str_or_null(vm->name),
			 "state", vm->state, "image", vm->image,
			 "ip", str_or_null(vm->ip), "mac", str_or_null(vm->mac),
			 "tap", str_or_null(vm->tap),
			 "vcpus", (json_int_t)vm->vcpus,
			 "mem_mib", (json_int_t)vm->mem_mib,
			 "driver", vm->driver,
			 "pid", vm->vmm_pid > 0 ? json_integer(vm->vmm_pid) : json_null(),
			 "created_at", vm->created_at,
			 "started_at", str_or_null(vm->started_at),
			 "stopped_at", str_or_null(vm->stopped_at),
			 "exit_status", vm->exit_status == -1 ? json_null() :
				 json_integer(vm->exit_status),
			 "error", str_or_null(vm->error),
			 "console_log", vm->console_log,
			 /* the image's ready rule held; request → ready */
			 "ready_at", str_or_null(vm->ready_at),
			 "boot_ms", boot >= 0 ? json_integer(boot) : json_null());
	return j;
}
