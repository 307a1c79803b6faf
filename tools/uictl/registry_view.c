/*
 * registry_view.c — uictl's read-only view of the registry: what `ls`,
 * `show` and `top` fall back to when the API is down (or --db is given),
 * and `leases`, which only the registry knows. It opens
 * <state_dir>/registry.db with UI_REG_RDONLY and never writes, so it is
 * safe next to a running uigniterd.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uictl.h"

static const char *const vm_states[] = {
	UI_VM_CREATING, UI_VM_STARTING, UI_VM_RUNNING, UI_VM_PAUSING, UI_VM_PAUSED,
	UI_VM_RESUMING, UI_VM_STOPPING, UI_VM_FAILING,
	UI_VM_STOPPED, UI_VM_FAILED, UI_VM_WARMING, UI_VM_WARM, UI_VM_RETIRING, NULL,
};

bool vm_state_known(const char *s)
{
	for (int i = 0; vm_states[i]; i++)
		if (!strcmp(s, vm_states[i]))
			return true;
	return false;
}

/* The registry path: --db, else the config's state_dir. Exit code. */
static int registry_path(struct uictl *u, char *buf, size_t len)
{
	int r;

	if (u->db) {
		snprintf(buf, len, "%s", u->db);
		return 0;
	}
	if ((r = uictl_config(u)) != 0)
		return r;
	ui_config_registry_path(&u->cfg, buf, len);
	return 0;
}

int reg_open(struct uictl *u, struct ui_registry **reg, char *path, size_t len)
{
	int r;

	if ((r = registry_path(u, path, len)) != 0)
		return r;
	/* checked first: sqlite would log its own less helpful error */
	if (access(path, F_OK) < 0 && errno == ENOENT)
		r = -ENOENT;
	else if (access(path, R_OK) < 0 && errno == EACCES)
		r = -EACCES;
	else
		r = ui_registry_open(path, UI_REG_RDONLY, reg);
	if (r == -ENOENT)
		fprintf(stderr, "uictl: %s: no registry (is uigniterd configured with this "
				"state_dir?)\n", path);
	else if (r == -EACCES)
		fprintf(stderr, "uictl: %s: permission denied: the registry is readable only "
			"by root and the members of api.group\n", path);
	else if (r < 0)
		fprintf(stderr, "uictl: %s: %s\n", path, strerror(-r));
	return r < 0 ? UICTL_EXIT_FAIL : 0;
}

json_t *reg_vm_json(const struct ui_vm *vm)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s}",
			      "id", vm->id, "name", vm->name, "state", vm->state,
			      "image", vm->image, "ip", vm->ip, "mac", vm->mac, "tap", vm->tap,
			      "vcpus", (json_int_t)vm->vcpus, "mem_mib", (json_int_t)vm->mem_mib,
			      "driver", vm->driver, "created_at", vm->created_at,
			      "started_at", vm->started_at, "stopped_at", vm->stopped_at);
	const char *opt[] = { "name", "ip", "mac", "tap", "started_at", "stopped_at" };

	if (!j)
		return NULL;
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) /* unset: null, as the API */
		if (!*json_string_value(json_object_get(j, opt[i])))
			json_object_set_new(j, opt[i], json_null());
	json_object_set_new(j, "pid", vm->vmm_pid > 0 ? json_integer(vm->vmm_pid) : json_null());
	json_object_set_new(j, "error", *vm->error ? json_string(vm->error) : json_null());
	return j;
}

static int array_row(const struct ui_vm *vm, void *arg)
{
	json_t *j = reg_vm_json(vm);

	if (!j || json_array_append_new(arg, j) < 0)
		return -ENOMEM;
	return 0;
}

int reg_vm_array(struct uictl *u, const char *state, json_t **arr)
{
	struct ui_registry *reg = NULL;
	char path[PATH_MAX + 16];
	int r;

	if ((r = reg_open(u, &reg, path, sizeof(path))) != 0)
		return r;
	if (!(*arr = json_array())) {
		ui_registry_close(reg);
		return UICTL_EXIT_FAIL;
	}
	if ((r = ui_reg_vm_list(reg, state, array_row, *arr)) < 0) {
		fprintf(stderr, "uictl: %s: listing VMs: %s\n", path, strerror(-r));
		json_decref(*arr);
		*arr = NULL;
	}
	ui_registry_close(reg);
	return r < 0 ? UICTL_EXIT_FAIL : 0;
}

int reg_ls(struct uictl *u, bool all, const char *state)
{
	json_t *arr = NULL, *vm, *out;
	size_t i;
	int r = reg_vm_array(u, state, &arr);

	if (r != 0)
		return r;
	if (!u->json) {
		r = vm_table_print(arr, !all) < 0;
	} else if ((out = json_array())) {
		json_array_foreach(arr, i, vm)
			if (all || vm_live(vm))
				json_array_append(out, vm);
		print_json(out);
		json_decref(out);
	} else {
		r = UICTL_EXIT_FAIL;
	}
	json_decref(arr);
	return r;
}

/* ---- show ------------------------------------------------------------- */

/* An integer column; `none` is how the registry reads NULL. */
static void kv_int(const char *key, int64_t v, int64_t none)
{
	char buf[24] = "";

	if (v != none)
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	kv(key, buf);
}

static void show_vm(const struct ui_vm *vm)
{
	kv("id", vm->id);
	kv("name", vm->name);
	kv("state", vm->state);
	kv("image", vm->image);
	kv("kernel", vm->kernel);
	kv("initrd", vm->initrd);
	kv("rootfs", vm->rootfs);
	kv("boot_args", vm->boot_args);
	kv_int("vcpus", vm->vcpus, -1);
	kv_int("mem_mib", vm->mem_mib, -1);
	kv("driver", vm->driver);
	kv_int("vmm_pid", vm->vmm_pid, 0);
	kv_int("vmm_start_time", vm->vmm_start_time, 0);
	kv("api_socket", vm->api_socket);
	kv("console_log", vm->console_log);
	kv("tap", vm->tap);
	kv("ip", vm->ip);
	kv("mac", vm->mac);
	kv("idempotency_key", vm->idempotency_key);
	kv("created_at", vm->created_at);
	kv("started_at", vm->started_at);
	kv("stopped_at", vm->stopped_at);
	kv_int("exit_status", vm->exit_status, -1);
	kv("error", vm->error);
}

static void show_lease(const struct ui_lease *l)
{
	kv("lease.ip", l->ip);
	kv("lease.mac", l->mac);
	kv("lease.tap", l->tap);
	kv("lease.state", l->state);
	kv("lease.updated_at", l->updated_at);
}

static int show_event(const char *time, const char *kind, const char *detail, void *arg)
{
	unsigned *n = arg;

	if ((*n)++ == 0)
		printf("events\n");
	if (*detail)
		printf("  %s  %-10s %s\n", time, kind, detail);
	else
		printf("  %s  %s\n", time, kind);
	return 0;
}

/* The VM's rows: itself (unless vm_done), its lease, its events. */
static int show_rows(struct ui_registry *reg, const char *path, const char *id, bool vm_done)
{
	struct ui_vm *vm;
	struct ui_lease lease;
	unsigned n = 0;
	int r;

	if (!(vm = malloc(sizeof(*vm)))) /* ~17 KiB of fixed-size columns */
		return UICTL_EXIT_FAIL;
	if ((r = ui_reg_vm_get(reg, id, vm)) == -ENOENT && !vm_done) {
		fprintf(stderr, "uictl: no VM %s in %s\n", id, path);
		free(vm);
		return UICTL_EXIT_FAIL;
	}
	if (r < 0 && r != -ENOENT)
		goto fail;
	if (!vm_done)
		show_vm(vm);
	if ((r = ui_reg_lease_get_by_vm(reg, id, &lease)) == 0)
		show_lease(&lease);
	else if (r != -ENOENT)
		goto fail;
	if ((r = ui_reg_event_list(reg, id, show_event, &n)) < 0)
		goto fail;
	if (n == 0)
		kv("events", "");
	free(vm);
	return 0;
fail:
	fprintf(stderr, "uictl: %s: reading VM %s: %s\n", path, id, strerror(-r));
	free(vm);
	return UICTL_EXIT_FAIL;
}

int reg_show(struct uictl *u, const char *id, bool vm_done)
{
	struct ui_registry *reg = NULL;
	char path[PATH_MAX + 16];
	int r;

	if ((r = reg_open(u, &reg, path, sizeof(path))) != 0)
		return vm_done ? 0 : r; /* after the API's answer: its part is shown */
	r = show_rows(reg, path, id, vm_done);
	ui_registry_close(reg);
	return r;
}

int reg_show_json(struct uictl *u, const char *id)
{
	struct ui_registry *reg = NULL;
	char path[PATH_MAX + 16];
	struct ui_vm *vm;
	json_t *j = NULL;
	int r;

	if ((r = reg_open(u, &reg, path, sizeof(path))) != 0)
		return r;
	if (!(vm = malloc(sizeof(*vm)))) {
		ui_registry_close(reg);
		return UICTL_EXIT_FAIL;
	}
	if ((r = ui_reg_vm_get(reg, id, vm)) == -ENOENT)
		fprintf(stderr, "uictl: no VM %s in %s\n", id, path);
	else if (r < 0)
		fprintf(stderr, "uictl: %s: reading VM %s: %s\n", path, id, strerror(-r));
	else if ((j = reg_vm_json(vm)))
		print_json(j);
	json_decref(j);
	free(vm);
	ui_registry_close(reg);
	return r < 0 || !j ? UICTL_EXIT_FAIL : 0;
}

/* ---- leases ----------------------------------------------------------- */

static int lease_row(const struct ui_lease *l, void *arg)
{
	char updated[32];

	short_time(l->updated_at, updated, sizeof(updated));
	return table_add(arg, (const char *const[]){ l->ip, l->mac, l->tap, l->vm_id, l->state,
						     updated });
}

int cmd_leases(struct uictl *u, int argc, char **argv)
{
	static const char *const head[] = { "IP", "MAC", "TAP", "VM", "STATE", "UPDATED", NULL };
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	struct ui_registry *reg = NULL;
	char path[PATH_MAX + 16];
	struct table t;
	int r;

	if (getopt_long(argc, argv, "", none, NULL) != -1)
		return uictl_usage_error("leases: takes no options");
	if (optind < argc)
		return uictl_usage_error("leases: unexpected argument '%s'", argv[optind]);
	if ((r = reg_open(u, &reg, path, sizeof(path))) != 0)
		return r;
	table_init(&t, head);
	if ((r = ui_reg_lease_list(reg, lease_row, &t)) == 0)
		table_print(&t);
	table_free(&t);
	ui_registry_close(reg);
	if (r < 0)
		fprintf(stderr, "uictl: %s: listing leases: %s\n", path, strerror(-r));
	return r < 0;
}
