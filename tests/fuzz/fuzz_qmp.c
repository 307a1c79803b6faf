/*
 * fuzz_qmp.c — libFuzzer target: the QMP reader's wire format
 * (pool-worker/qmp.c): the input as what QEMU wrote on the socket, cut into
 * lines by qmp_next_line() and each decoded by qmp_msg_parse(), as
 * qmp_consume() does before dispatching.
 *
 * Oracle, beyond the sanitizers: every byte is either in a line or in the
 * partial tail; a decoded message is consistent with its kind.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "../../pool-worker/qmp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ui_log_init("fuzz_qmp", UI_LOG_ERROR);
	return 0;
}

static void check(const struct qmp_msg *m)
{
	switch (m->kind) {
	case QMP_MSG_GREETING:
		if (!json_object_get(m->root, "QMP"))
			abort();
		break;
	case QMP_MSG_EVENT:
		if (!m->event || json_string_value(json_object_get(m->root, "event")) != m->event)
			abort();
		break;
	case QMP_MSG_REPLY:
		if (!m->ret && (!m->err[0] || !strchr(m->err, ':')))
			abort();
		break;
	case QMP_MSG_OTHER:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *line;
	size_t off = 0, n, seen = 0;

	while (qmp_next_line(buf, size, &off, &line, &n)) {
		struct qmp_msg m;
		int r;

		if (line != buf + seen || memchr(line, '\n', n) || off != seen + n + 1)
			abort();
		seen = off;
		r = qmp_msg_parse(line, n, &m);
		if (r == 0) {
			check(&m);
			qmp_msg_free(&m);
		} else if (r != 1 && !(r == -EPROTO && m.err[0] && !m.root)) {
			abort();
		}
	}
	if (off != seen || memchr(buf + off, '\n', size - off))
		abort();
	return 0;
}
