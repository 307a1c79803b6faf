/*
 * log.c — timestamped lines on stderr; see log.h. One write(2) per line so
 * lines from several processes sharing the log file never interleave.
 *
 * Formatting is one pure function (ui_log_format_line) over a record, so
 * both formats and their escaping are unit-tested (tests/unit/test_log.c).
 * A message never breaks its line: in text, control characters are
 * written as \n, \t, \xHH; in JSON every string is escaped and invalid
 * UTF-8 becomes U+FFFD, and a message too long is cut before the
 * object's closing characters, so each line stays one parsable object.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "uigniter";
static enum ui_log_level log_min = UI_LOG_INFO;
static enum ui_log_format log_fmt = UI_LOG_TEXT;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void ui_log_init(const char *prog, enum ui_log_level min)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_min = min;
}

void ui_log_set_format(enum ui_log_format fmt)
{
	log_fmt = fmt;
}

int ui_log_level_parse(const char *s, enum ui_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum ui_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the formatter ------------------------------------------------------ */

/* An output buffer that refuses what does not fit (keeping `reserve`
 * bytes for the line's end) and remembers that it did. */
struct out {
	char *buf;
	size_t len, n, reserve;
	bool full;
	bool in_str;   /* JSON: a string is open */
};

static bool put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->n + n + o->reserve > o->len) {
		o->full = true;
		return false;
	}
	memcpy(o->buf + o->n, s, n);
	o->n += n;
	return true;
}

static bool puts_(struct out *o, const char *s)
{
	return put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (need == 0 || s[0] > 0xf4 || need > n)
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate, above U+10FFFF */
	return need;
}

/* s escaped for a JSON string (without the quotes); stops at what fits. */
static void put_json_str(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	for (size_t i = 0; i < n && !o->full;) {
		char esc[8];
		size_t u;

		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\', esc[1] = (char)s[i];
			put(o, esc, 2);
		} else if (s[i] == '\n') {
			put(o, "\\n", 2);
		} else if (s[i] == '\r') {
			put(o, "\\r", 2);
		} else if (s[i] == '\t') {
			put(o, "\\t", 2);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			put(o, esc, 6);
		} else if (s[i] < 0x80) {
			put(o, (const char *)s + i, 1);
		} else if ((u = utf8_len(s + i, n - i)) > 0) {
			put(o, (const char *)s + i, u);
			i += u;
			continue;
		} else {
			put(o, "\\ufffd", 6);
		}
		i++;
	}
}

/* s for a text line: control characters escaped, other bytes as they are. */
static void put_text_str(struct out *o, const char *str)
{
	for (const unsigned char *s = (const unsigned char *)str; *s && !o->full; s++) {
		char esc[8];

		if (*s == '\n')
			put(o, "\\n", 2);
		else if (*s == '\t')
			put(o, "\\t", 2);
		else if (*s < 0x20 || *s == 0x7f)
			put(o, esc, (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *s));
		else
			put(o, (const char *)s, 1);
	}
}

/* ,"key":"value" — all or part of the value; o->in_str while it is open. */
static void json_field(struct out *o, const char *key, const char *val)
{
	if (!val)
		return;
	char head[32];

	snprintf(head, sizeof(head), ",\"%s\":\"", key);
	if (!puts_(o, head)) /* all or nothing */
		return;
	o->in_str = true;
	put_json_str(o, val);
	if (puts_(o, "\""))
		o->in_str = false;
}

static size_t format_json(const struct ui_log_rec *r, struct out *o)
{
	char pid[32];

	o->reserve = 3; /* a cut string's closing quote, then "}\n" */
	puts_(o, "{\"ts\":\"");
	o->in_str = true;
	put_json_str(o, r->ts);
	if (puts_(o, "\""))
		o->in_str = false;
	json_field(o, "level", level_names[r->level]);
	json_field(o, "daemon", r->daemon);
	snprintf(pid, sizeof(pid), ",\"pid\":%d", r->pid);
	puts_(o, pid);
	json_field(o, "vm", r->vm);
	json_field(o, "event", r->event);
	json_field(o, "from", r->from);
	json_field(o, "to", r->to);
	json_field(o, "msg", r->msg ? r->msg : "");
	/* cut: every escape written is whole; close what is open */
	o->reserve = 0;
	o->full = false;
	if (o->in_str)
		puts_(o, "\"");
	puts_(o, "}\n");
	return o->n;
}

static size_t format_text(const struct ui_log_rec *r, struct out *o)
{
	char head[128];

	o->reserve = 1;
	snprintf(head, sizeof(head), "%s %s[%d] %s: ", r->ts, r->daemon, r->pid,
		 level_names[r->level]);
	puts_(o, head);
	if (r->vm) {
		puts_(o, "vm=");
		put_text_str(o, r->vm);
		puts_(o, " ");
		put_text_str(o, r->from ? r->from : "?");
		puts_(o, " -> ");
		put_text_str(o, r->to ? r->to : "?");
		puts_(o, " (");
		put_text_str(o, r->event ? r->event : "?");
		puts_(o, ")");
		if (r->msg && r->msg[0])
			puts_(o, ": ");
	}
	put_text_str(o, r->msg ? r->msg : "");
	o->reserve = 0;
	o->full = false;
	puts_(o, "\n");
	return o->n;
}

size_t ui_log_format_line(enum ui_log_format fmt, const struct ui_log_rec *r, char *buf,
			  size_t len)
{
	struct out o = { buf, len - 1, 0, 0, false, false }; /* a NUL after the line */
	size_t n = fmt == UI_LOG_JSON ? format_json(r, &o) : format_text(r, &o);

	buf[n] = '\0';
	return n;
}

/* ---- writing ------------------------------------------------------------ */

static void emit(enum ui_log_level lvl, const char *vm, const char *event, const char *from,
		 const char *to, const char *fmt, va_list ap)
{
	char line[UI_LOG_LINE_MAX], msg[UI_LOG_LINE_MAX], ts[40];
	struct ui_log_rec r = { ts, lvl, log_prog, (int)getpid(), vm, event, from, to, msg };
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)tv.tv_usec / 1000);
	msg[0] = '\0';
	if (fmt)
		vsnprintf(msg, sizeof(msg), fmt, ap);
	n = ui_log_format_line(log_fmt, &r, line, sizeof(line));
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void ui_log(enum ui_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	emit(lvl, NULL, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void ui_log_vm(enum ui_log_level lvl, const char *vm, const char *event, const char *from,
	       const char *to, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	emit(lvl, vm, event, from, to, fmt, ap);
	va_end(ap);
	errno = saved;
}
