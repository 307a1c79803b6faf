/*
 * test_config.c — ui_config_load: a file that sets every field, the embedded
 * defaults, and one case per kind of bad file, each asserting the exact
 * "file:line:col: message" the operator would see.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "t.h"

static char tmpdir[PATH_MAX]; /* canonical: the loader realpath()s it */
static char cfgpath[PATH_MAX + 32];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	T_ASSERT(f);
	T_ASSERT(fputs(text, f) >= 0);
	T_ASSERT(fclose(f) == 0);
}

static void cleanup(void)
{
	char p[PATH_MAX + 16];

	if (!tmpdir[0])
		return;
	unlink(cfgpath);
	snprintf(p, sizeof(p), "%s/etc", tmpdir);
	rmdir(p);
	rmdir(tmpdir);
}

/* Writes yaml to <tmpdir>/etc/uigniter.yaml and returns that path. */
static const char *write_cfg(const char *yaml)
{
	char tmpl[] = "/tmp/test_config.XXXXXX", etc[PATH_MAX + 8];

	if (!tmpdir[0]) {
		T_ASSERT(mkdtemp(tmpl));
		T_ASSERT(realpath(tmpl, tmpdir));
		snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
		T_ASSERT(mkdir(etc, 0755) == 0);
		atexit(cleanup);
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/etc/uigniter.yaml", tmpdir);
	write_file(cfgpath, yaml);
	return cfgpath;
}

/* Loads yaml, expects -EINVAL and exactly "<file>:<where_msg>". */
static void expect_error(const char *yaml, const char *where_msg)
{
	struct ui_config cfg;
	char err[512], want[PATH_MAX + 512];
	const char *path = write_cfg(yaml);
	int r = ui_config_load(path, &cfg, err, sizeof(err));

	snprintf(want, sizeof(want), "%s:%s", path, where_msg);
	if (r != -EINVAL)
		T_FAIL("load returned %d (%s), expected -EINVAL with\n  %s", r, err, want);
	T_EQ_STR(err, want);
	T_ASSERT(cfg.images == NULL && cfg.n_images == 0);
}

static const char good_yaml[] =
	"# every field set\n"
	"state_dir: ../state\n"
	"run_dir: /tmp/uig-run/\n"
	"log_level: debug\n"
	"log_format: json\n"
	"shutdown_policy: stop\n"
	"api:\n"
	"  listen: [\"0.0.0.0:7777\", \"unix:sock/api.sock\"]\n"
	"network:\n"
	"  bridge: br-test\n"
	"  subnet: 10.20.0.0/16\n"
	"  gateway: 10.20.255.254\n"
	"  tap_prefix: t-\n"
	"  tap_stock: 0\n"
	"vmm:\n"
	"  driver: qemu\n"
	"  user: vmm-test_1\n"
	"  image_dirs: [../build/guest, /images, /boot]\n"
	"  qemu: ./bin/qemu\n"
	"  firecracker: /opt/fc/firecracker\n"
	"  accel: tcg\n"
	"  stop_timeout_ms: 1500\n"
	"  boot_timeout_ms: 30000\n"
	"  cgroup: v1\n"
	"  cgroup_root: cg\n"
	"  mem_overhead_mib: 48\n"
	"  pids_max: 99\n"
	"pool:\n"
	"  size: 3\n"
	"  warm_image: hello\n"
	"  max_mem_mib: 512\n"
	"limits:\n"
	"  max_vms: 10\n"
	"  max_body_bytes: 2048\n"
	"  max_header_bytes: 4096\n"
	"  request_timeout_ms: 500\n"
	"  run_timeout_ms: 90000\n"
	"  max_conns_tcp: 200\n"
	"  max_conns_unix: 8\n"
	"  idle_timeout_ms: 5000\n"
	"  keep_stopped: 50\n"
	"  ready_timeout_ms: 30000\n"
	"  console_bytes: 131072\n"
	"images:\n"
	"  hello:\n"
	"    kernel: ../build/guest/vmlinuz\n"
	"    initrd: ../build/./guest//initrd.cpio.gz\n"
	"    rootfs: /images/root.ext4\n"
	"    boot_args: \"quiet loglevel=1\"\n"
	"    vcpus: 2\n"
	"    mem_mib: 256\n"
	"    guest_ip: osv\n"
	"    ready_pattern: READY-NOW\n"
	"    ready_port: 8080\n"
	"    ready_http: /healthz?deep=1\n"
	"  tiny.v2_x-y:\n"
	"    kernel: /boot/vmlinuz\n";

static void t_good_file(void)
{
	struct ui_config cfg;
	const struct ui_image *img;
	char err[512], want[PATH_MAX + 64];
	int r = ui_config_load(write_cfg(good_yaml), &cfg, err, sizeof(err));

	if (r != 0)
		T_FAIL("load: %d %s", r, err);
	T_EQ_STR(cfg.path, cfgpath);
	snprintf(want, sizeof(want), "%s/state", tmpdir);
	T_EQ_STR(cfg.state_dir, want);
	T_EQ_STR(cfg.run_dir, "/tmp/uig-run");
	T_EQ_INT(cfg.log_level, UI_LOG_DEBUG);
	T_EQ_INT(cfg.log_format, UI_LOG_JSON);
	T_EQ_INT(cfg.shutdown_policy, UI_SHUTDOWN_STOP);
	T_EQ_STR(cfg.api_tcp, "0.0.0.0:7777");
	snprintf(want, sizeof(want), "%s/etc/sock/api.sock", tmpdir);
	T_EQ_STR(cfg.api_unix, want);
	T_EQ_STR(cfg.bridge, "br-test");
	T_EQ_INT(cfg.subnet, 0x0a140000);
	T_EQ_INT(cfg.prefix_len, 16);
	T_EQ_INT(cfg.gateway, 0x0a14fffe);
	T_EQ_STR(cfg.tap_prefix, "t-");
	T_EQ_INT(cfg.tap_stock, 0);
	T_EQ_INT(cfg.driver, UI_DRIVER_QEMU);
	snprintf(want, sizeof(want), "%s/etc/bin/qemu", tmpdir);
	T_EQ_STR(cfg.qemu_bin, want);
	T_EQ_STR(cfg.firecracker_bin, "/opt/fc/firecracker");
	T_EQ_INT(cfg.accel, UI_ACCEL_TCG);
	T_EQ_INT(cfg.stop_timeout_ms, 1500);
	T_EQ_INT(cfg.boot_timeout_ms, 30000);
	T_EQ_INT(cfg.cgroup, UI_CGROUP_V1);
	snprintf(want, sizeof(want), "%s/etc/cg", tmpdir);
	T_EQ_STR(cfg.cgroup_root, want);
	T_EQ_INT(cfg.mem_overhead_mib, 48);
	T_EQ_INT(cfg.pids_max, 99);
	T_EQ_INT(cfg.pool_size, 3);
	T_EQ_STR(cfg.warm_image, "hello");
	T_EQ_INT(cfg.pool_max_mem_mib, 512);
	T_EQ_INT(cfg.max_vms, 10);
	T_EQ_INT(cfg.max_body_bytes, 2048);
	T_EQ_INT(cfg.max_header_bytes, 4096);
	T_EQ_INT(cfg.request_timeout_ms, 500);
	T_EQ_INT(cfg.run_timeout_ms, 90000);
	T_EQ_INT(cfg.max_conns_tcp, 200);
	T_EQ_INT(cfg.max_conns_unix, 8);
	T_EQ_INT(cfg.idle_timeout_ms, 5000);
	T_EQ_INT(cfg.keep_stopped, 50);
	T_EQ_INT(cfg.ready_timeout_ms, 30000);
	T_EQ_INT(cfg.console_bytes, 131072);

	T_EQ_INT(cfg.n_images, 2);
	T_ASSERT((img = ui_config_image(&cfg, "hello")) == &cfg.images[0]);
	T_EQ_STR(img->name, "hello");
	snprintf(want, sizeof(want), "%s/build/guest/vmlinuz", tmpdir);
	T_EQ_STR(img->kernel, want);
	snprintf(want, sizeof(want), "%s/build/guest/initrd.cpio.gz", tmpdir);
	T_EQ_STR(img->initrd, want);
	T_EQ_STR(img->rootfs, "/images/root.ext4");
	T_EQ_STR(img->boot_args, "quiet loglevel=1");
	T_EQ_INT(img->vcpus, 2);
	T_EQ_INT(img->mem_mib, 256);
	T_EQ_INT(img->guest_ip, UI_GUEST_IP_OSV);
	T_EQ_STR(img->ready_pattern, "READY-NOW");
	T_EQ_INT(img->ready_port, 8080);
	T_EQ_STR(img->ready_http, "/healthz?deep=1");

	/* the second image takes the image defaults */
	T_ASSERT((img = ui_config_image(&cfg, "tiny.v2_x-y")) == &cfg.images[1]);
	T_EQ_STR(img->kernel, "/boot/vmlinuz");
	T_EQ_STR(img->initrd, "");
	T_EQ_STR(img->rootfs, "");
	T_EQ_STR(img->boot_args, "console=ttyS0 reboot=k panic=-1");
	T_EQ_INT(img->vcpus, 1);
	T_EQ_INT(img->mem_mib, 128);
	T_EQ_INT(img->guest_ip, UI_GUEST_IP_LINUX);
	T_EQ_STR(img->ready_pattern, "UIGNITER-READY");
	T_EQ_INT(img->ready_port, 0);
	T_ASSERT(ui_config_image(&cfg, "nope") == NULL);

	char buf[PATH_MAX + 32];
	ui_config_registry_path(&cfg, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s/state/registry.db", tmpdir);
	T_EQ_STR(buf, want);
	ui_config_free(&cfg);
	T_ASSERT(cfg.images == NULL);
	ui_config_free(&cfg); /* twice is fine */
	ui_config_free(NULL);
}

static void check_defaults(const struct ui_config *cfg)
{
	T_EQ_STR(cfg->state_dir, "/var/lib/uigniter");
	T_EQ_STR(cfg->run_dir, "/run/uigniter");
	T_EQ_INT(cfg->log_level, UI_LOG_INFO);
	T_EQ_INT(cfg->log_format, UI_LOG_TEXT);
	T_EQ_INT(cfg->shutdown_policy, UI_SHUTDOWN_LEAVE);
	T_EQ_STR(cfg->api_tcp, "127.0.0.1:6666");
	T_EQ_STR(cfg->api_unix, "/run/uigniter/api.sock");
	T_EQ_STR(cfg->api_token_file, "/var/lib/uigniter/api.token");
	T_EQ_STR(cfg->api_group, "");
	T_EQ_INT(cfg->api_gid, 0);
	T_EQ_INT(ui_config_umask(cfg), 0077);
	T_EQ_STR(cfg->bridge, "uigniter0");
	T_EQ_INT(cfg->subnet, 0xac1f0000);
	T_EQ_INT(cfg->prefix_len, 24);
	T_EQ_INT(cfg->gateway, 0xac1f0001);
	T_EQ_STR(cfg->tap_prefix, "uit-");
	T_EQ_INT(cfg->tap_stock, 8);
	T_EQ_INT(cfg->driver, UI_DRIVER_AUTO);
	T_EQ_STR(cfg->qemu_bin, "qemu-system-x86_64");
	T_EQ_STR(cfg->firecracker_bin, "firecracker");
	T_EQ_INT(cfg->accel, UI_ACCEL_AUTO);
	T_EQ_INT(cfg->stop_timeout_ms, 10000);
	T_EQ_INT(cfg->boot_timeout_ms, 20000);
	T_EQ_INT(cfg->cgroup, UI_CGROUP_AUTO);
	T_EQ_STR(cfg->cgroup_root, "");
	T_EQ_INT(cfg->mem_overhead_mib, 96);
	T_EQ_INT(cfg->pids_max, 256);
	T_EQ_INT(cfg->pool_size, 0);
	T_EQ_STR(cfg->warm_image, "");
	T_EQ_INT(cfg->pool_max_mem_mib, 0);
	T_EQ_INT(cfg->max_vms, 64);
	T_EQ_INT(cfg->max_body_bytes, 65536);
	T_EQ_INT(cfg->max_header_bytes, 16384);
	T_EQ_INT(cfg->request_timeout_ms, 10000);
	T_EQ_INT(cfg->run_timeout_ms, 60000);
	T_EQ_INT(cfg->max_conns_tcp, 1024);
	T_EQ_INT(cfg->max_conns_unix, 64);
	T_EQ_INT(cfg->idle_timeout_ms, 30000);
	T_EQ_INT(cfg->keep_stopped, 10000);
	T_EQ_INT(cfg->ready_timeout_ms, 60000);
	T_EQ_INT(cfg->console_bytes, 1048576);
	T_ASSERT(cfg->images == NULL);
	T_EQ_INT(cfg->n_images, 0);
}

static void t_defaults(void)
{
	struct ui_config cfg;
	char err[512], buf[PATH_MAX + 32];

	memset(&cfg, 0xa5, sizeof(cfg));
	ui_config_defaults(&cfg);
	check_defaults(&cfg);
	T_EQ_STR(cfg.path, "");
	ui_config_registry_path(&cfg, buf, sizeof(buf));
	T_EQ_STR(buf, "/var/lib/uigniter/registry.db");

	/* an empty file, and one of only comments, are all defaults */
	memset(&cfg, 0xa5, sizeof(cfg));
	T_EQ_INT(ui_config_load(write_cfg(""), &cfg, err, sizeof(err)), 0);
	check_defaults(&cfg);
	T_EQ_STR(cfg.path, cfgpath);
	T_EQ_INT(ui_config_load(write_cfg("# nothing\n\n"), &cfg, err, sizeof(err)), 0);
	check_defaults(&cfg);
	/* empty sections are allowed too */
	T_EQ_INT(ui_config_load(write_cfg("network:\nimages:\nvmm: {}\n"), &cfg, err,
				sizeof(err)), 0);
	check_defaults(&cfg);
}

/* The unix socket and the gateway follow run_dir and subnet unless set. */
static void t_derived_defaults(void)
{
	struct ui_config cfg;
	char err[512];

	T_EQ_INT(ui_config_load(write_cfg("run_dir: /srv/run\nnetwork:\n  subnet: 192.168.8.0/22\n"),
				&cfg, err, sizeof(err)), 0);
	T_EQ_STR(cfg.api_unix, "/srv/run/api.sock");
	T_EQ_STR(cfg.api_tcp, "127.0.0.1:6666");
	T_EQ_INT(cfg.gateway, 0xc0a80801);
	/* listen given: only what it names */
	T_EQ_INT(ui_config_load(write_cfg("run_dir: /srv/run\napi:\n  listen: [\"127.0.0.1:80\"]\n"),
				&cfg, err, sizeof(err)), 0);
	T_EQ_STR(cfg.api_tcp, "127.0.0.1:80");
	T_EQ_STR(cfg.api_unix, "");
	T_EQ_INT(ui_config_load(write_cfg("api:\n  listen: [\"unix:/a.sock\"]\n"), &cfg, err,
				sizeof(err)), 0);
	T_EQ_STR(cfg.api_tcp, "");
	T_EQ_STR(cfg.api_unix, "/a.sock");
	T_EQ_INT(ui_config_load(write_cfg("api:\n  listen: []\n"), &cfg, err, sizeof(err)), 0);
	T_EQ_STR(cfg.api_tcp, "");
	T_EQ_STR(cfg.api_unix, "");
}

static void t_missing_file(void)
{
	struct ui_config cfg;
	char err[512];

	T_EQ_INT(ui_config_load("/nonexistent/uigniter.yaml", &cfg, err, sizeof(err)), -ENOENT);
	T_EQ_STR(err, "/nonexistent/uigniter.yaml: No such file or directory");
	T_ASSERT(cfg.images == NULL);
	T_EQ_INT(ui_config_load("/tmp", &cfg, err, sizeof(err)), -EISDIR);
	T_EQ_STR(err, "/tmp: Is a directory");
}

static void t_syntax_error(void)
{
	expect_error("state_dir: /x\n  bad: indent\n",
		     "2:6: YAML syntax error: mapping values are not allowed in this context");
	expect_error("a: 1\nb\nc: 2\n",
		     "3:1: YAML syntax error: could not find expected ':'"
		     " (while scanning a simple key at line 2, column 1)");
	expect_error("api:\n  listen: [\"x\"\n",
		     "3:1: YAML syntax error: did not find expected ',' or ']'"
		     " (while parsing a flow sequence at line 2, column 11)");
	expect_error("state_dir: \"\xff\"\n",
		     "1:13: YAML syntax error: invalid leading UTF-8 octet");
	expect_error("state_dir: /a\n---\nstate_dir: /b\n",
		     "2:1: only one YAML document is allowed");
}

static void t_wrong_type(void)
{
	expect_error("- a\n- b\n", "1:1: top level: expected a mapping, found a list");
	expect_error("just a string\n", "1:1: top level: expected a mapping, found a scalar");
	expect_error("network: 12\n", "1:10: network: expected a mapping, found a scalar");
	expect_error("network:\n  bridge: [a, b]\n",
		     "2:11: network.bridge: expected a scalar, found a list");
	expect_error("api:\n  listen: \"127.0.0.1:1\"\n",
		     "2:11: api.listen: expected a list, found a scalar");
	expect_error("api:\n  listen:\n    - {a: 1}\n",
		     "3:7: api.listen[0]: expected a scalar, found a mapping");
	expect_error("images:\n  hello: [1]\n",
		     "2:10: images.hello: expected a mapping, found a list");
	expect_error("images: [hello]\n", "1:9: images: expected a mapping, found a list");
	expect_error("? [a]\n: 1\n", "1:3: top level: expected a scalar key, found a list");
	expect_error("state_dir: \"/a\\0b\"\n", "1:12: state_dir: contains a NUL character");
}

static void t_unknown_key(void)
{
	expect_error("state_dir: /x\nstatedir: /y\n",
		     "2:1: unknown key \"statedir\" at top level (expected one of: state_dir, "
		     "run_dir, images_dir, log_level, log_format, shutdown_policy, api, network, vmm, pool, limits, images)");
	expect_error("network:\n  bridge: b\n  bridg: c\n",
		     "3:3: unknown key \"bridg\" in network (expected one of: bridge, subnet, "
		     "gateway, tap_prefix, tap_stock)");
	expect_error("images:\n  hello:\n    kernel: /k\n    memory: 5\n",
		     "4:5: unknown key \"memory\" in images.hello (expected one of: kernel, initrd, "
		     "rootfs, boot_args, vcpus, mem_mib, guest_ip, ready_pattern, ready_port, ready_http, kind, disk, disk_format, cmd, machine, stop, allow_cmd)");
}

/* ready_http: a path, on a port. */
static void t_bad_ready_http(void)
{
	expect_error("images:\n  h:\n    kernel: /k\n    ready_port: 80\n    ready_http: healthz\n",
		     "5:17: images.h.ready_http: must be a path starting with '/' (e.g. /healthz)");
	expect_error("images:\n  h:\n    kernel: /k\n    ready_port: 80\n    ready_http: \"/a b\"\n",
		     "5:17: images.h.ready_http: no spaces or control characters in a path (at offset 2)");
	expect_error("images:\n  h:\n    kernel: /k\n    ready_http: /\n",
		     "4:17: images.h.ready_http: needs ready_port (the port to GET it on)");
}

static void t_bad_integer(void)
{
	expect_error("limits:\n  max_vms: lots\n",
		     "2:12: limits.max_vms: \"lots\" is not a number (expected an integer in 1..4096)");
	expect_error("limits:\n  max_vms: -1\n",
		     "2:12: limits.max_vms: \"-1\" is not a number (expected an integer in 1..4096)");
	expect_error("limits:\n  max_vms: 0\n",
		     "2:12: limits.max_vms: 0 is out of range (expected an integer in 1..4096)");
	expect_error("limits:\n  keep_stopped: 0\n",
		     "2:17: limits.keep_stopped: 0 is out of range (expected an integer in 1..100000000)");
	expect_error("vmm:\n  stop_timeout_ms: 99999999999999999999999\n",
		     "2:20: vmm.stop_timeout_ms: 99999999999999999999999 is out of range "
		     "(expected an integer in 100..3600000)");
	expect_error("images:\n  x:\n    kernel: /k\n    vcpus: 33\n",
		     "4:12: images.x.vcpus: 33 is out of range (expected an integer in 1..32)");
	expect_error("pool:\n  size: 1.5\n",
		     "2:9: pool.size: \"1.5\" is not a number (expected an integer in 0..256)");
	expect_error("pool:\n  max_mem_mib: -5\n",
		     "2:16: pool.max_mem_mib: \"-5\" is not a number (expected an integer in 0..1048576)");
}

static void t_bad_enum(void)
{
	expect_error("log_level: verbose\n",
		     "1:12: log_level: \"verbose\" is not one of: debug, info, warn, error");
	expect_error("log_format: xml\n",
		     "1:13: log_format: \"xml\" is not one of: text, json");
	expect_error("limits:\n  console_bytes: 100\n",
		     "2:18: limits.console_bytes: 100 is out of range (expected an integer in "
		     "4096..1073741824)");
	expect_error("vmm:\n  driver: kvm\n",
		     "2:11: vmm.driver: \"kvm\" is not one of: auto, firecracker, qemu");
	expect_error("vmm:\n  accel: hvf\n",
		     "2:10: vmm.accel: \"hvf\" is not one of: auto, kvm, tcg");
	expect_error("vmm:\n  cgroup: v3\n",
		     "2:11: vmm.cgroup: \"v3\" is not one of: auto, v2, v1, off");
	expect_error("vmm:\n  pids_max: 2\n",
		     "2:13: vmm.pids_max: 2 is out of range (expected an integer in 8..1000000)");
	expect_error("shutdown_policy: kill\n",
		     "1:18: shutdown_policy: \"kill\" is not one of: leave, stop");
	expect_error("images:\n  x:\n    kernel: /k\n    guest_ip: windows\n",
		     "4:15: images.x.guest_ip: \"windows\" is not one of: linux, osv, none");
}

static void t_bad_subnet(void)
{
	expect_error("network:\n  subnet: 10.0.0.0\n",
		     "2:11: network.subnet: \"10.0.0.0\" is not an IPv4 subnet like 172.31.0.0/24");
	expect_error("network:\n  subnet: 10.0.0/24\n",
		     "2:11: network.subnet: \"10.0.0/24\" is not an IPv4 subnet like 172.31.0.0/24");
	expect_error("network:\n  subnet: 10.0.0.0/8\n",
		     "2:11: network.subnet: prefix length /8 is out of range (16..30)");
	expect_error("network:\n  subnet: 10.0.0.0/31\n",
		     "2:11: network.subnet: prefix length /31 is out of range (16..30)");
	expect_error("network:\n  subnet: 10.0.3.1/22\n",
		     "2:11: network.subnet: 10.0.3.1/22 has host bits set (did you mean 10.0.0.0/22?)");
}

static void t_bad_gateway(void)
{
	expect_error("network:\n  gateway: gw\n",
		     "2:12: network.gateway: \"gw\" is not an IPv4 address");
	/* checked against the subnet whatever the key order */
	expect_error("network:\n  gateway: 10.0.1.1\n  subnet: 10.0.0.0/24\n",
		     "2:12: network.gateway: 10.0.1.1 is outside the subnet 10.0.0.0/24");
	expect_error("network:\n  gateway: 172.31.0.1\n  subnet: 10.0.0.0/24\n",
		     "2:12: network.gateway: 172.31.0.1 is outside the subnet 10.0.0.0/24");
	expect_error("network:\n  subnet: 10.0.0.0/24\n  gateway: 10.0.0.0\n",
		     "3:12: network.gateway: 10.0.0.0 is the network address of 10.0.0.0/24");
	expect_error("network:\n  subnet: 10.0.0.0/24\n  gateway: 10.0.0.255\n",
		     "3:12: network.gateway: 10.0.0.255 is the broadcast address of 10.0.0.0/24");
}

static void t_duplicate_key(void)
{
	expect_error("state_dir: /a\nrun_dir: /r\nstate_dir: /b\n",
		     "3:1: duplicate key \"state_dir\" at top level (first at line 1)");
	expect_error("vmm:\n  qemu: q\n  qemu: r\n",
		     "3:3: duplicate key \"qemu\" in vmm (first at line 2)");
	expect_error("images:\n  a:\n    kernel: /k\n    kernel: /l\n",
		     "4:5: duplicate key \"kernel\" in images.a (first at line 3)");
}

static void t_duplicate_image(void)
{
	expect_error("images:\n  hello:\n    kernel: /a\n  other:\n    kernel: /b\n"
		     "  hello:\n    kernel: /c\n",
		     "6:3: duplicate image \"hello\" (first at line 2)");
}

static void t_bad_image_name(void)
{
	expect_error("images:\n  \"my image\":\n    kernel: /a\n",
		     "2:3: images: bad image name \"my image\" (1..63 characters of a-z A-Z 0-9 _ . -)");
}

static void t_image_without_kernel(void)
{
	expect_error("images:\n  hello:\n    initrd: /i\n    vcpus: 2\n",
		     "3:5: images.hello: \"kernel\" is required");
	expect_error("images:\n  hello:\n", "2:3: images.hello: \"kernel\" is required");
	expect_error("images:\n  hello:\n    kernel: \"\"\n",
		     "3:13: images.hello.kernel: must not be empty");
}

static void t_unknown_warm_image(void)
{
	expect_error("pool:\n  warm_image: helo\nimages:\n  hello:\n    kernel: /k\n",
		     "2:15: pool.warm_image: no image named \"helo\" in images");
	expect_error("pool:\n  warm_image: \"a b\"\n",
		     "2:15: pool.warm_image: \"a b\" is not a valid image name");
}

/* pool.boot: snapshot is both drivers' (qemu: a migration stream;
 * firecracker: /snapshot/create and /snapshot/load): no error with either,
 * in either order. */
static void t_pool_boot_snapshot(void)
{
	static const char *const texts[] = {
		"pool:\n  boot: snapshot\nvmm:\n  driver: qemu\n",
		"pool:\n  boot: snapshot\n",
		"pool:\n  boot: snapshot\nvmm:\n  driver: firecracker\n",
		"vmm:\n  driver: firecracker\npool:\n  boot: snapshot\n",
	};
	struct ui_config cfg;
	char err[512];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *path = write_cfg(texts[i]);

		err[0] = '\0';
		T_EQ_INT(ui_config_load(path, &cfg, err, sizeof(err)), 0);
		T_EQ_STR(err, "");
		T_EQ_INT(cfg.pool_boot, UI_POOL_BOOT_SNAPSHOT);
		ui_config_free(&cfg);
	}
	expect_error("pool:\n  boot: later\n",
		     "2:9: pool.boot: \"later\" is not one of: prepared, ahead, snapshot");
}

/* vmm.user and vmm.image_dirs: a kernel, initrd or rootfs outside every
 * image directory is refused at its own key, a symlink out of one too. */
static void t_vmm_priv(void)
{
	struct ui_config cfg;
	char yaml[2 * PATH_MAX], msg[PATH_MAX + 256], link[PATH_MAX + 32];
	const char *path;
	int n;

	expect_error("vmm:\n  user: Root\n",
		     "2:9: vmm.user: \"Root\" is not a user name ([a-z_][a-z0-9_-]*, at most 32 bytes)");
	expect_error("vmm:\n  image_dirs: []\n",
		     "2:15: vmm.image_dirs: must list at least one directory");
	expect_error("vmm:\n  image_dirs: /img\n",
		     "2:15: vmm.image_dirs: expected a list, found a scalar");
	expect_error("vmm:\n  image_dirs: [/img]\nimages:\n  a:\n    kernel: /img/k\n"
		     "    initrd: /etc/shadow\n",
		     "6:13: images.a.initrd: /etc/shadow is outside every image directory "
		     "(vmm.image_dirs: /img)");
	expect_error("vmm:\n  image_dirs: [/img, /other]\nimages:\n  a:\n    kernel: /img/../etc/k\n",
		     "5:13: images.a.kernel: /etc/k is outside every image directory "
		     "(vmm.image_dirs: /img, /other)");
	expect_error("vmm:\n  image_dirs: [/img]\nimages:\n  a:\n    kernel: /imgx/k\n",
		     "5:13: images.a.kernel: /imgx/k is outside every image directory "
		     "(vmm.image_dirs: /img)");
	/* the default: <state_dir>/images */
	n = (int)readlink("/proc/self/exe", link, sizeof(link) - 1);
	T_ASSERT(n > 0);
	link[n] = '\0';
	*strrchr(link, '/') = '\0';
	*strrchr(link, '/') = '\0'; /* build/tests/test_config -> build */
	snprintf(msg, sizeof(msg), "4:13: images.a.kernel: /srv/k is outside every image "
		 "directory (vmm.image_dirs: /srv/u/images, %s/guest)", link);
	expect_error("state_dir: /srv/u\nimages:\n  a:\n    kernel: /srv/k\n", msg);
	/* a symlink inside an image directory pointing out of it */
	path = write_cfg("x: 1\n"); /* only for its directory */
	n = snprintf(link, sizeof(link), "%.*s/evil", (int)(strrchr(path, '/') - path), path);
	T_ASSERT(n > 0 && (size_t)n < sizeof(link));
	(void)unlink(link);
	T_ASSERT(symlink("/etc/hostname", link) == 0);
	snprintf(yaml, sizeof(yaml), "vmm:\n  image_dirs: [.]\nimages:\n  a:\n    kernel: evil\n");
	path = write_cfg(yaml);
	T_ASSERT(ui_config_load(path, &cfg, msg, sizeof(msg)) == -EINVAL);
	T_ASSERT(strstr(msg, ":5:13: images.a.kernel: ") && strstr(msg, "/evil is outside"));
	T_ASSERT(unlink(link) == 0);
	/* an image of images_dir: refused at its own file's line */
	path = write_cfg("images_dir: imgs2\nvmm:\n  image_dirs: [/img]\n");
	snprintf(yaml, sizeof(yaml), "%s/etc/imgs2", tmpdir);
	T_ASSERT(mkdir(yaml, 0755) == 0);
	snprintf(link, sizeof(link), "%s/etc/imgs2/evil.yaml", tmpdir);
	write_file(link, "evil:\n  kernel: /etc/hostname\n");
	T_ASSERT(ui_config_load(path, &cfg, msg, sizeof(msg)) == -EINVAL);
	snprintf(yaml, sizeof(yaml), "%s:2:11: images.evil.kernel: /etc/hostname is outside every "
		 "image directory (vmm.image_dirs: /img)", link);
	T_EQ_STR(msg, yaml);
	T_ASSERT(unlink(link) == 0);
	/* inside: loads, and the defaults */
	path = write_cfg("vmm:\n  image_dirs: [/img]\nimages:\n  a:\n    kernel: /img/k\n");
	T_ASSERT(ui_config_load(path, &cfg, msg, sizeof(msg)) == 0);
	T_EQ_STR(cfg.vmm_user, "uigniter-vmm");
	T_ASSERT(cfg.n_image_dirs == 1);
	T_EQ_STR(cfg.image_dirs[0], "/img");
	T_EQ_STR(cfg.jailer_bin, "");
	T_EQ_STR(cfg.chroot_base, "/run/uigniter/jail");
	ui_config_free(&cfg);
}

/* The documented example loads, with its vmm: keys. */
static void t_example_file(void)
{
	char self[PATH_MAX], path[PATH_MAX + 32], err[512];
	struct ui_config cfg;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	T_ASSERT(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	*strrchr(self, '/') = '\0'; /* build/tests/test_config -> build */
	*strrchr(self, '/') = '\0'; /* -> the repo */
	snprintf(path, sizeof(path), "%s/etc/uigniter.yaml", self);
	if (access(path, R_OK) != 0 && !realpath("etc/uigniter.yaml", path)) /* BUILD elsewhere */
		T_SKIP("etc/uigniter.yaml not found beside the build or in the current directory");
	if (ui_config_load(path, &cfg, err, sizeof(err)) != 0)
		T_FAIL("%s", err);
	T_EQ_STR(cfg.vmm_user, "uigniter-vmm");
	T_ASSERT(cfg.n_image_dirs == 2);
	T_EQ_STR(cfg.image_dirs[0], "/var/lib/uigniter/images");
	/* "../build/guest/": make install rewrites it to the installed guest */
	T_ASSERT(strlen(cfg.image_dirs[1]) > 12);
	T_EQ_STR(cfg.image_dirs[1] + strlen(cfg.image_dirs[1]) - 12, "/build/guest");
	ui_config_free(&cfg);
}

static void t_too_long(void)
{
	char yaml[PATH_MAX + 256], longp[PATH_MAX + 8], msg[256];

	expect_error("network:\n  bridge: abcdefghijklmnop\n",
		     "2:11: network.bridge: too long (16 bytes, at most 15)");
	expect_error("network:\n  tap_prefix: abcdefgh\n",
		     "2:15: network.tap_prefix: too long (8 bytes, at most 7)");
	expect_error("network:\n  tap_prefix: TAP\n",
		     "2:15: network.tap_prefix: \"TAP\" may only use a-z, 0-9 and '-'");
	expect_error("network:\n  bridge: \"\"\n", "2:11: network.bridge: must not be empty");
	expect_error("network:\n  bridge: a/b\n",
		     "2:11: network.bridge: \"a/b\" is not a valid interface name");

	memset(longp, 'x', PATH_MAX);
	longp[0] = '/';
	longp[PATH_MAX] = '\0';
	snprintf(yaml, sizeof(yaml), "images:\n  a:\n    kernel: %s\n", longp);
	snprintf(msg, sizeof(msg), "3:13: images.a.kernel: path too long (at most %d bytes once resolved)",
		 PATH_MAX - 1);
	expect_error(yaml, msg);
	/* relative paths count once resolved against the file's directory */
	snprintf(yaml, sizeof(yaml), "state_dir: %s\n", longp + PATH_MAX - 4090);
	snprintf(msg, sizeof(msg), "1:12: state_dir: path too long (at most %d bytes once resolved)",
		 PATH_MAX - 1);
	expect_error(yaml, msg);

	memset(longp, 'y', 200);
	longp[200] = '\0';
	snprintf(yaml, sizeof(yaml), "api:\n  listen: [\"unix:/%s\"]\n", longp);
	expect_error(yaml, "2:12: api.listen[0]: socket path too long (201 bytes, at most 107)");
	snprintf(yaml, sizeof(yaml), "run_dir: /%s\n", longp);
	expect_error(yaml, "1:10: run_dir: too long for the API socket <run_dir>/api.sock "
			   "(at most 107 bytes); set api.listen");
}

/* api.token_file follows state_dir; "" only on loopback; api.group resolves. */
static void t_api_auth(void)
{
	struct ui_config cfg;
	char err[512], want[PATH_MAX + 16];

	T_EQ_INT(ui_config_load(write_cfg("state_dir: /srv/st/\n"), &cfg, err, sizeof(err)), 0);
	T_EQ_STR(cfg.api_token_file, "/srv/st/api.token");
	T_EQ_INT(ui_config_load(write_cfg("api:\n  token_file: tok\n  group: root\n"), &cfg, err,
				sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/etc/tok", tmpdir);
	T_EQ_STR(cfg.api_token_file, want);
	T_EQ_STR(cfg.api_group, "root");
	T_EQ_INT(cfg.api_gid, 0);
	T_EQ_INT(ui_config_umask(&cfg), 0027);
	/* no token: loopback only, refused at the listen entry */
	T_EQ_INT(ui_config_load(write_cfg("api:\n  token_file: \"\"\n"), &cfg, err, sizeof(err)), 0);
	T_EQ_STR(cfg.api_token_file, "");
	T_EQ_INT(ui_config_load(write_cfg("api:\n  token_file: \"\"\n  listen: [\"127.9.0.1:1\"]\n"),
				&cfg, err, sizeof(err)), 0);
	expect_error("api:\n  token_file: \"\"\n  listen: [\"unix:/a\", \"0.0.0.0:6666\"]\n",
		     "3:23: api.listen: 0.0.0.0:6666 is not a loopback address and api.token_file "
		     "is \"\": a TCP listener beyond 127.0.0.0/8 needs a token (remove "
		     "api.token_file: \"\")");
	expect_error("api:\n  listen: [\"10.1.2.3:6666\"]\n  token_file:\n",
		     "2:12: api.listen: 10.1.2.3:6666 is not a loopback address and api.token_file "
		     "is \"\": a TCP listener beyond 127.0.0.0/8 needs a token (remove "
		     "api.token_file: \"\")");
	expect_error("api:\n  group: no-such-group-uigt\n",
		     "2:10: api.group: no group named \"no-such-group-uigt\"");
	ui_config_free(&cfg);
}

static void t_bad_listen(void)
{
	expect_error("api:\n  listen: [\"localhost:6666\"]\n",
		     "2:12: api.listen[0]: \"localhost:6666\" is neither IPv4 host:port "
		     "(like 127.0.0.1:6666) nor unix:PATH");
	expect_error("api:\n  listen: [\"127.0.0.1:0\"]\n",
		     "2:12: api.listen[0]: \"127.0.0.1:0\" is neither IPv4 host:port "
		     "(like 127.0.0.1:6666) nor unix:PATH");
	expect_error("api:\n  listen:\n    - unix:/a\n    - \"127.0.0.1:1\"\n    - unix:/b\n",
		     "5:7: api.listen[2]: only one unix: address is allowed");
	expect_error("api:\n  listen: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n",
		     "2:27: api.listen[1]: only one TCP address is allowed");
	expect_error("api:\n  listen: [\"unix:\"]\n",
		     "2:12: api.listen[0]: \"unix:\" needs a socket path");
}

static void t_shm_name(void)
{
	struct ui_config cfg;
	char a[64], b[64];

	ui_config_defaults(&cfg);
	ui_config_shm_name(&cfg, a, sizeof(a));
	T_EQ_INT(strlen(a), strlen("/uigniter-") + 16);
	T_ASSERT(strncmp(a, "/uigniter-", 10) == 0);
	T_ASSERT(strspn(a + 10, "0123456789abcdef") == 16);
	/* FNV-1a 64 of "" is the offset basis */
	cfg.state_dir[0] = '\0';
	ui_config_shm_name(&cfg, b, sizeof(b));
	T_EQ_STR(b, "/uigniter-cbf29ce484222325");
	/* FNV-1a 64 of "a" (published test vector) */
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "a");
	ui_config_shm_name(&cfg, b, sizeof(b));
	T_EQ_STR(b, "/uigniter-af63dc4c8601ec8c");
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "/var/lib/uigniter");
	ui_config_shm_name(&cfg, b, sizeof(b));
	T_EQ_STR(a, b);
}

/* ui_config_load_text: the same rules from memory, named as the caller says. */
static void t_load_text(void)
{
	static const char bad[] = "state_dir: /x\n  bad: indent\n";
	struct ui_config cfg;
	char err[512];

	T_EQ_INT(ui_config_load_text("mem.yaml", "/srv/uig/etc", good_yaml, strlen(good_yaml),
				     &cfg, err, sizeof(err)), 0);
	T_EQ_STR(err, "");
	T_EQ_STR(cfg.path, "mem.yaml");
	T_EQ_STR(cfg.state_dir, "/srv/uig/state");
	T_EQ_INT(cfg.n_images, 2);
	T_EQ_STR(cfg.images[0].kernel, "/srv/uig/build/guest/vmlinuz");
	T_EQ_INT(cfg.pool_size, 3);
	ui_config_free(&cfg);
	T_EQ_INT(ui_config_load_text("mem.yaml", "/", bad, strlen(bad), &cfg, err, sizeof(err)),
		 -EINVAL);
	T_EQ_STR(err, "mem.yaml:2:6: YAML syntax error: mapping values are not allowed in "
		      "this context");
	T_ASSERT(cfg.images == NULL);
	/* Only len bytes are read: the rest of the buffer is not YAML. */
	T_EQ_INT(ui_config_load_text("mem.yaml", "/", "log_level: warn\n\x01", 16, &cfg, err,
				     sizeof(err)), 0);
	T_EQ_INT(cfg.log_level, UI_LOG_WARN);
	ui_config_free(&cfg);
	T_EQ_INT(ui_config_load_text("mem.yaml", "rel", "", 0, &cfg, err, sizeof(err)), -EINVAL);
	T_ASSERT(strstr(err, "mem.yaml: "));
}

/* images_dir: one image per file, after the file's images:, sorted; a name
 * both define is an error naming both files; SIGHUP's reload swaps them. */
static void t_images_dir(void)
{
	struct ui_config cfg;
	char dir[PATH_MAX + 16], a[PATH_MAX + 32], b[PATH_MAX + 32], want[3 * PATH_MAX];
	char err[1024];
	const char *path = write_cfg("images_dir: imgs\nvmm: {image_dirs: [/]}\n"
				     "images:\n  hello: {kernel: /k}\n");

	snprintf(dir, sizeof(dir), "%s/etc/imgs", tmpdir);
	T_ASSERT(mkdir(dir, 0755) == 0);
	snprintf(a, sizeof(a), "%s/app.yaml", dir);
	snprintf(b, sizeof(b), "%s/dup.yaml", dir);
	write_file(a, "app:\n  kernel: /k2\n  kind: linux\n  cmd: [/bin/app, \"-x\", \"y z\"]\n");
	T_EQ_INT(ui_config_load(path, &cfg, err, sizeof(err)), 0);
	T_EQ_INT(cfg.n_images, 2);
	T_EQ_STR(cfg.images[0].source, path);
	T_EQ_STR(cfg.images[1].name, "app");
	T_EQ_STR(cfg.images[1].source, a);
	T_EQ_INT(cfg.images[1].cmd.argc, 3);
	T_ASSERT(!memcmp(cfg.images[1].cmd.buf, "/bin/app\0-x\0y z\0", 16));
	write_file(b, "hello: {kernel: /k3}\n");
	T_EQ_INT(ui_config_reload_images(&cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:1: image \"hello\" is already defined in %s", b, path);
	T_EQ_STR(err, want);
	T_EQ_INT(cfg.n_images, 2); /* unchanged */
	write_file(b, "other: {kernel: /k3}\n");
	T_EQ_INT(ui_config_reload_images(&cfg, err, sizeof(err)), 0);
	T_EQ_INT(cfg.n_images, 3);
	T_EQ_INT(cfg.n_retired, 1);
	ui_config_free(&cfg);
	write_file(b, "x: {kernel: /k, kind: osv}\n");
	T_EQ_INT(ui_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:4: x: \"cmd\" is required for kind: osv", b);
	T_EQ_STR(err, want);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

/* Configs without state_dir read the default one's images
 * (/var/lib/uigniter/images): on a host that has run uigniter they would
 * hold that host's images. As root, these tests see an empty directory
 * there instead (a private mount namespace, a tmpfs over it); as anyone
 * else the directory is root's 0750 one, unreadable, so it holds nothing. */
static void hermetic(void)
{
	struct stat st;

	if (stat("/var/lib/uigniter", &st) < 0 || unshare(CLONE_NEWNS) < 0)
		return;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("test_config", "/var/lib/uigniter", "tmpfs", 0, "mode=0750") < 0) {
		perror("test_config: a private /var/lib/uigniter");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_good_file),
		T_CASE(t_defaults),
		T_CASE(t_derived_defaults),
		T_CASE(t_missing_file),
		T_CASE(t_syntax_error),
		T_CASE(t_wrong_type),
		T_CASE(t_unknown_key),
		T_CASE(t_bad_ready_http),
		T_CASE(t_bad_integer),
		T_CASE(t_bad_enum),
		T_CASE(t_bad_subnet),
		T_CASE(t_bad_gateway),
		T_CASE(t_duplicate_key),
		T_CASE(t_duplicate_image),
		T_CASE(t_bad_image_name),
		T_CASE(t_image_without_kernel),
		T_CASE(t_unknown_warm_image),
		T_CASE(t_pool_boot_snapshot),
		T_CASE(t_vmm_priv),
		T_CASE(t_example_file),
		T_CASE(t_too_long),
		T_CASE(t_bad_listen),
		T_CASE(t_api_auth),
		T_CASE(t_shm_name),
		T_CASE(t_load_text),
		T_CASE(t_images_dir),
		{ 0 },
	};

	hermetic();
	return t_run(argc, argv, cases);
}
