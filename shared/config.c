/*
 * config.c — loads the operator's YAML file (see config.h) over the embedded
 * defaults with libyaml's document API.
 *
 * Shape: the file is read whole (at most 1 MiB), parsed into a yaml_document,
 * then walked against a fixed schema of section tables (struct cfg_section,
 * below): each field names its key, a parse function, an offset into the
 * target struct and its limits. This file owns the schema, the walk over
 * mappings (an unknown, duplicate or non-scalar key is reported at the key),
 * the cross-field rules, reading the file and the public API. The field
 * parsers and checks, path resolution and the "file:line:col: message"
 * format live in config_fields.c; config_int.h is the contract between the
 * two. libyaml codes never leave these files: every failure is -EINVAL (bad
 * file), -ENOMEM, or the errno of the read.
 *
 * Cross-field rules run after the walk, in finish(): the gateway defaults to
 * subnet+1 and must lie inside the subnet; pool.warm_image must name an
 * image; api_unix follows run_dir unless api.listen was given, and
 * api_token_file state_dir unless api.token_file was; a TCP listener beyond
 * loopback needs a token file.
 *
 * Paths: locate() fills ld->dir, the realpath of the file's directory, which
 * the path fields resolve against (config_fields.c).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdargs.h"
#include "config_int.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=-1"
#define DEFAULT_READY_PATTERN "UIGNITER-READY" /* what tools/guest/init prints */

/* The two parsers the tables name that belong to the walk (below). */
static int parse_section(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f);
static int parse_images(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct cfg_field *f);

/* ---- schema ----------------------------------------------------------- */

#define OFF(m) offsetof(struct ui_config, m)
#define SZ(m) sizeof(((struct ui_config *)0)->m)
#define STR(k, m, minlen, chk) { k, cfg_parse_str, OFF(m), SZ(m), minlen, 0, NULL, NULL, chk }
#define PATHF(k, m, fn) { k, fn, OFF(m), SZ(m), 1, 0, NULL, NULL, NULL }
#define UINTF(k, m, lo, hi) { k, cfg_parse_uint, OFF(m), SZ(m), lo, hi, NULL, NULL, NULL }
#define ENUMF(k, m, names) { k, cfg_parse_enum, OFF(m), SZ(m), 0, 0, names, NULL, NULL }
#define SPECIAL(k, fn) { k, fn, 0, 0, 0, 0, NULL, NULL, NULL }
#define SECTION(k, sec) { k, parse_section, 0, 0, 0, 0, NULL, &sec, NULL }
#define END { NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL }

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };
static const char *const shutdown_policies[] = { "leave", "stop", NULL };
static const char *const pool_boots[] = { "prepared", "ahead", "snapshot", NULL };
static const char *const drivers[] = { "auto", "firecracker", "qemu", NULL };
static const char *const accels[] = { "auto", "kvm", "tcg", NULL };
static const char *const cgroups[] = { "auto", "v2", "v1", "off", NULL };
static const char *const guest_ips[] = { "linux", "osv", "none", NULL };
static const char *const kinds[] = { "linux", "osv", NULL };
static const char *const disk_formats[] = { "raw", "qcow2", NULL };
static const char *const machines[] = { "auto", "microvm", "q35", NULL };
static const char *const stops[] = { "auto", "powerdown", "kill", NULL };
static const char *const osv_fses[] = { "rofs", "zfs", "ramfs", "virtiofs", NULL };

static const struct cfg_section api_section = { (const struct cfg_field[]){
	SPECIAL("listen", cfg_parse_listen),
	{ "token_file", cfg_parse_token_file, OFF(api_token_file), SZ(api_token_file), 0, 0,
	  NULL, NULL, NULL },
	{ "group", cfg_parse_group, OFF(api_group), SZ(api_group), 0, 0, NULL, NULL, NULL },
	END,
} };

static const struct cfg_section network_section = { (const struct cfg_field[]){
	STR("bridge", bridge, 1, cfg_check_ifname),
	SPECIAL("subnet", cfg_parse_subnet),
	SPECIAL("gateway", cfg_parse_gateway),
	STR("tap_prefix", tap_prefix, 1, cfg_check_tap_prefix),
	UINTF("tap_stock", tap_stock, 0, 1024),
	END,
} };

static const struct cfg_section vmm_section = { (const struct cfg_field[]){
	ENUMF("driver", driver, drivers),
	PATHF("qemu", qemu_bin, cfg_parse_prog),
	PATHF("firecracker", firecracker_bin, cfg_parse_prog),
	ENUMF("accel", accel, accels),
	UINTF("stop_timeout_ms", stop_timeout_ms, 100, 3600000),
	UINTF("boot_timeout_ms", boot_timeout_ms, 100, 3600000),
	ENUMF("cgroup", cgroup, cgroups),
	PATHF("cgroup_root", cgroup_root, cfg_parse_path),
	UINTF("mem_overhead_mib", mem_overhead_mib, 0, 65536),
	UINTF("pids_max", pids_max, 8, 1000000),
	STR("user", vmm_user, 1, cfg_check_user),
	PATHF("jailer", jailer_bin, cfg_parse_path),
	PATHF("chroot_base", chroot_base, cfg_parse_path),
	SPECIAL("image_dirs", cfg_parse_image_dirs),
	END,
} };

static const struct cfg_section pool_section = { (const struct cfg_field[]){
	UINTF("size", pool_size, 0, 256),
	{ "warm_image", cfg_parse_warm_image, OFF(warm_image), SZ(warm_image), 0, 0, NULL, NULL,
	  cfg_check_image_name },
	{ "boot", cfg_parse_pool_boot, OFF(pool_boot), SZ(pool_boot), 0, 0, pool_boots, NULL, NULL },
	UINTF("max_mem_mib", pool_max_mem_mib, 0, 1048576),
	END,
} };

static const struct cfg_section limits_section = { (const struct cfg_field[]){
	UINTF("max_vms", max_vms, 1, 4096),
	UINTF("max_body_bytes", max_body_bytes, 1024, 16777216),
	UINTF("max_header_bytes", max_header_bytes, 1024, 1048576),
	UINTF("request_timeout_ms", request_timeout_ms, 100, 3600000),
	UINTF("run_timeout_ms", run_timeout_ms, 100, 3600000),
	UINTF("max_conns_tcp", max_conns_tcp, 1, 1000000),
	UINTF("max_conns_unix", max_conns_unix, 1, 100000),
	UINTF("idle_timeout_ms", idle_timeout_ms, 100, 3600000),
	UINTF("keep_stopped", keep_stopped, 1, 100000000),
	UINTF("ready_timeout_ms", ready_timeout_ms, 100, 3600000),
	UINTF("console_bytes", console_bytes, 4096, 1073741824),
	END,
} };

static const struct cfg_section top_section = { (const struct cfg_field[]){
	PATHF("state_dir", state_dir, cfg_parse_path),
	PATHF("run_dir", run_dir, cfg_parse_run_dir),
	PATHF("images_dir", images_dir, cfg_parse_path),
	ENUMF("log_level", log_level, log_levels),
	ENUMF("log_format", log_format, log_formats),
	ENUMF("shutdown_policy", shutdown_policy, shutdown_policies),
	SECTION("api", api_section),
	SECTION("network", network_section),
	SECTION("vmm", vmm_section),
	SECTION("pool", pool_section),
	SECTION("limits", limits_section),
	SPECIAL("images", parse_images),
	END,
} };

#undef OFF
#undef SZ
#define OFF(m) offsetof(struct ui_image, m)
#define SZ(m) sizeof(((struct ui_image *)0)->m)

/* ready_http: a request target of one line, "/" first, no spaces. */
static int check_http_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			   const char *s)
{
	if (!s[0])
		return 0;
	if (s[0] != '/')
		return cfg_fail_at(ld, val, "%s: must be a path starting with '/' (e.g. /healthz)",
				   where);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return cfg_fail_at(ld, val,
					   "%s: no spaces or control characters in a path (at offset %zu)",
					   where, (size_t)(c - s));
	return 0;
}

static const struct cfg_section image_section = { (const struct cfg_field[]){
	PATHF("kernel", kernel, cfg_parse_path),
	{ "initrd", cfg_parse_path, OFF(initrd), SZ(initrd), 0, 0, NULL, NULL, NULL },
	{ "rootfs", cfg_parse_rootfs, OFF(rootfs), SZ(rootfs), 0, 0, NULL, NULL, NULL },
	STR("boot_args", boot_args, 0, NULL),
	UINTF("vcpus", vcpus, 1, 32),
	UINTF("mem_mib", mem_mib, 16, 65536),
	ENUMF("guest_ip", guest_ip, guest_ips),
	STR("ready_pattern", ready_pattern, 0, NULL),
	UINTF("ready_port", ready_port, 1, 65535),
	STR("ready_http", ready_http, 0, check_http_path),
	ENUMF("kind", kind, kinds),
	{ "disk", cfg_parse_disk, OFF(disk), SZ(disk), 1, 0, NULL, NULL, NULL },
	ENUMF("disk_format", disk_format, disk_formats),
	{ "cmd", cfg_parse_cmd, OFF(cmd), SZ(cmd), 0, 0, NULL, NULL, NULL },
	ENUMF("machine", machine, machines),
	ENUMF("stop", stop, stops),
	{ "allow_cmd", cfg_parse_bool, OFF(allow_cmd), SZ(allow_cmd), 0, 0, NULL, NULL, NULL },
	END,
} };

/* ---- the walk --------------------------------------------------------- */

static const struct cfg_field *find_field(const struct cfg_section *sec, const char *key)
{
	for (const struct cfg_field *f = sec->fields; f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

static int unknown_key(struct cfg_loader *ld, const char *where, const yaml_node_t *key,
		       const struct cfg_section *sec)
{
	char keys[512] = "", in[160];
	size_t n = 0;

	for (const struct cfg_field *f = sec->fields; f->key && n < sizeof(keys); f++)
		n += (size_t)snprintf(keys + n, sizeof(keys) - n, "%s%s",
				      f == sec->fields ? "" : ", ", f->key);
	return cfg_fail_at(ld, key, "unknown key \"%s\" %s (expected one of: %s)", cfg_scalar(key),
			   cfg_in_where(where, in, sizeof(in)), keys);
}

/* The earlier key node of mapping with the same text as pair p, or NULL. */
static const yaml_node_t *earlier_key(struct cfg_loader *ld, const yaml_node_t *map,
				      const yaml_node_pair_t *p)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);

	for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const yaml_node_t *k = yaml_document_get_node(&ld->doc, q->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(cfg_scalar(k), cfg_scalar(key)))
			return k;
	}
	return NULL;
}

/* Checks that a mapping key is a plain scalar, unique in its mapping. */
static int check_key(struct cfg_loader *ld, const char *where, const yaml_node_t *map,
		     const yaml_node_pair_t *p, const char *dup_what)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
	const yaml_node_t *first;
	char in[160];
	int r;

	if (key->type != YAML_SCALAR_NODE)
		return cfg_fail_at(ld, key, "%s: expected a scalar key, found %s",
				   *where ? where : "top level", cfg_kind_name(key));
	if ((r = cfg_expect_scalar(ld, *where ? where : "top level", key)) < 0)
		return r;
	if (!(first = earlier_key(ld, map, p)))
		return 0;
	if (dup_what)
		return cfg_fail_at(ld, key, "duplicate %s \"%s\" (first at line %zu)", dup_what,
				   cfg_scalar(key), first->start_mark.line + 1);
	return cfg_fail_at(ld, key, "duplicate key \"%s\" %s (first at line %zu)", cfg_scalar(key),
			   cfg_in_where(where, in, sizeof(in)), first->start_mark.line + 1);
}

/* Walks one mapping against sec, storing into base. A null value = {}. */
static int parse_mapping(struct cfg_loader *ld, const char *where, const yaml_node_t *node,
			 const struct cfg_section *sec, void *base)
{
	char child[256];
	int r;

	if (cfg_is_null(node))
		return 0;
	if ((r = cfg_expect_type(ld, *where ? where : "top level", node, YAML_MAPPING_NODE)) < 0)
		return r;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
		const yaml_node_t *val = yaml_document_get_node(&ld->doc, p->value);
		const struct cfg_field *f;

		if ((r = check_key(ld, where, node, p, NULL)) < 0)
			return r;
		if (!(f = find_field(sec, cfg_scalar(key))))
			return unknown_key(ld, where, key, sec);
		cfg_child_where(child, sizeof(child), where, f->key);
		if ((r = f->parse(ld, child, val, base, f)) < 0)
			return r;
	}
	return 0;
}

static int parse_section(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f)
{
	return parse_mapping(ld, where, val, f->sub, base);
}

static void image_defaults(struct ui_image *img, const char *name)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "%s", name);
	snprintf(img->boot_args, sizeof(img->boot_args), "%s", DEFAULT_BOOT_ARGS);
	img->vcpus = 1;
	img->mem_mib = 128;
	img->guest_ip = UI_GUEST_IP_LINUX;
	snprintf(img->ready_pattern, sizeof(img->ready_pattern), "%s", DEFAULT_READY_PATTERN);
	img->allow_cmd = true;
}

/* An OSv image's rootfs names a filesystem, not a path. */
static int finish_osv_rootfs(struct cfg_loader *ld, struct ui_image *img, const char *where)
{
	img->rootfs[0] = '\0';
	if (!ld->rootfs_node)
		return 0;
	for (int i = 0; osv_fses[i]; i++)
		if (!strcmp(ld->rootfs_raw, osv_fses[i])) {
			snprintf(img->osv_fs, sizeof(img->osv_fs), "%s", osv_fses[i]);
			return 0;
		}
	return cfg_fail_at(ld, ld->rootfs_node,
			   "%s.rootfs: \"%s\" is not an OSv filesystem (rofs, zfs, ramfs, virtiofs)",
			   where, ld->rootfs_raw);
}

/* The rules between an image's fields, once its mapping is read. */
static int finish_image(struct cfg_loader *ld, struct ui_image *img, const char *where,
			const yaml_node_t *at)
{
	char why[160];
	int r;

	if (img->kind == UI_KIND_OSV) {
		if (!strcmp(img->boot_args, DEFAULT_BOOT_ARGS)) /* Linux's: not for OSv */
			img->boot_args[0] = '\0';
		/* our init's line: OSv never prints it (no rule: ready as it runs) */
		if (!strcmp(img->ready_pattern, DEFAULT_READY_PATTERN))
			img->ready_pattern[0] = '\0';
		if ((r = finish_osv_rootfs(ld, img, where)) < 0)
			return r;
		if (img->initrd[0])
			return cfg_fail_at(ld, at, "%s: an OSv image has no initrd", where);
		if (!img->cmd.argc)
			return cfg_fail_at(ld, at, "%s: \"cmd\" is required for kind: osv", where);
		if ((r = cfg_check_disk_format(ld, img, where, at)) < 0)
			return r;
	} else if (ld->disk_node) {
		return cfg_fail_at(ld, ld->disk_node,
				   "%s.disk: only for kind: osv (a linux image's disk is rootfs)", where);
	}
	if (img->cmd.argc && ui_cmd_check(&img->cmd, img->kind, why, sizeof(why)) < 0)
		return cfg_fail_at(ld, ld->cmd_node, "%s.%s", where, why);
	if (img->ready_http[0] && !img->ready_port) {
		const yaml_node_t *n = cfg_map_get(ld, at, "ready_http");

		return cfg_fail_at(ld, n ? n : at, "%s.ready_http: needs ready_port (the port to GET it on)",
				   where);
	}
	return 0;
}

static int parse_image(struct cfg_loader *ld, const char *where, const yaml_node_t *map,
		       const yaml_node_pair_t *p)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
	const yaml_node_t *val = yaml_document_get_node(&ld->doc, p->value);
	struct ui_image *img = &ld->cfg->images[ld->cfg->n_images];
	char child[256];
	int r;

	if ((r = check_key(ld, where, map, p, "image")) < 0)
		return r;
	if (!cfg_valid_image_name(cfg_scalar(key)))
		return cfg_fail_at(ld, key,
				   "%s: bad image name \"%s\" (1..63 characters of a-z A-Z 0-9 _ . -)",
				   where, cfg_scalar(key));
	image_defaults(img, cfg_scalar(key));
	snprintf(img->source, sizeof(img->source), "%s", ld->file);
	ld->cfg->n_images++;
	cfg_child_where(child, sizeof(child), where, img->name);
	ld->rootfs_node = ld->cmd_node = ld->disk_node = NULL;
	if ((r = parse_mapping(ld, child, val, &image_section, img)) < 0)
		return r;
	if (!img->kernel[0])
		return cfg_fail_at(ld, val->type == YAML_MAPPING_NODE ? val : key,
				   "%s: \"kernel\" is required", child);
	return finish_image(ld, img, child, val->type == YAML_MAPPING_NODE ? val : key);
}

/* ---- images_dir ------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && !strcmp(n + len - 5, ".yaml");
}

/* The sorted *.yaml names of dir (malloc'd); *n = 0 when dir is absent. */
static int list_dir(struct cfg_loader *ld, const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, **nv;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		/* absent: no extra images. Unreadable: only a reader without
		 * root or api.group meets it (state_dir is 0750) — uictl, whose
		 * API commands need no image table; the daemons run as root. */
		if (errno == ENOENT || errno == EACCES)
			return 0;
		snprintf(ld->err, ld->errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d))) {
		if (!yaml_name(e->d_name))
			continue;
		if (!(nv = realloc(v, (cnt + 1) * sizeof(*v))) || !(nv[cnt] = strdup(e->d_name))) {
			v = nv ? nv : v;
			closedir(d);
			while (cnt)
				free(v[--cnt]);
			free(v);
			return -ENOMEM;
		}
		v = nv;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

/* Another image of the same name as the last one: both files named. */
static int check_unique(struct cfg_loader *ld, const yaml_node_t *key)
{
	const struct ui_config *cfg = ld->cfg;
	const struct ui_image *last = &cfg->images[cfg->n_images - 1];

	for (size_t i = 0; i + 1 < cfg->n_images; i++)
		if (!strcmp(cfg->images[i].name, last->name))
			return cfg_fail_at(ld, key, "image \"%s\" is already defined in %s",
					   last->name, cfg->images[i].source);
	return 0;
}

/* One file of images_dir: a mapping of exactly one name → image. */
static int load_image_file(struct cfg_loader *parent, const char *dir, const char *path)
{
	struct cfg_loader ld = { .file = path, .cfg = parent->cfg, .err = parent->err,
				 .errlen = parent->errlen };
	struct ui_config *cfg = parent->cfg;
	const yaml_node_t *root;
	struct ui_image *nv;
	char *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(ld.dir, sizeof(ld.dir), "%s", dir);
	if ((r = cfg_read_file(&ld, &buf, &len)) < 0)
		return r;
	if ((r = cfg_load_document(&ld, buf, len)) < 0)
		goto free_buf;
	root = yaml_document_get_root_node(&ld.doc);
	if (!root || root->type != YAML_MAPPING_NODE ||
	    root->data.mapping.pairs.top - root->data.mapping.pairs.start != 1) {
		r = root ? cfg_fail_at(&ld, root, "expected a mapping of one image name to its definition")
			 : (snprintf(ld.err, ld.errlen, "%s: empty; expected one image", path), -EINVAL);
		goto delete_doc;
	}
	if (!(nv = realloc(cfg->images, (cfg->n_images + 1) * sizeof(*nv)))) {
		r = -ENOMEM;
		goto delete_doc;
	}
	cfg->images = nv;
	if ((r = parse_image(&ld, "", root, root->data.mapping.pairs.start)) == 0)
		r = check_unique(&ld, yaml_document_get_node(&ld.doc,
							     root->data.mapping.pairs.start->key));
	if (r == 0) { /* its paths under vmm.image_dirs (config_vmm.c) */
		ld.image_dirs_set = true; /* the main file's, or their defaults */
		r = cfg_check_image(&ld, cfg->images[cfg->n_images - 1].name,
				    yaml_document_get_node(&ld.doc,
							   root->data.mapping.pairs.start->value));
	}
delete_doc:
	yaml_document_delete(&ld.doc);
free_buf:
	free(buf);
	return r;
}

/* Appends every image of images_dir (sorted by file name) to cfg->images. */
static int load_images_dir(struct cfg_loader *ld)
{
	char dir[PATH_MAX], real[PATH_MAX], path[PATH_MAX * 2];
	char **names;
	size_t n;
	int r;

	ui_config_images_dir(ld->cfg, dir, sizeof(dir));
	if ((r = list_dir(ld, dir, &names, &n)) < 0 || n == 0)
		return r;
	if (!realpath(dir, real)) {
		r = -errno;
		snprintf(ld->err, ld->errlen, "%s: %s", dir, strerror(errno));
		goto free_names;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", real, names[i]);
		r = load_image_file(ld, real, path);
	}
free_names:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* images: name → image mapping; cfg->images grows as each one parses. */
static int parse_images(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct cfg_field *f)
{
	struct ui_config *cfg = ld->cfg;
	size_t n;
	int r;

	(void)base, (void)f;
	if (cfg_is_null(val))
		return 0;
	if ((r = cfg_expect_type(ld, where, val, YAML_MAPPING_NODE)) < 0)
		return r;
	n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	free(cfg->images);
	cfg->n_images = 0;
	if (!(cfg->images = calloc(n ? n : 1, sizeof(*cfg->images))))
		return -ENOMEM;
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start;
	     p < val->data.mapping.pairs.top; p++) {
		if ((r = parse_image(ld, where, val, p)) < 0)
			return r;
		if (cfg->path[0]) /* canonical, as the file's messages are not */
			snprintf(cfg->images[cfg->n_images - 1].source, PATH_MAX, "%s", cfg->path);
	}
	return 0;
}

/* ---- after the walk --------------------------------------------------- */

static void fmt_ip(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int finish_gateway(struct cfg_loader *ld)
{
	struct ui_config *cfg = ld->cfg;
	uint32_t mask = ~0u << (32 - cfg->prefix_len);
	char gw[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	const char *what = NULL;

	if (!ld->gateway_set) {
		cfg->gateway = cfg->subnet + 1;
		return 0;
	}
	fmt_ip(cfg->gateway, gw);
	fmt_ip(cfg->subnet, net);
	if ((cfg->gateway & mask) != cfg->subnet)
		return cfg_fail_at(ld, ld->gateway_node, "network.gateway: %s is outside the subnet %s/%u",
				   gw, net, cfg->prefix_len);
	if (cfg->gateway == cfg->subnet)
		what = "network";
	else if (cfg->gateway == (cfg->subnet | ~mask))
		what = "broadcast";
	if (what)
		return cfg_fail_at(ld, ld->gateway_node, "network.gateway: %s is the %s address of %s/%u",
				   gw, what, net, cfg->prefix_len);
	return 0;
}

/* 127.0.0.0/8 (the only loopback of an IPv4 host:port). */
static bool tcp_is_loopback(const char *hostport)
{
	return !strncmp(hostport, "127.", 4);
}

/* The token file follows state_dir unless given; a TCP listener beyond
 * loopback without a token is refused at its api.listen entry. */
static int finish_api(struct cfg_loader *ld)
{
	struct ui_config *cfg = ld->cfg;
	size_t n = strlen(cfg->state_dir);
	int w;

	if (!ld->token_set) {
		w = snprintf(cfg->api_token_file, sizeof(cfg->api_token_file), "%s%sapi.token",
			     cfg->state_dir, n && cfg->state_dir[n - 1] == '/' ? "" : "/");
		if (w < 0 || (size_t)w >= sizeof(cfg->api_token_file)) {
			snprintf(ld->err, ld->errlen, "%s: state_dir: too long for "
				 "<state_dir>/api.token; set api.token_file", ld->file);
			return -EINVAL;
		}
	}
	if (cfg->api_tcp[0] && !cfg->api_token_file[0] && !tcp_is_loopback(cfg->api_tcp))
		return cfg_fail_at(ld, ld->tcp_node,
				   "api.listen: %s is not a loopback address and api.token_file is \"\": "
				   "a TCP listener beyond 127.0.0.0/8 needs a token (remove api.token_file: \"\")",
				   cfg->api_tcp);
	return 0;
}

static int finish(struct cfg_loader *ld)
{
	struct ui_config *cfg = ld->cfg;
	int r, n;

	if ((r = finish_gateway(ld)) < 0)
		return r;
	if ((r = finish_api(ld)) < 0)
		return r;
	if (cfg->warm_image[0] && !ui_config_image(cfg, cfg->warm_image))
		return cfg_fail_at(ld, ld->warm_node, "pool.warm_image: no image named \"%s\" in images",
				   cfg->warm_image);
	if ((r = cfg_finish_vmm(ld)) < 0)
		return r;
	if (ld->listen_set)
		return 0;
	n = snprintf(cfg->api_unix, sizeof(cfg->api_unix), "%s/api.sock", cfg->run_dir);
	if ((n < 0 || (size_t)n > CFG_UNIX_PATH_MAX_LEN) && ld->run_dir_node)
		return cfg_fail_at(ld, ld->run_dir_node,
				   "run_dir: too long for the API socket <run_dir>/api.sock (at most %zu bytes); set api.listen",
				   CFG_UNIX_PATH_MAX_LEN);
	return 0;
}

/* ---- reading and parsing ---------------------------------------------- */

static int io_fail(struct cfg_loader *ld, int err)
{
	snprintf(ld->err, ld->errlen, "%s: %s", ld->file, strerror(err));
	return -err;
}

/* Reads the whole file into *out (malloc'd) — at most CONFIG_MAX_BYTES. */
int cfg_read_file(struct cfg_loader *ld, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t got;
	int fd, r = 0;

	if ((fd = open(ld->file, O_RDONLY | O_CLOEXEC)) < 0)
		return io_fail(ld, errno);
	if (!(buf = malloc(CONFIG_MAX_BYTES + 1))) {
		r = -ENOMEM;
		goto close_fd;
	}
	while ((got = read(fd, buf + n, CONFIG_MAX_BYTES + 1 - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = io_fail(ld, errno);
			goto free_buf;
		}
		if ((n += (size_t)got) > CONFIG_MAX_BYTES) {
			snprintf(ld->err, ld->errlen, "%s: too large (at most %u bytes)", ld->file,
				 CONFIG_MAX_BYTES);
			r = -EFBIG;
			goto free_buf;
		}
	}
	*out = buf;
	*len = n;
	goto close_fd;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return r;
}

/* Fills ld->dir (canonical directory of the file) and cfg->path. */
static int locate(struct cfg_loader *ld)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(ld->file, '/'), *base;
	int n;

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
		base = ld->file;
	} else {
		n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ld->file), ld->file);
		if (slash == ld->file)
			snprintf(dir, sizeof(dir), "/");
		base = slash + 1;
	}
	if (!realpath(dir, ld->dir))
		return io_fail(ld, errno);
	n = snprintf(ld->cfg->path, sizeof(ld->cfg->path), "%s/%s",
		     strcmp(ld->dir, "/") ? ld->dir : "", base);
	if (n < 0 || (size_t)n >= sizeof(ld->cfg->path))
		return io_fail(ld, ENAMETOOLONG);
	return 0;
}

static int syntax_error(struct cfg_loader *ld, const yaml_parser_t *parser, const char *buf)
{
	yaml_mark_t m = parser->problem_mark;
	char ctx[160] = "";

	if (parser->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (parser->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a mark */
		m.line = m.column = 0;
		for (size_t i = 0; i < parser->problem_offset; i++, m.column++)
			if (buf[i] == '\n')
				m.line++, m.column = (size_t)-1;
	}
	if (parser->context)
		snprintf(ctx, sizeof(ctx), " (%s at line %zu, column %zu)", parser->context,
			 parser->context_mark.line + 1, parser->context_mark.column + 1);
	snprintf(ld->err, ld->errlen, "%s:%zu:%zu: YAML syntax error: %s%s", ld->file,
		 m.line + 1, m.column + 1, parser->problem ? parser->problem : "unknown", ctx);
	return -EINVAL;
}

/* Parses buf into ld->doc; a second document in the stream is an error. */
int cfg_load_document(struct cfg_loader *ld, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &ld->doc)) {
		r = syntax_error(ld, &parser, buf);
		goto delete_parser;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		r = syntax_error(ld, &parser, buf);
		goto delete_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		snprintf(ld->err, ld->errlen, "%s:%zu:%zu: only one YAML document is allowed",
			 ld->file, extra.start_mark.line + 1, extra.start_mark.column + 1);
		r = -EINVAL;
	}
	yaml_document_delete(&extra);
	if (r == 0)
		goto delete_parser;
delete_doc:
	yaml_document_delete(&ld->doc);
delete_parser:
	yaml_parser_delete(&parser);
	return r;
}

/* ---- public ----------------------------------------------------------- */

void ui_config_defaults(struct ui_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/uigniter");
	snprintf(cfg->run_dir, sizeof(cfg->run_dir), "/run/uigniter");
	cfg->log_level = UI_LOG_INFO;
	cfg->log_format = UI_LOG_TEXT;
	cfg->shutdown_policy = UI_SHUTDOWN_LEAVE;
	snprintf(cfg->api_tcp, sizeof(cfg->api_tcp), "127.0.0.1:6666");
	snprintf(cfg->api_unix, sizeof(cfg->api_unix), "/run/uigniter/api.sock");
	snprintf(cfg->api_token_file, sizeof(cfg->api_token_file), "/var/lib/uigniter/api.token");
	snprintf(cfg->bridge, sizeof(cfg->bridge), "uigniter0");
	cfg->subnet = 0xac1f0000u; /* 172.31.0.0 */
	cfg->prefix_len = 24;
	cfg->gateway = cfg->subnet + 1;
	snprintf(cfg->tap_prefix, sizeof(cfg->tap_prefix), "uit-");
	cfg->tap_stock = 8;
	cfg->driver = UI_DRIVER_AUTO;
	snprintf(cfg->qemu_bin, sizeof(cfg->qemu_bin), "qemu-system-x86_64");
	snprintf(cfg->firecracker_bin, sizeof(cfg->firecracker_bin), "firecracker");
	cfg->accel = UI_ACCEL_AUTO;
	cfg->stop_timeout_ms = 10000;
	cfg->boot_timeout_ms = 20000;
	cfg->cgroup = UI_CGROUP_AUTO;
	cfg->mem_overhead_mib = 96;
	cfg->pids_max = 256;
	snprintf(cfg->vmm_user, sizeof(cfg->vmm_user), "uigniter-vmm");
	cfg->max_vms = 64;
	cfg->max_body_bytes = 65536;
	cfg->max_header_bytes = 16384;
	cfg->request_timeout_ms = 10000;
	cfg->run_timeout_ms = 60000;
	cfg->max_conns_tcp = 1024;
	cfg->max_conns_unix = 64;
	cfg->idle_timeout_ms = 30000;
	cfg->keep_stopped = 10000;
	cfg->ready_timeout_ms = 60000;
	cfg->console_bytes = 1048576;
}

/* Parses buf (the file's text) over the defaults already in ld->cfg. */
static int load_text(struct cfg_loader *ld, const char *buf, size_t len)
{
	const yaml_node_t *root;
	int r;

	if ((r = cfg_load_document(ld, buf, len)) < 0)
		return r;
	if ((root = yaml_document_get_root_node(&ld->doc)) &&
	    (r = parse_mapping(ld, "", root, &top_section, ld->cfg)) < 0)
		goto delete_doc;
	cfg_vmm_dirs(ld); /* before images_dir's images are checked against them */
	if (ld->read_images_dir && (r = load_images_dir(ld)) < 0)
		goto delete_doc;
	r = finish(ld);
delete_doc:
	yaml_document_delete(&ld->doc);
	return r;
}

/* Common tail of both loads: the ENOMEM message, freeing on failure. */
static int load_end(struct cfg_loader *ld, int r)
{
	if (r == -ENOMEM && ld->errlen)
		snprintf(ld->err, ld->errlen, "%s: %s", ld->file, strerror(ENOMEM));
	if (r < 0)
		ui_config_free(ld->cfg);
	return r;
}

int ui_config_load(const char *path, struct ui_config *cfg, char *err, size_t errlen)
{
	struct cfg_loader ld = { .file = path, .cfg = cfg, .err = err, .errlen = errlen,
				 .read_images_dir = true };
	char *buf = NULL;
	size_t len = 0;
	int r;

	ui_config_defaults(cfg);
	if (errlen)
		err[0] = '\0';
	if ((r = cfg_read_file(&ld, &buf, &len)) < 0)
		return load_end(&ld, r);
	if ((r = locate(&ld)) == 0)
		r = load_text(&ld, buf, len);
	free(buf);
	return load_end(&ld, r);
}

int ui_config_load_text(const char *name, const char *dir, const char *text, size_t len,
			struct ui_config *cfg, char *err, size_t errlen)
{
	struct cfg_loader ld = { .file = name, .cfg = cfg, .err = err, .errlen = errlen };
	int r = 0;

	ui_config_defaults(cfg);
	if (errlen)
		err[0] = '\0';
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: too large (at most %u bytes)", name, CONFIG_MAX_BYTES);
		r = -EFBIG;
	} else if (dir[0] != '/') {
		r = io_fail(&ld, EINVAL);
	} else if (strlen(dir) >= sizeof(ld.dir) || strlen(name) >= sizeof(cfg->path)) {
		r = io_fail(&ld, ENAMETOOLONG);
	} else {
		snprintf(ld.dir, sizeof(ld.dir), "%s", dir);
		snprintf(cfg->path, sizeof(cfg->path), "%s", name);
		r = load_text(&ld, text, len);
	}
	return load_end(&ld, r);
}

void ui_config_free(struct ui_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->images);
	cfg->images = NULL;
	cfg->n_images = 0;
	for (size_t i = 0; i < cfg->n_retired; i++)
		free(cfg->retired[i]);
	free(cfg->retired);
	cfg->retired = NULL;
	cfg->n_retired = 0;
}

int ui_config_reload_images(struct ui_config *cfg, char *err, size_t errlen)
{
	struct ui_config *nc;
	struct ui_image **nr;
	int r;

	if (!cfg->path[0]) {
		snprintf(err, errlen, "running on built-in defaults: no file to reload");
		return -ENOENT;
	}
	if (!(nc = malloc(sizeof(*nc))) ||
	    !(nr = realloc(cfg->retired, (cfg->n_retired + 1) * sizeof(*nr)))) {
		free(nc);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	cfg->retired = nr;
	if ((r = ui_config_load(cfg->path, nc, err, errlen)) < 0) {
		free(nc);
		return r;
	}
	cfg->retired[cfg->n_retired++] = cfg->images;
	cfg->images = nc->images;
	cfg->n_images = nc->n_images;
	nc->images = NULL;
	nc->n_images = 0;
	ui_config_free(nc);
	free(nc);
	return 0;
}

void ui_config_images_dir(const struct ui_config *cfg, char *buf, size_t len)
{
	if (cfg->images_dir[0])
		snprintf(buf, len, "%s", cfg->images_dir);
	else
		snprintf(buf, len, "%s%simages", cfg->state_dir,
			 strcmp(cfg->state_dir, "/") ? "/" : "");
}

const struct ui_image *ui_config_image(const struct ui_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_images; i++)
		if (!strcmp(cfg->images[i].name, name))
			return &cfg->images[i];
	return NULL;
}

mode_t ui_config_umask(const struct ui_config *cfg)
{
	return cfg->api_group[0] ? 0027 : 0077;
}

void ui_config_registry_path(const struct ui_config *cfg, char *buf, size_t len)
{
	size_t n = strlen(cfg->state_dir);

	snprintf(buf, len, "%s%sregistry.db", cfg->state_dir,
		 n && cfg->state_dir[n - 1] == '/' ? "" : "/");
}

/* FNV-1a, 64 bit: stable across builds and hosts, so every process and tool
 * derives the same name from the same state_dir. */
void ui_config_shm_name(const struct ui_config *cfg, char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)cfg->state_dir; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	snprintf(buf, len, "/uigniter-%016" PRIx64, h);
}
