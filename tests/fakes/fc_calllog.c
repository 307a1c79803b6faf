/*
 * fc_calllog.c — see fc_calllog.h. Owns the call-log fd (O_CLOEXEC, O_APPEND).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fc_calllog.h"

static int calllog_fd = -1;

int64_t fc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fc_calllog_open(const char *path)
{
	calllog_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	return calllog_fd < 0 ? -errno : 0;
}

void fc_calllog_close(void)
{
	if (calllog_fd >= 0)
		close(calllog_fd);
	calllog_fd = -1;
}

/* Writes obj as one line and drops the reference. */
static void emit(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t n;

	json_decref(obj);
	if (!s)
		return;
	n = strlen(s);
	s[n] = '\n';
	if (calllog_fd >= 0 && write(calllog_fd, s, n + 1) < 0) {
		/* the log is best effort: the API answer matters more */
	}
	free(s);
}

json_t *fc_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void fc_calllog_spawn(int argc, char **argv)
{
	json_t *args = json_array();

	for (int i = 0; i < argc; i++)
		json_array_append_new(args, fc_text(argv[i]));
	emit(json_pack("{s:s, s:I, s:o, s:i}", "event", "spawn", "t_ms", (json_int_t)fc_now_ms(),
		       "argv", args, "pid", (int)getpid()));
}

void fc_calllog_request(const char *method, const char *path, json_t *body, const char *raw,
			int status, const char *fault)
{
	json_t *o = json_pack("{s:I, s:o, s:o, s:O?, s:i, s:o?}", "t_ms",
			      (json_int_t)fc_now_ms(), "method", fc_text(method), "path", fc_text(path),
			      "body", body, "status", status, "fault", fault ? fc_text(fault) : NULL);

	if (o && raw)
		json_object_set_new(o, "raw_body", fc_text(raw));
	if (o)
		emit(o);
}

void fc_calllog_exit(const char *reason, int status)
{
	emit(json_pack("{s:s, s:I, s:s, s:i}", "event", "exit", "t_ms",
		       (json_int_t)fc_now_ms(), "reason", reason, "status", status));
}

void fc_calllog_event(const char *event, json_t *fields)
{
	json_t *o = json_pack("{s:s, s:I}", "event", event, "t_ms", (json_int_t)fc_now_ms());

	if (o && fields)
		json_object_update(o, fields);
	json_decref(fields);
	if (o)
		emit(o);
}
