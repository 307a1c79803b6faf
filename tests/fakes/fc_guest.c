/*
 * fc_guest.c — the fake's "guest": what it prints on its serial console
 * (our stdout) when it boots, and the stand-in for uigniter's guest agent
 * on vsock (the shared interface of snapshot-started Firecracker slots).
 *
 * At InstanceStart, when FC_FAKE_GUEST_AGENT=1, boot_args hold
 * `uigniter.agent=vsock:N` and the VM has a vsock device, the guest prints
 * `UIGNITER-TEMPLATE vsock:N` (not FC_FAKE_CONSOLE_ON_START) and listens
 * on vsock port N. Else it prints FC_FAKE_CONSOLE_ON_START, as before. The
 * first good agent line (fc_vsock.c serves the connections one at a time,
 * as uigniter-agent does, and answered the host `OK\n`) is logged as
 * {"event":"agent","t_ms","port","line"}, the guest stops listening and
 * prints FC_FAKE_CONSOLE_ON_START (booted with its identity,
 * it says it is ready). The listening state is saved in a snapshot and
 * restored with it, so a restored copy waits again, whatever the env of the
 * restoring process. The line's words are not checked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_calllog.h"
#include "fc_log.h"
#include "fc_vmm.h"

#define AGENT_WORD "uigniter.agent=vsock:"

void fc_guest_init(struct fc_guest *g)
{
	g->agent_port = -1;
	g->agent_waiting = false;
}

/* The port of the last `uigniter.agent=vsock:N` word, or -1. */
static int64_t agent_port(const char *args)
{
	size_t wlen = strlen(AGENT_WORD);
	int64_t port = -1;

	for (const char *p = args; p && (p = strstr(p, AGENT_WORD)); p += wlen) {
		char *end;
		unsigned long long n;

		if (p != args && p[-1] != ' ')
			continue;
		n = strtoull(p + wlen, &end, 10);
		if (end != p + wlen && (*end == ' ' || *end == '\0') && n <= UINT32_MAX)
			port = (int64_t)n;
	}
	return port;
}

static void console_line(const char *text)
{
	printf("%s\n", text);
	fflush(stdout);
}

static void say_ready(void)
{
	const char *text = getenv("FC_FAKE_CONSOLE_ON_START");

	if (text)
		console_line(text);
}

void fc_guest_boot(struct fc_vmm *v)
{
	const char *s = getenv("FC_FAKE_GUEST_AGENT");
	int64_t port = agent_port(json_string_value(json_object_get(v->boot, "boot_args")));
	char banner[64];

	if (s && strcmp(s, "1") == 0 && port >= 0) {
		if (v->vsock) {
			snprintf(banner, sizeof(banner), "UIGNITER-TEMPLATE vsock:%lld",
				 (long long)port);
			console_line(banner);
			v->guest_os.agent_port = port;
			v->guest_os.agent_waiting = true;
			fc_info("fake guest: the agent listens on vsock port %lld", (long long)port);
			return;
		}
		fc_warn("fake guest: boot_args ask for the agent on vsock:%lld but the VM has no "
			"vsock device: nothing listens", (long long)port);
	}
	say_ready();
}

bool fc_guest_listens(const struct fc_vmm *v, uint32_t port)
{
	return v->state == FC_RUNNING && v->guest_os.agent_waiting &&
	       v->guest_os.agent_port == (int64_t)port;
}

void fc_guest_agent_line(struct fc_vmm *v, uint32_t port, const char *line)
{
	fc_calllog_event("agent", json_pack("{s:I, s:o}", "port", (json_int_t)port, "line",
					    fc_text(line)));
	fc_info("fake guest: agent line on vsock port %u: %s", port, line);
	v->guest_os.agent_waiting = false;
	say_ready();
}

json_t *fc_guest_save(const struct fc_guest *g)
{
	return json_pack("{s:I, s:b}", "agent_port", (json_int_t)g->agent_port, "agent_waiting",
			 g->agent_waiting);
}

void fc_guest_restore(struct fc_guest *g, json_t *saved)
{
	json_t *port = json_object_get(saved, "agent_port");

	fc_guest_init(g);
	if (json_is_integer(port))
		g->agent_port = json_integer_value(port);
	g->agent_waiting = json_is_true(json_object_get(saved, "agent_waiting")) &&
			   g->agent_port >= 0;
}
