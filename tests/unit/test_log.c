/*
 * test_log.c — the log line formatter (shared/log.c): text and JSON, the
 * escaping of quotes, backslashes, newlines, control bytes and invalid
 * UTF-8, a cut message that leaves one valid line, and ui_log's own
 * write (one line on stderr) in both formats.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>

#include "log.h"
#include "t.h"

static const struct ui_log_rec vm_rec = {
	"2026-12-01T13:00:00.123Z", UI_LOG_INFO, "pool-worker", 42,
	"vm-abc", "stop", "running", "stopping", "stop requested"
};

/* buf must be one JSON object and one line; returns it (decref it). */
static json_t *parse_line(const char *buf, size_t n)
{
	json_error_t e;
	json_t *o;

	T_ASSERT(n > 0 && buf[n - 1] == '\n');
	T_ASSERT(memchr(buf, '\n', n - 1) == NULL);
	o = json_loadb(buf, n - 1, 0, &e);
	if (!o)
		T_FAIL("not JSON (%s): %s", e.text, buf);
	T_ASSERT(json_is_object(o));
	return o;
}

static const char *field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static void t_text_vm(void)
{
	char buf[512];
	size_t n = ui_log_format_line(UI_LOG_TEXT, &vm_rec, buf, sizeof(buf));

	T_EQ_STR(buf, "2026-12-01T13:00:00.123Z pool-worker[42] info: vm=vm-abc running -> "
		      "stopping (stop): stop requested\n");
	T_EQ_INT(n, strlen(buf));
}

static void t_text_plain_escapes(void)
{
	struct ui_log_rec r = { "T", UI_LOG_WARN, "apid", 7, NULL, NULL, NULL, NULL,
				"two\nlines\tand \"quotes\" \x01" };
	char buf[512];

	ui_log_format_line(UI_LOG_TEXT, &r, buf, sizeof(buf));
	T_EQ_STR(buf, "T apid[7] warn: two\\nlines\\tand \"quotes\" \\x01\n");
}

static void t_json_vm(void)
{
	char buf[512];
	size_t n = ui_log_format_line(UI_LOG_JSON, &vm_rec, buf, sizeof(buf));
	json_t *o = parse_line(buf, n);

	T_EQ_STR(field(o, "ts"), "2026-12-01T13:00:00.123Z");
	T_EQ_STR(field(o, "level"), "info");
	T_EQ_STR(field(o, "daemon"), "pool-worker");
	T_EQ_INT(json_integer_value(json_object_get(o, "pid")), 42);
	T_EQ_STR(field(o, "vm"), "vm-abc");
	T_EQ_STR(field(o, "event"), "stop");
	T_EQ_STR(field(o, "from"), "running");
	T_EQ_STR(field(o, "to"), "stopping");
	T_EQ_STR(field(o, "msg"), "stop requested");
	json_decref(o);
}

static void t_json_plain_has_no_vm_fields(void)
{
	struct ui_log_rec r = { "T", UI_LOG_ERROR, "netd", 1, NULL, NULL, NULL, NULL, "x" };
	char buf[256];
	json_t *o = parse_line(buf, ui_log_format_line(UI_LOG_JSON, &r, buf, sizeof(buf)));

	T_ASSERT(!json_object_get(o, "vm") && !json_object_get(o, "event"));
	T_EQ_STR(field(o, "level"), "error");
	T_EQ_STR(field(o, "msg"), "x");
	json_decref(o);
}

static void t_json_escapes(void)
{
	const char *msg = "say \"hi\"\\ back\nline2\r\t\x01\x7f caf\xc3\xa9 bad\xff\xc3(";
	struct ui_log_rec r = { "T", UI_LOG_INFO, "apid", 1, NULL, NULL, NULL, NULL, msg };
	char buf[512];
	json_t *o = parse_line(buf, ui_log_format_line(UI_LOG_JSON, &r, buf, sizeof(buf)));

	T_EQ_STR(field(o, "msg"), "say \"hi\"\\ back\nline2\r\t\x01\x7f caf\xc3\xa9 bad"
				  "\xef\xbf\xbd\xef\xbf\xbd(");
	json_decref(o);
}

/* Any message, cut at any buffer size, leaves one valid object. */
static void t_json_cut(void)
{
	char msg[600], buf[512];

	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = "ab\"\\\n\x02\xc3\xa9"[i % 9];
	msg[sizeof(msg) - 1] = '\0';
	for (size_t len = 64; len <= sizeof(buf); len++) {
		struct ui_log_rec r = vm_rec;
		size_t n;
		json_t *o;

		r.msg = msg;
		n = ui_log_format_line(UI_LOG_JSON, &r, buf, len);
		T_ASSERT(n < len);
		o = parse_line(buf, n);
		json_decref(o);
	}
}

static void t_text_cut(void)
{
	char msg[600], buf[100];
	struct ui_log_rec r = vm_rec;
	size_t n;

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	r.msg = msg;
	n = ui_log_format_line(UI_LOG_TEXT, &r, buf, sizeof(buf));
	T_EQ_INT(n, sizeof(buf) - 1);
	T_ASSERT(buf[n - 1] == '\n' && memchr(buf, '\n', n - 1) == NULL);
}

/* ui_log_vm writes one JSON line on stderr; below the level, nothing. */
static void t_write_json(void)
{
	char path[] = "/tmp/test_log.XXXXXX", buf[1024];
	int fd = mkstemp(path);
	ssize_t n;
	json_t *o;

	T_ASSERT(fd >= 0);
	unlink(path);
	T_ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	ui_log_init("/usr/bin/pool-worker", UI_LOG_INFO);
	ui_log_set_format(UI_LOG_JSON);
	ui_debug("not written");
	ui_log_vm(UI_LOG_INFO, "vm-1", "exit", "stopping", "stopped", "exit status %d", 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	T_ASSERT(n > 0);
	buf[n] = '\0';
	o = parse_line(buf, (size_t)n);
	T_EQ_STR(field(o, "daemon"), "pool-worker");
	T_EQ_STR(field(o, "to"), "stopped");
	T_EQ_STR(field(o, "msg"), "exit status 0");
	T_EQ_INT(json_integer_value(json_object_get(o, "pid")), getpid());
	json_decref(o);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_text_vm), T_CASE(t_text_plain_escapes), T_CASE(t_json_vm),
		T_CASE(t_json_plain_has_no_vm_fields), T_CASE(t_json_escapes),
		T_CASE(t_json_cut), T_CASE(t_text_cut), T_CASE(t_write_json), { 0 },
	};
	return t_run(argc, argv, cases);
}
