/*
 * fc_devices.c — the effect of each configuration call on the fake VMM
 * (see fc_vmm.h), after the body passed the contract and the phase rule.
 *
 * Semantic rules Firecracker applies beyond the schema, reproduced here:
 *  - boot-source: kernel_image_path (and initrd_path) must open for reading;
 *  - drives: exactly one of path_on_host / socket; path_on_host must open
 *    (read-write unless is_read_only); only one root device;
 *  - network-interfaces: guest_mac is a MAC address; guest_mac and
 *    host_dev_name not already used by another interface; with
 *    FC_FAKE_CHECK_TAP=1 the host device must exist (/sys/class/net);
 *  - machine-config: vcpu_count 1..32, 1 or even with smt, mem_size_mib > 0
 *    (and even with 2M huge pages); PUT resets unspecified fields to their
 *    defaults, PATCH changes only what it names and must name something;
 *  - logger / metrics: the target file must already exist and open for
 *    writing (Firecracker does not create it); metrics only once; the
 *    logger's log_path becomes where the fake writes its human log;
 *  - mmds/config: every network interface it names must exist;
 *  - PATCH /mmds needs PUT /mmds first.
 * Files are checked again at InstanceStart (fc_vmm_check_boot_files).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fc_log.h"
#include "fc_vmm.h"

int fc_check_file(const char *path, bool writable)
{
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int check_kernel(const char *path, struct fc_reply *rep)
{
	int r = fc_check_file(path, false);

	if (r < 0)
		fc_reply_fault(rep, 400, "The kernel file cannot be opened: %s (os error %d): %s",
			       strerror(-r), -r, path);
	return r;
}

static int check_initrd(const char *path, struct fc_reply *rep)
{
	int r = path ? fc_check_file(path, false) : 0;

	if (r < 0)
		fc_reply_fault(rep, 400, "The initrd file cannot be opened: %s (os error %d): %s",
			       strerror(-r), -r, path);
	return r;
}

static int check_drive_file(json_t *d, struct fc_reply *rep)
{
	const char *path = str(d, "path_on_host");
	int r;

	if (!path)
		return 0;
	r = fc_check_file(path, !json_is_true(json_object_get(d, "is_read_only")));
	if (r < 0)
		fc_reply_fault(rep, 400, "Unable to create the block device: Virtio backend error: "
			       "Error manipulating the backing file: %s (os error %d) %s",
			       strerror(-r), -r, path);
	return r;
}

int fc_vmm_check_boot_files(struct fc_vmm *v, struct fc_reply *rep)
{
	const char *k;
	json_t *d;

	if (check_kernel(str(v->boot, "kernel_image_path"), rep) < 0 ||
	    check_initrd(str(v->boot, "initrd_path"), rep) < 0)
		return -ENOENT;
	json_object_foreach(v->drives, k, d)
		if (check_drive_file(d, rep) < 0)
			return -ENOENT;
	return 0;
}

void fc_op_put_boot_source(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	if (check_kernel(str(call->body, "kernel_image_path"), rep) < 0 ||
	    check_initrd(str(call->body, "initrd_path"), rep) < 0)
		return;
	json_decref(v->boot);
	v->boot = json_deep_copy(call->body);
	fc_reply_set(rep, 204, NULL);
}

/* True if another drive (not id) is the root device. */
static bool other_root(struct fc_vmm *v, const char *id)
{
	const char *k;
	json_t *d;

	json_object_foreach(v->drives, k, d)
		if (strcmp(k, id) != 0 && json_is_true(json_object_get(d, "is_root_device")))
			return true;
	return false;
}

void fc_op_put_drive(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *b = call->body;
	const char *id = str(b, "drive_id");
	bool has_path = str(b, "path_on_host") != NULL, has_sock = str(b, "socket") != NULL;

	if (has_path == has_sock) {
		fc_reply_fault(rep, 400, "Unable to create the block device: exactly one of "
			       "path_on_host (virtio-block) or socket (vhost-user-block) is needed.");
		return;
	}
	if (json_is_true(json_object_get(b, "is_root_device")) && other_root(v, id)) {
		fc_reply_fault(rep, 400, "A root block device already exists!");
		return;
	}
	if (check_drive_file(b, rep) < 0)
		return;
	json_object_set_new(v->drives, id, json_deep_copy(b));
	fc_reply_set(rep, 204, NULL);
}

void fc_op_patch_drive(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *id = str(call->body, "drive_id");
	json_t *d = json_object_get(v->drives, id), *merged;

	if (!d) {
		fc_reply_fault(rep, 400, "Unable to patch the block device: Invalid block device "
			       "ID: %s", id);
		return;
	}
	merged = json_deep_copy(d);
	json_object_update(merged, call->body);
	if (check_drive_file(merged, rep) == 0) {
		json_object_set_new(v->drives, id, merged);
		fc_reply_set(rep, 204, NULL);
		return;
	}
	json_decref(merged);
}

/* "xx:xx:xx:xx:xx:xx", hex digits of either case. */
static bool is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The iface (other than id) already using value for key, or NULL. */
static const char *iface_using(struct fc_vmm *v, const char *id, const char *key, const char *value)
{
	const char *k;
	json_t *n;

	json_object_foreach(v->ifaces, k, n) {
		const char *other = str(n, key);

		if (strcmp(k, id) != 0 && other && strcasecmp(other, value) == 0)
			return k;
	}
	return NULL;
}

static int check_iface(struct fc_vmm *v, json_t *b, struct fc_reply *rep)
{
	const char *id = str(b, "iface_id"), *mac = str(b, "guest_mac");
	const char *dev = str(b, "host_dev_name");
	char sys[512];

	if (mac && !is_mac(mac)) {
		fc_reply_fault(rep, 400, "An error occurred when deserializing the json body of a "
			       "request: Invalid MAC address: %s.", mac);
		return -EINVAL;
	}
	if (mac && iface_using(v, id, "guest_mac", mac)) {
		fc_reply_fault(rep, 400, "The MAC address is already in use: %s", mac);
		return -EEXIST;
	}
	if (iface_using(v, id, "host_dev_name", dev)) {
		fc_reply_fault(rep, 400, "Could not create the network device: the host device "
			       "%s is already used by another interface", dev);
		return -EEXIST;
	}
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", dev);
	if (v->check_tap && access(sys, F_OK) < 0) {
		fc_reply_fault(rep, 400, "Could not create the network device: Open tap device "
			       "failed: no host device %s (FC_FAKE_CHECK_TAP)", dev);
		return -ENOENT;
	}
	return 0;
}

void fc_op_put_iface(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	if (check_iface(v, call->body, rep) < 0)
		return;
	json_object_set_new(v->ifaces, str(call->body, "iface_id"), json_deep_copy(call->body));
	fc_reply_set(rep, 204, NULL);
}

void fc_op_patch_iface(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *id = str(call->body, "iface_id");

	if (!json_object_get(v->ifaces, id)) {
		fc_reply_fault(rep, 400, "Could not update the network device: Invalid network "
			       "interface ID: %s", id);
		return;
	}
	fc_reply_set(rep, 204, NULL);
}

static int check_machine(json_t *m, struct fc_reply *rep)
{
	json_int_t vcpus = json_integer_value(json_object_get(m, "vcpu_count"));
	json_int_t mem = json_integer_value(json_object_get(m, "mem_size_mib"));
	bool smt = json_is_true(json_object_get(m, "smt"));
	const char *huge = str(m, "huge_pages");

	if (vcpus < 1 || vcpus > 32 || (smt && vcpus > 1 && vcpus % 2)) {
		fc_reply_fault(rep, 400, "The vCPU number is invalid! The vCPU number can only "
			       "be 1 or an even number when SMT is enabled.");
		return -EINVAL;
	}
	if (mem < 1 || (huge && strcmp(huge, "2M") == 0 && mem % 2)) {
		fc_reply_fault(rep, 400, "The memory size (MiB) is either 0, or not a multiple "
			       "of the configured page size.");
		return -EINVAL;
	}
	return 0;
}

static void set_machine(struct fc_vmm *v, json_t *m, struct fc_reply *rep)
{
	if (check_machine(m, rep) < 0) {
		json_decref(m);
		return;
	}
	json_decref(v->machine);
	v->machine = m;
	fc_reply_set(rep, 204, NULL);
}

void fc_op_put_machine(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *m = json_pack("{s:b, s:b, s:s}", "smt", 0, "track_dirty_pages", 0,
			      "huge_pages", "None");

	json_object_update(m, call->body);
	set_machine(v, m, rep);
}

void fc_op_patch_machine(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *m;

	if (json_object_size(call->body) == 0) {
		fc_reply_fault(rep, 400, "Empty PATCH request.");
		return;
	}
	m = json_deep_copy(v->machine);
	json_object_update(m, call->body);
	set_machine(v, m, rep);
}

/* The key under which GET /vm/config shows a singleton resource. */
static const char *resource_key(const char *tmpl)
{
	static const char *const map[][2] = {
		{ "/logger", "logger" }, { "/metrics", "metrics" }, { "/vsock", "vsock" },
		{ "/balloon", "balloon" }, { "/entropy", "entropy" },
		{ "/cpu-config", "cpu-config" }, { "/mmds/config", "mmds-config" },
		{ "/hotplug/memory", "memory-hotplug" }, { "/serial", "serial" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], tmpl) == 0)
			return map[i][1];
	return tmpl;
}

void fc_op_put_resource(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *key = resource_key(call->tmpl);
	json_t *cur = json_object_get(v->resources, key);

	if (strcmp(call->method, "PATCH") == 0) {
		if (!cur) {
			fc_reply_fault(rep, 400, "No balloon device found.");
			return;
		}
		json_object_update(cur, call->body);
	} else {
		json_object_set_new(v->resources, key, json_deep_copy(call->body));
	}
	fc_reply_set(rep, 204, NULL);
}

/* Opens an existing file for appending, as Firecracker's logger/metrics do. */
static int open_target(const char *path, struct fc_reply *rep)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC), e = errno;

	if (fd >= 0)
		return fd;
	fc_reply_fault(rep, 400, "Failed to open target file: %s (os error %d): %s",
		       strerror(e), e, path);
	return -e;
}

void fc_op_put_logger(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *path = str(call->body, "log_path");
	int fd = -1;

	if (path && (fd = open_target(path, rep)) < 0)
		return;
	if (fd >= 0) {
		fc_info("fake: the log now goes to %s", path);
		fc_log_set_fd(fd);
	}
	fc_op_put_resource(v, call, rep);
}

void fc_op_put_metrics(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	int fd;

	if (json_object_get(v->resources, "metrics")) {
		fc_reply_fault(rep, 400, "Reinitialization of metrics not allowed.");
		return;
	}
	fd = open_target(str(call->body, "metrics_path"), rep);
	if (fd < 0)
		return;
	close(fd);
	fc_op_put_resource(v, call, rep);
}

void fc_op_put_mmds_config(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *ids = json_object_get(call->body, "network_interfaces"), *id;
	size_t i;

	if (json_array_size(ids) == 0) {
		fc_reply_fault(rep, 400, "The list of network interface IDs that allow forwarding "
			       "MMDS requests is empty.");
		return;
	}
	json_array_foreach(ids, i, id) {
		if (!json_object_get(v->ifaces, json_string_value(id))) {
			fc_reply_fault(rep, 400, "The list of network interface IDs provided contains "
				       "at least one ID that does not correspond to any existing "
				       "network interface.");
			return;
		}
	}
	fc_op_put_resource(v, call, rep);
}

void fc_op_put_pmem(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *path = str(call->body, "path_on_host");
	int r = fc_check_file(path, !json_is_true(json_object_get(call->body, "read_only")));

	if (r < 0) {
		fc_reply_fault(rep, 400, "Error backing file: %s (os error %d): %s",
			       strerror(-r), -r, path);
		return;
	}
	json_object_set_new(v->pmem, str(call->body, "id"), json_deep_copy(call->body));
	fc_reply_set(rep, 204, NULL);
}

void fc_op_get_balloon(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_t *b = json_object_get(v->resources, "balloon");

	(void)call;
	if (!b) {
		fc_reply_fault(rep, 400, "No balloon device found.");
		return;
	}
	fc_reply_set(rep, 200, json_deep_copy(b));
}

void fc_op_get_mmds(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	(void)call;
	fc_reply_set(rep, 200, v->mmds ? json_deep_copy(v->mmds) : json_object());
}

void fc_op_put_mmds(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	json_decref(v->mmds);
	v->mmds = json_deep_copy(call->body);
	fc_reply_set(rep, 204, NULL);
}

/* RFC 7396 JSON merge patch: null deletes, objects merge, the rest replaces. */
static void merge_patch(json_t *target, json_t *patch)
{
	const char *k;
	json_t *pv;

	json_object_foreach(patch, k, pv) {
		json_t *tv = json_object_get(target, k);

		if (json_is_null(pv))
			json_object_del(target, k);
		else if (json_is_object(pv) && json_is_object(tv))
			merge_patch(tv, pv);
		else
			json_object_set_new(target, k, json_deep_copy(pv));
	}
}

void fc_op_patch_mmds(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	if (!v->mmds) {
		fc_reply_fault(rep, 400, "The MMDS data store is not initialized.");
		return;
	}
	merge_patch(v->mmds, call->body);
	fc_reply_set(rep, 204, NULL);
}
