/*
 * test_ring_vm.c — a reply that carries its VM (shared/ring_vm.c): what
 * apid answers from the reply is, byte for byte, what it answers from the
 * row (apid/json.c vm_to_json), for a full row and one with nulls; a row
 * that does not fit is not carried; a reply from the ring is terminated
 * whatever its bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../apid/json.h"
#include "ring_vm.h"
#include "t.h"

static struct ui_vm *full_row(void)
{
	struct ui_vm *r = calloc(1, sizeof(*r));

	T_ASSERT(r);
	snprintf(r->id, sizeof(r->id), "vm-06h34wxsn6c7zebbtyt4");
	snprintf(r->name, sizeof(r->name), "web-1");
	snprintf(r->state, sizeof(r->state), "running");
	snprintf(r->image, sizeof(r->image), "hello");
	snprintf(r->kernel, sizeof(r->kernel), "/img/vmlinuz");
	snprintf(r->boot_args, sizeof(r->boot_args), "console=ttyS0");
	r->vcpus = 2;
	r->mem_mib = 256;
	snprintf(r->driver, sizeof(r->driver), "firecracker");
	r->vmm_pid = 4242;
	r->vmm_start_time = 987654;
	snprintf(r->api_socket, sizeof(r->api_socket), "/run/u/vms/x/sock");
	snprintf(r->console_log, sizeof(r->console_log), "/var/lib/u/vms/%s.console.log", r->id);
	snprintf(r->tap, sizeof(r->tap), "uig12");
	snprintf(r->ip, sizeof(r->ip), "10.200.0.12");
	snprintf(r->mac, sizeof(r->mac), "02:00:0a:c8:00:0c");
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "k1");
	snprintf(r->created_at, sizeof(r->created_at), "2026-12-01T16:32:39.123Z");
	snprintf(r->started_at, sizeof(r->started_at), "2026-12-01T16:32:39.125Z");
	snprintf(r->ready_at, sizeof(r->ready_at), "2026-12-01T16:32:39.125Z");
	r->exit_status = -1;
	return r;
}

static char *json_of(const struct ui_vm *vm)
{
	json_t *j = vm_to_json(vm);
	char *s;

	T_ASSERT(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	T_ASSERT(s);
	return s;
}

/* row → reply → row: the same JSON. */
static void same_answer(const struct ui_vm *row)
{
	struct ui_msg m = { .op = UI_OP_REPLY, .req_op = UI_OP_RUN };
	struct ui_vm *back = malloc(sizeof(*back));
	char *a, *b;

	T_ASSERT(back);
	T_ASSERT(ui_reply_put_vm(&m, row));
	T_ASSERT(m.flags & UI_REPLY_VM);
	T_EQ_INT(ui_reply_get_vm(&m, back), 0);
	a = json_of(row);
	b = json_of(back);
	T_EQ_STR(b, a);
	free(a);
	free(b);
	free(back);
}

static void t_full_row_same_json(void)
{
	struct ui_vm *r = full_row();

	same_answer(r);
	free(r);
}

/* Unset values (no name, no pid, no times, an exit status, an error). */
static void t_nulls_and_exit_same_json(void)
{
	struct ui_vm *r = full_row();

	r->name[0] = r->started_at[0] = r->ready_at[0] = r->mac[0] = '\0';
	r->vmm_pid = 0;
	r->exit_status = 137;
	snprintf(r->state, sizeof(r->state), "failed");
	snprintf(r->stopped_at, sizeof(r->stopped_at), "2026-12-01T16:33:00.000Z");
	snprintf(r->error, sizeof(r->error), "out of memory (limit 352 MiB)");
	same_answer(r);
	free(r);
}

/* A console_log or an error too long for the reply: not carried, the
 * message left as it was (apid reads the row). */
static void t_too_long_not_carried(void)
{
	struct ui_vm *r = full_row();
	struct ui_msg m = { .op = UI_OP_REPLY, .vcpus = 7 };

	memset(r->console_log, 'a', 600);
	r->console_log[600] = '\0';
	T_ASSERT(!ui_reply_put_vm(&m, r));
	T_EQ_INT(m.flags, 0);
	T_EQ_INT(m.vcpus, 7);
	T_EQ_STR(m.vm_id, "");
	snprintf(r->console_log, sizeof(r->console_log), "/short");
	memset(r->error, 'e', 300);
	r->error[300] = '\0';
	T_ASSERT(!ui_reply_put_vm(&m, r));
	T_EQ_INT(m.flags, 0);
	r->error[159] = '\0'; /* 159 bytes fit the 160 of the field */
	T_ASSERT(ui_reply_put_vm(&m, r));
	free(r);
}

/* A reply without the flag, or whose bytes are not terminated. */
static void t_from_the_ring(void)
{
	struct ui_vm *out = malloc(sizeof(*out));
	struct ui_msg m;

	T_ASSERT(out);
	memset(&m, 0, sizeof(m));
	T_EQ_INT(ui_reply_get_vm(&m, out), -EINVAL);
	memset(&m, 'x', sizeof(m));
	m.flags = UI_REPLY_VM;
	T_EQ_INT(ui_reply_get_vm(&m, out), 0);
	T_EQ_INT(strlen(out->id), sizeof(m.vm_id) - 1);
	T_EQ_INT(strlen(out->state), sizeof(m.vm.state) - 1);
	T_EQ_INT(strlen(out->console_log), sizeof(m.vm.console_log) - 1);
	T_EQ_INT(strlen(out->error), sizeof(m.error) - 1);
	m.vm.state[0] = '\0';
	T_EQ_INT(ui_reply_get_vm(&m, out), -EINVAL);
	free(out);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_full_row_same_json),
		T_CASE(t_nulls_and_exit_same_json),
		T_CASE(t_too_long_not_carried),
		T_CASE(t_from_the_ring),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
