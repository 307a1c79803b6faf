/*
 * fc_snapshot.c — PUT /snapshot/create and PUT /snapshot/load, held to
 * Firecracker v1.16.1 (src/vmm/src/rpc_interface.rs, persist.rs,
 * vstate/vm.rs, src/firecracker/src/api_server/request/snapshot.rs,
 * docs/snapshotting/snapshot-support.md). Faults quote upstream's Display
 * chains ("Create snapshot error: ...", "Load snapshot error: ...").
 *
 * The state file is the fake's own: the line "FIRECRACKER-FAKE-SNAPSHOT 1",
 * then one line of JSON with everything the VM was configured with
 * (machine-config, boot-source, drives, network-interfaces, pmem, the
 * devices' resources with vsock, the guest's agent state). The memory file
 * is mem_size_mib MiB, sparse (set_len, as Firecracker before it dumps).
 *
 * create: Paused only; the state file is written first (O_TRUNC), then the
 *   memory file (not truncated when its size is already right, as upstream
 *   does for a diff merged into its base). Diff is accepted with or without
 *   track_dirty_pages (since v1.13, #5274: mincore without dirty tracking).
 * load: parse checks (exactly one of mem_file_path / mem_backend) answer
 *   400 whatever the phase; then pre-boot only; then "fresh process" (no
 *   boot-specific resource PUT, even a failed one: Firecracker sets
 *   boot_path before it acts); Uffd is refused by the fake (400, alive).
 *   Everything after that is the restore: any failure answers 400 and the
 *   process exits 1 ("snapshot load failed"), as Firecracker's
 *   build_microvm_from_requests does on a fatal restore error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_log.h"
#include "fc_vmm.h"
#include "fc_vsock.h"

#define SNAP_MAGIC "FIRECRACKER-FAKE-SNAPSHOT"
#define SNAP_VERSION 1
#define SNAP_MAX_BYTES (4 << 20)
#define MIB (1024LL * 1024)

#define CREATE_ERR "Create snapshot error: "
#define LOAD_ERR "Load snapshot error: Failed to restore from snapshot: "
#define STATE_ERR LOAD_ERR "Failed to get snapshot state from file: "
#define MEM_ERR LOAD_ERR "Failed to load guest memory: Error creating guest memory from file: "
#define BUILD_ERR LOAD_ERR "Failed to build microVM from snapshot: Cannot restore devices: "
#define DESER "An error occurred when deserializing the json body of a request: "

/* The device resources a snapshot carries (logger, metrics, serial and the
 * cpu template are the process's, not the VM's). */
static const char *const saved_resources[] = { "vsock", "balloon", "entropy", "mmds-config",
					       "memory-hotplug" };
#define NSAVED (sizeof(saved_resources) / sizeof(saved_resources[0]))

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ------------------------------------------------------------ create */

static json_t *snapshot_state(const struct fc_vmm *v)
{
	json_t *res = json_object();

	for (size_t i = 0; i < NSAVED; i++) {
		json_t *r = json_object_get(v->resources, saved_resources[i]);

		if (r)
			json_object_set(res, saved_resources[i], r);
	}
	return json_pack("{s:s, s:s, s:O, s:O?, s:O, s:O, s:O, s:o, s:o}", "vmm_version",
			 v->version, "source_id", v->id, "machine-config", v->machine,
			 "boot-source", v->boot, "drives", v->drives, "network-interfaces",
			 v->ifaces, "pmem", v->pmem, "resources", res, "guest",
			 fc_guest_save(&v->guest_os));
}

/* "Cannot perform <op> on the <what> backing file: <errno text>" */
static void backing_fault(struct fc_reply *rep, const char *op, const char *what, int e)
{
	fc_reply_fault(rep, 400, CREATE_ERR "Cannot perform %s on the %s backing file: %s "
		       "(os error %d)", op, what, strerror(e), e);
}

static int write_state(const struct fc_vmm *v, const char *path, struct fc_reply *rep)
{
	json_t *state = snapshot_state(v);
	char *text = state ? json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int fd = -1, r = -EIO;
	FILE *f;

	json_decref(state);
	if (!text) {
		fc_reply_fault(rep, 400, CREATE_ERR "Cannot serialize the microVM state: out of "
			       "memory");
		return -ENOMEM;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		r = -errno;
		backing_fault(rep, "open", "snapshot", -r);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f || fprintf(f, "%s %d\n%s\n", SNAP_MAGIC, SNAP_VERSION, text) < 0 ||
	    fflush(f) != 0) {
		r = -errno;
		fc_reply_fault(rep, 400, CREATE_ERR "Cannot serialize the microVM state: IO Error: "
			       "%s (os error %d)", strerror(-r), -r);
		if (f)
			fclose(f);
		else
			close(fd);
		goto out;
	}
	r = fsync(fd) < 0 ? -errno : 0;
	fclose(f);
	if (r < 0)
		backing_fault(rep, "sync_all", "snapshot", -r);
out:
	free(text);
	return r;
}

/* vstate/vm.rs snapshot_memory_to_file, without the bytes: the file is
 * set to the memory's size, truncated first if it existed at another size. */
static int write_memory(const struct fc_vmm *v, const char *path, struct fc_reply *rep)
{
	off_t size = (off_t)json_integer_value(json_object_get(v->machine, "mem_size_mib")) * MIB;
	bool existed = access(path, F_OK) == 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666), e = 0;
	const char *op = NULL;
	struct stat st;

	if (fd < 0) {
		backing_fault(rep, "open", "memory", errno);
		return -errno;
	}
	if (existed && fstat(fd, &st) < 0)
		op = "get_metadata";
	else if (existed && st.st_size != size && ftruncate(fd, 0) < 0)
		op = "truncate";
	else if (ftruncate(fd, size) < 0)
		op = "set_length";
	else if (fsync(fd) < 0)
		op = "sync_all";
	e = errno;
	close(fd);
	if (op) {
		backing_fault(rep, op, "memory", e);
		return -e;
	}
	return 0;
}

void fc_op_snapshot_create(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *type = str(call->body, "snapshot_type");

	if (v->state != FC_PAUSED) {
		fc_reply_fault(rep, 400, CREATE_ERR "Cannot save the microVM state: Operation not "
			       "allowed: save/restore unavailable while running");
		return;
	}
	if (type && strcmp(type, "Diff") == 0)
		fc_warn("[DevPreview] Virtual machine diff snapshots is in development preview.");
	if (write_state(v, str(call->body, "snapshot_path"), rep) < 0 ||
	    write_memory(v, str(call->body, "mem_file_path"), rep) < 0)
		return;
	fc_info("fake: %s snapshot created: %s + %s", type ? type : "Full",
		str(call->body, "snapshot_path"), str(call->body, "mem_file_path"));
	fc_reply_set(rep, 204, NULL);
}

/* ------------------------------------------------------------ load */

int fc_parse_snapshot_load(const struct fc_call *call, struct fc_reply *rep)
{
	bool file = json_object_get(call->body, "mem_file_path") != NULL;
	bool backend = json_object_get(call->body, "mem_backend") != NULL;

	if (file && backend)
		fc_reply_fault(rep, 400, DESER "too many fields: either `mem_backend` or "
			       "`mem_file_path` exclusively is required.");
	else if (!file && !backend)
		fc_reply_fault(rep, 400, DESER "missing field: either `mem_backend` or "
			       "`mem_file_path` is required.");
	else if (file || json_is_true(json_object_get(call->body, "enable_diff_snapshots")))
		return fc_deprecated(rep, "PUT /snapshot/load: mem_file_path and "
				     "enable_diff_snapshots fields are deprecated.");
	else
		return 0;
	return -EINVAL;
}

/* Reads and checks the state file: the parsed state, or NULL with rep set. */
static json_t *read_state(const char *path, struct fc_reply *rep)
{
	static char buf[SNAP_MAX_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC), version;
	ssize_t n;
	char magic[32], *nl;
	unsigned long long word = 0;
	json_t *state;

	if (fd < 0) {
		fc_reply_fault(rep, 400, STATE_ERR "Failed to open snapshot file: %s (os error %d)",
			       strerror(errno), errno);
		return NULL;
	}
	n = read(fd, buf, SNAP_MAX_BYTES);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	nl = strchr(buf, '\n');
	if (n < 0 || !nl || sscanf(buf, "%31s %d", magic, &version) != 2 ||
	    strcmp(magic, SNAP_MAGIC) != 0) {
		memcpy(&word, buf, n >= 8 ? 8 : (n > 0 ? (size_t)n : 0));
		fc_reply_fault(rep, 400, STATE_ERR "Failed to load snapshot state from file: Magic "
			       "value does not match arch: %llu", word);
		return NULL;
	}
	if (version != SNAP_VERSION) {
		fc_reply_fault(rep, 400, STATE_ERR "Failed to load snapshot state from file: Invalid "
			       "data version: %d (the fake reads version %d)", version, SNAP_VERSION);
		return NULL;
	}
	state = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(state) || !json_is_object(json_object_get(state, "machine-config"))) {
		json_decref(state);
		fc_reply_fault(rep, 400, STATE_ERR "Failed to load snapshot state from file: CRC64 "
			       "validation failed");
		return NULL;
	}
	return state;
}

/* network_overrides and vsock_override, applied to the state as upstream. */
static int apply_overrides(json_t *state, json_t *body, struct fc_reply *rep)
{
	json_t *ifaces = json_object_get(state, "network-interfaces"), *o;
	json_t *vsock = json_object_get(json_object_get(state, "resources"), "vsock");
	json_t *vo = json_object_get(body, "vsock_override");
	size_t i;

	json_array_foreach(json_object_get(body, "network_overrides"), i, o) {
		json_t *nic = json_object_get(ifaces, str(o, "iface_id"));

		if (!nic) {
			fc_reply_fault(rep, 400, STATE_ERR "Unknown Network Device.");
			return -ENOENT;
		}
		json_object_set(nic, "host_dev_name", json_object_get(o, "host_dev_name"));
	}
	if (vo && !vsock) {
		fc_reply_fault(rep, 400, STATE_ERR "Unknown Vsock Device.");
		return -ENOENT;
	}
	if (vo)
		json_object_set(vsock, "uds_path", json_object_get(vo, "uds_path"));
	return 0;
}

static int check_memory(json_t *machine, json_t *body, struct fc_reply *rep)
{
	json_t *mb = json_object_get(body, "mem_backend");
	const char *path = mb ? str(mb, "backend_path") : str(body, "mem_file_path");
	off_t need = (off_t)json_integer_value(json_object_get(machine, "mem_size_mib")) * MIB;
	const char *huge = str(machine, "huge_pages");
	struct stat st;

	if (huge && strcmp(huge, "2M") == 0) {
		fc_reply_fault(rep, 400, MEM_ERR "Cannot restore hugetlbfs backed snapshot by "
			       "mapping the memory file. Please use uffd.");
		return -EINVAL;
	}
	if (stat(path, &st) < 0 || fc_check_file(path, false) < 0) {
		int e = errno;

		fc_reply_fault(rep, 400, MEM_ERR "Failed to load guest memory: %s (os error %d)",
			       strerror(e), e);
		return -e;
	}
	if (st.st_size < need) {
		fc_reply_fault(rep, 400, MEM_ERR "Failed to restore guest memory: Total sum of "
			       "memory regions exceeds largest possible file offset");
		return -EINVAL;
	}
	return 0;
}

/* The devices come back: drive files open, taps exist (FC_FAKE_CHECK_TAP). */
static int check_devices(const struct fc_vmm *v, json_t *state, struct fc_reply *rep)
{
	const char *k;
	json_t *d;
	char sys[512];

	json_object_foreach(json_object_get(state, "drives"), k, d) {
		const char *path = str(d, "path_on_host");
		int r = path ? fc_check_file(path, !json_is_true(json_object_get(d, "is_read_only")))
			     : 0;

		if (r < 0) {
			fc_reply_fault(rep, 400, BUILD_ERR "Block: Virtio backend error: Error "
				       "manipulating the backing file: %s (os error %d) %s",
				       strerror(-r), -r, path);
			return r;
		}
	}
	json_object_foreach(json_object_get(state, "network-interfaces"), k, d) {
		snprintf(sys, sizeof(sys), "/sys/class/net/%s", str(d, "host_dev_name"));
		if (v->check_tap && access(sys, F_OK) < 0) {
			fc_reply_fault(rep, 400, BUILD_ERR "Net: Open tap device failed: no host "
				       "device %s (FC_FAKE_CHECK_TAP)", str(d, "host_dev_name"));
			return -ENOENT;
		}
	}
	return 0;
}

static int open_vsock(struct fc_vmm *v, json_t *state, struct fc_reply *rep)
{
	json_t *vsock = json_object_get(json_object_get(state, "resources"), "vsock");
	char why[512];
	int r;

	if (!vsock)
		return 0;
	r = fc_vsock_open(&v->vsock, str(vsock, "uds_path"));
	if (r < 0)
		fc_reply_fault(rep, 400, BUILD_ERR "Vsock: %s",
			       fc_vsock_bind_error(r, why, sizeof(why)));
	return r;
}

static json_t *restored_machine(json_t *state, json_t *body)
{
	json_t *m = json_deep_copy(json_object_get(state, "machine-config"));
	bool dirty = json_is_true(json_object_get(body, "track_dirty_pages")) ||
		     json_is_true(json_object_get(body, "enable_diff_snapshots"));

	json_object_set_new(m, "track_dirty_pages", json_boolean(dirty));
	json_object_del(m, "cpu_template"); /* not restored (GET /vm/config's note) */
	return m;
}

static void take(json_t **dst, json_t *state, const char *key)
{
	json_t *val = json_object_get(state, key);

	json_decref(*dst);
	*dst = json_is_object(val) ? json_incref(val) : json_object();
}

/* The VM becomes the snapshot's (boot-source empty, as upstream's). */
static void adopt(struct fc_vmm *v, json_t *state, json_t *body)
{
	json_t *res = json_object_get(state, "resources"), *r;
	const char *k;

	json_decref(v->machine);
	v->machine = restored_machine(state, body);
	json_decref(v->boot);
	v->boot = json_pack("{s:s}", "kernel_image_path", "");
	take(&v->drives, state, "drives");
	take(&v->ifaces, state, "network-interfaces");
	take(&v->pmem, state, "pmem");
	json_object_foreach(res, k, r)
		json_object_set(v->resources, k, r);
	fc_guest_restore(&v->guest_os, json_object_get(state, "guest"));
	v->state = json_is_true(json_object_get(body, "resume_vm")) ? FC_RUNNING : FC_PAUSED;
}

/* 0, or fills rep: the restore failed and the process must end. */
static int restore(struct fc_vmm *v, json_t *body, struct fc_reply *rep)
{
	json_t *state = read_state(str(body, "snapshot_path"), rep);
	int r = state ? 0 : -EINVAL;

	if (r == 0)
		r = apply_overrides(state, body, rep);
	if (r == 0)
		r = check_memory(json_object_get(state, "machine-config"), body, rep);
	if (r == 0)
		r = check_devices(v, state, rep);
	if (r == 0)
		r = open_vsock(v, state, rep);
	if (r == 0)
		adopt(v, state, body);
	json_decref(state);
	return r;
}

void fc_op_snapshot_load(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *mb = json_object_get(call->body, "mem_backend");

	if (v->boot_path) {
		fc_info("Loading a microVM snapshot not allowed after configuring boot-specific "
			"resources.");
		fc_reply_fault(rep, 400, "Load snapshot error: Loading a microVM snapshot not "
			       "allowed after configuring boot-specific resources.");
		return;
	}
	if (mb && strcmp(str(mb, "backend_type"), "Uffd") == 0) {
		fc_reply_fault(rep, 400, "fake firecracker: mem_backend Uffd is not supported by "
			       "the fake (use File).");
		return;
	}
	if (restore(v, call->body, rep) < 0) {
		fc_error("fake: the snapshot load failed: Firecracker ends the process");
		fc_vmm_schedule_exit(v, 0, 1, "snapshot load failed");
		return;
	}
	fc_info("fake: snapshot %s loaded, the microVM is %s", str(call->body, "snapshot_path"),
		fc_vmm_state_name(v->state));
	fc_vmm_started(v);
	fc_reply_set(rep, 204, NULL);
}
