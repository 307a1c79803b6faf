/*
 * fc_vmm.c — the fake microVM's lifecycle and the phase table (see fc_vmm.h).
 *
 * The phase table mirrors Firecracker's PrebootApiController /
 * RuntimeApiController split (src/vmm/src/rpc_interface.rs): an operation is
 * allowed before InstanceStart only (PRE), after it only (POST), or always
 * (ANY). A PRE call after boot answers 400 "The requested operation is not
 * supported after starting the microVM."; a POST call before boot answers
 * 400 "... before starting the microVM.". PUT /actions is decided per
 * action_type: InstanceStart is PRE, SendCtrlAltDel and FlushMetrics POST.
 * An operation of the contract missing from the table is treated as ANY and
 * answered 400 "not implemented by the fake" (logged as a warning).
 * Before the phase, a rule's parse check runs (what Firecracker's API
 * thread refuses whatever the phase: PUT /snapshot/load's memory fields);
 * after it, a boot-specific rule marks boot_path, which bars a snapshot load.
 * A loaded snapshot counts as started (Paused or Running) for the phases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_calllog.h"
#include "fc_log.h"
#include "fc_vmm.h"
#include "fc_vsock.h"

#define FC_CTRL_ALT_DEL_EXIT_MS 50

enum fc_phase { FC_ANY, FC_PRE, FC_POST, FC_ACTION };

static fc_op_fn op_get_instance, op_get_version, op_get_machine, op_get_vm_config,
	op_put_actions, op_patch_vm, op_unsupported;

/* boot: a boot-specific resource — once one is PUT (even if it fails),
 * a snapshot load is refused (PrebootApiController's boot_path). parse: a
 * check Firecracker's API thread makes before the phase rules. */
struct fc_rule {
	const char *method, *tmpl;
	enum fc_phase phase;
	fc_op_fn *fn;
	bool boot;
	fc_parse_fn *parse;
};

static const struct fc_rule rules[] = {
	{ "GET", "/", FC_ANY, op_get_instance, false, NULL },
	{ "GET", "/version", FC_ANY, op_get_version, false, NULL },
	{ "GET", "/machine-config", FC_ANY, op_get_machine, false, NULL },
	{ "GET", "/vm/config", FC_ANY, op_get_vm_config, false, NULL },
	{ "GET", "/mmds", FC_ANY, fc_op_get_mmds, false, NULL },
	{ "PUT", "/mmds", FC_ANY, fc_op_put_mmds, false, NULL },
	{ "PATCH", "/mmds", FC_ANY, fc_op_patch_mmds, false, NULL },
	{ "GET", "/balloon", FC_ANY, fc_op_get_balloon, false, NULL },
	{ "PUT", "/actions", FC_ACTION, op_put_actions, false, NULL },
	{ "PUT", "/boot-source", FC_PRE, fc_op_put_boot_source, true, NULL },
	{ "PUT", "/drives/{drive_id}", FC_PRE, fc_op_put_drive, true, NULL },
	{ "PATCH", "/drives/{drive_id}", FC_POST, fc_op_patch_drive, false, NULL },
	{ "PUT", "/network-interfaces/{iface_id}", FC_PRE, fc_op_put_iface, true, NULL },
	{ "PATCH", "/network-interfaces/{iface_id}", FC_POST, fc_op_patch_iface, false, NULL },
	{ "PUT", "/machine-config", FC_PRE, fc_op_put_machine, true, NULL },
	{ "PATCH", "/machine-config", FC_PRE, fc_op_patch_machine, true, NULL },
	{ "PUT", "/logger", FC_PRE, fc_op_put_logger, false, NULL },
	{ "PUT", "/metrics", FC_PRE, fc_op_put_metrics, false, NULL },
	{ "PUT", "/mmds/config", FC_PRE, fc_op_put_mmds_config, true, NULL },
	{ "PUT", "/vsock", FC_PRE, fc_op_put_vsock, true, fc_parse_put_vsock },
	{ "PUT", "/balloon", FC_PRE, fc_op_put_resource, true, NULL },
	{ "PUT", "/entropy", FC_PRE, fc_op_put_resource, true, NULL },
	{ "PUT", "/serial", FC_PRE, fc_op_put_resource, false, NULL },
	{ "PUT", "/cpu-config", FC_PRE, fc_op_put_resource, false, NULL },
	{ "PUT", "/hotplug/memory", FC_PRE, fc_op_put_resource, true, NULL },
	{ "PUT", "/pmem/{id}", FC_PRE, fc_op_put_pmem, true, NULL },
	{ "PATCH", "/vm", FC_POST, op_patch_vm, false, NULL },
	{ "PATCH", "/balloon", FC_POST, fc_op_put_resource, false, NULL },
	{ "PATCH", "/balloon/statistics", FC_POST, op_unsupported, false, NULL },
	{ "GET", "/balloon/statistics", FC_POST, op_unsupported, false, NULL },
	{ "PATCH", "/balloon/hinting/start", FC_POST, op_unsupported, false, NULL },
	{ "GET", "/balloon/hinting/status", FC_POST, op_unsupported, false, NULL },
	{ "PATCH", "/balloon/hinting/stop", FC_POST, op_unsupported, false, NULL },
	{ "GET", "/hotplug/memory", FC_POST, op_unsupported, false, NULL },
	{ "PATCH", "/hotplug/memory", FC_POST, op_unsupported, false, NULL },
	{ "PATCH", "/pmem/{id}", FC_POST, op_unsupported, false, NULL },
	{ "PUT", "/snapshot/create", FC_POST, fc_op_snapshot_create, false, NULL },
	{ "PUT", "/snapshot/load", FC_PRE, fc_op_snapshot_load, false, fc_parse_snapshot_load },
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char *const not_after_boot =
	"The requested operation is not supported after starting the microVM.";
static const char *const not_before_boot =
	"The requested operation is not supported before starting the microVM.";

static int64_t env_ms(const char *name)
{
	const char *s = getenv(name);
	char *end = NULL;
	long long v;

	if (!s || !*s)
		return -1;
	v = strtoll(s, &end, 10);
	return (end && *end == '\0' && v >= 0) ? v : -1;
}

static bool env_flag(const char *name)
{
	const char *s = getenv(name);

	return s && strcmp(s, "1") == 0;
}

static json_t *default_machine(void)
{
	return json_pack("{s:i, s:i, s:b, s:b, s:s}", "vcpu_count", 1, "mem_size_mib", 128,
			 "smt", 0, "track_dirty_pages", 0, "huge_pages", "None");
}

void fc_vmm_init(struct fc_vmm *v, const char *id, const char *version)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->version = version;
	v->state = FC_NOT_STARTED;
	v->machine = default_machine();
	v->drives = json_object();
	v->ifaces = json_object();
	v->pmem = json_object();
	v->resources = json_object();
	v->check_tap = env_flag("FC_FAKE_CHECK_TAP");
	v->ignore_ctrl_alt_del = env_flag("FC_FAKE_IGNORE_CTRL_ALT_DEL");
	v->exit_after_start_ms = env_ms("FC_FAKE_EXIT_AFTER_START_MS");
	v->exit_at_ms = -1;
	v->alloc_mib = env_ms("FC_FAKE_ALLOC_MIB");
	v->console_every_ms = env_ms("FC_FAKE_CONSOLE_EVERY_MS");
	v->console_flood = env_ms("FC_FAKE_CONSOLE_FLOOD");
	if (v->console_flood > 0 && v->console_every_ms < 0)
		v->console_every_ms = 10;
	v->console_next_ms = -1;
	fc_guest_init(&v->guest_os);
}

/* One numbered line, 100 bytes when flooding (so sizes are easy to reason
 * about), else short. */
static size_t console_line(struct fc_vmm *v, char *buf, size_t len)
{
	int n = v->console_flood > 0
		? snprintf(buf, len, "flood %012llu %080d\n", (unsigned long long)v->console_seq, 0)
		: snprintf(buf, len, "fake console line %llu\n", (unsigned long long)v->console_seq);

	v->console_seq++;
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

void fc_vmm_console_tick(struct fc_vmm *v)
{
	char line[128];
	int64_t now = fc_now_ms(), left;

	if (v->console_next_ms < 0 || now < v->console_next_ms || v->state != FC_RUNNING)
		return;
	left = v->console_flood > 0 ? v->console_flood : 1;
	while (left > 0) {
		size_t n = console_line(v, line, sizeof(line));

		if (n == 0 || write(STDOUT_FILENO, line, n) != (ssize_t)n)
			break;
		left -= v->console_flood > 0 ? (int64_t)n : 1;
	}
	v->console_next_ms = now + v->console_every_ms;
}

int64_t fc_vmm_console_due(const struct fc_vmm *v)
{
	int64_t left;

	if (v->console_next_ms < 0)
		return -1;
	left = v->console_next_ms - fc_now_ms();
	return left < 0 ? 0 : left;
}

void fc_vmm_grow(struct fc_vmm *v)
{
	size_t n = (size_t)v->alloc_mib << 20;

	v->alloc_due = false;
	if (v->guest || v->alloc_mib <= 0)
		return;
	fc_info("fake: the guest grows to %lld MiB.", (long long)v->alloc_mib);
	if (!(v->guest = malloc(n))) {
		fc_info("fake: cannot allocate %lld MiB.", (long long)v->alloc_mib);
		return;
	}
	for (size_t off = 0; off < n; off += 4096) /* every page, so it is charged */
		v->guest[off] = 1;
	fc_info("fake: %lld MiB touched.", (long long)v->alloc_mib);
}

void fc_vmm_free(struct fc_vmm *v)
{
	if (!v)
		return;
	json_decref(v->machine);
	json_decref(v->boot);
	json_decref(v->drives);
	json_decref(v->ifaces);
	json_decref(v->pmem);
	json_decref(v->resources);
	json_decref(v->mmds);
	fc_vsock_free(v->vsock);
	free(v->guest);
	memset(v, 0, sizeof(*v));
}

int fc_vmm_check_rules(const struct fc_contract *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < NRULES; i++) {
		if (!fc_contract_has_op(c, rules[i].method, rules[i].tmpl)) {
			snprintf(err, errlen, "the fake's phase table names %s %s, which the "
				 "contract does not define", rules[i].method, rules[i].tmpl);
			return -EINVAL;
		}
	}
	return 0;
}

bool fc_vmm_is_partial(const char *method, const char *tmpl)
{
	return strcmp(method, "PATCH") == 0 && strcmp(tmpl, "/machine-config") == 0;
}

static const struct fc_rule *find_rule(const char *method, const char *tmpl)
{
	for (size_t i = 0; i < NRULES; i++)
		if (strcmp(rules[i].method, method) == 0 && strcmp(rules[i].tmpl, tmpl) == 0)
			return &rules[i];
	return NULL;
}

void fc_vmm_schedule_exit(struct fc_vmm *v, int64_t delay_ms, int status, const char *reason)
{
	int64_t at = fc_now_ms() + delay_ms;

	if (v->exit_at_ms >= 0 && v->exit_at_ms <= at)
		return;
	v->exit_at_ms = at;
	v->exit_status = status;
	v->exit_reason = reason;
}

/* 0 when the phase allows the call now, else fills rep. */
static int check_phase(struct fc_vmm *v, enum fc_phase phase, struct fc_reply *rep)
{
	bool booted = v->state != FC_NOT_STARTED;

	if (phase == FC_PRE && booted) {
		fc_reply_fault(rep, 400, "%s", not_after_boot);
		return -EPERM;
	}
	if (phase == FC_POST && !booted) {
		fc_reply_fault(rep, 400, "%s", not_before_boot);
		return -EPERM;
	}
	return 0;
}

void fc_vmm_dispatch(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const struct fc_rule *r = find_rule(call->method, call->tmpl);

	if (!r) {
		fc_warn("fake: %s %s has no rule in the fake", call->method, call->tmpl);
		op_unsupported(v, call, rep);
		return;
	}
	if (r->parse && r->parse(call, rep) < 0)
		return;
	if (check_phase(v, r->phase, rep) < 0)
		return;
	if (r->boot)
		v->boot_path = true;
	r->fn(v, call, rep);
}

int fc_deprecated(struct fc_reply *rep, const char *message)
{
	fc_warn("%s", message);
	rep->deprecated = true;
	return 0;
}

static void op_unsupported(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	(void)v;
	fc_warn("fake: %s %s is valid but not implemented by the fake", call->method, call->tmpl);
	fc_reply_fault(rep, 400, "fake firecracker: %s %s is not implemented by the fake.",
		       call->method, call->tmpl);
}

const char *fc_vmm_state_name(enum fc_vm_state s)
{
	return s == FC_NOT_STARTED ? "Not started" : s == FC_RUNNING ? "Running" : "Paused";
}

static void op_get_instance(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	(void)call;
	fc_reply_set(rep, 200, json_pack("{s:s, s:s, s:s, s:s}", "id", v->id, "state",
					 fc_vmm_state_name(v->state), "vmm_version", v->version,
					 "app_name", "Firecracker"));
}

static void op_get_version(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	(void)call;
	fc_reply_set(rep, 200, json_pack("{s:s}", "firecracker_version", v->version));
}

static void op_get_machine(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	(void)call;
	fc_reply_set(rep, 200, json_deep_copy(v->machine));
}

static json_t *values_array(json_t *obj)
{
	json_t *arr = json_array(), *val;
	const char *k;

	json_object_foreach(obj, k, val)
		json_array_append(arr, val);
	return arr;
}

static void op_get_vm_config(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	static const char *const keys[] = { "balloon", "cpu-config", "logger", "metrics",
					    "memory-hotplug", "mmds-config", "vsock", "entropy" };
	json_t *o = json_object();

	(void)call;
	json_object_set(o, "boot-source", v->boot ? v->boot : json_null());
	json_object_set_new(o, "machine-config", json_deep_copy(v->machine));
	json_object_set_new(o, "drives", values_array(v->drives));
	json_object_set_new(o, "network-interfaces", values_array(v->ifaces));
	json_object_set_new(o, "pmem", values_array(v->pmem));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *r = json_object_get(v->resources, keys[i]);

		json_object_set(o, keys[i], r ? r : json_null());
	}
	fc_reply_set(rep, 200, json_deep_copy(o));
	json_decref(o);
}

static void op_patch_vm(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *s = json_string_value(json_object_get(call->body, "state"));

	fc_vsock_clock(v); /* the guest's time stops (or runs) from here */
	v->state = strcmp(s, "Paused") == 0 ? FC_PAUSED : FC_RUNNING;
	fc_info("The microVM is now %s.", fc_vmm_state_name(v->state));
	fc_reply_set(rep, 204, NULL);
}

static void instance_start(struct fc_vmm *v, struct fc_reply *rep)
{
	if (check_phase(v, FC_PRE, rep) < 0)
		return;
	if (!v->boot) {
		fc_reply_fault(rep, 400, "Cannot start microvm without kernel configuration.");
		return;
	}
	if (fc_vmm_check_boot_files(v, rep) < 0)
		return;
	v->state = FC_RUNNING;
	fc_info("fake: InstanceStart done, the guest is running.");
	fc_guest_boot(v); /* the guest's serial is our stdout */
	fc_vmm_started(v);
	fc_reply_set(rep, 204, NULL);
}

void fc_vmm_started(struct fc_vmm *v)
{
	if (v->exit_after_start_ms >= 0)
		fc_vmm_schedule_exit(v, v->exit_after_start_ms, 1, "exit-after-start");
	if (v->console_every_ms >= 0)
		v->console_next_ms = fc_now_ms() + v->console_every_ms;
	v->alloc_due = v->alloc_mib > 0;
}

static void send_ctrl_alt_del(struct fc_vmm *v, struct fc_reply *rep)
{
	if (check_phase(v, FC_POST, rep) < 0)
		return;
	if (v->ignore_ctrl_alt_del)
		fc_info("fake: the guest ignores Ctrl+Alt+Del (FC_FAKE_IGNORE_CTRL_ALT_DEL)");
	else
		fc_vmm_schedule_exit(v, FC_CTRL_ALT_DEL_EXIT_MS, 0, "ctrl-alt-del");
	fc_reply_set(rep, 204, NULL);
}

static void op_put_actions(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *a = json_string_value(json_object_get(call->body, "action_type"));

	if (strcmp(a, "InstanceStart") == 0)
		instance_start(v, rep);
	else if (strcmp(a, "SendCtrlAltDel") == 0)
		send_ctrl_alt_del(v, rep);
	else if (strcmp(a, "FlushMetrics") == 0 && check_phase(v, FC_POST, rep) == 0)
		fc_reply_set(rep, 204, NULL);
	else if (strcmp(a, "FlushMetrics") != 0)
		fc_reply_fault(rep, 400, "fake firecracker: action %s is not implemented.", a);
}
