/*
 * config.c — loads the operator's YAML file (see config.h) over the embedded
 * defaults with libyaml's document API.
 *
 * Shape: the file is read whole (at most 1 MiB), parsed into a yaml_document,
 * then walked against a fixed schema of section tables (struct section): each
 * field names its key, a parse function, an offset into the target struct and
 * its limits. Node marks give every message its "file:line:col" (libyaml
 * counts from 0; we print from 1); a bad value points at the value, an
 * unknown or duplicate key at the key. libyaml codes never leave this file:
 * every failure is -EINVAL (bad file), -ENOMEM, or the errno of the read.
 *
 * Cross-field rules run after the walk, in finish(): the gateway defaults to
 * subnet+1 and must lie inside the subnet; pool.warm_image must name an
 * image; api_unix follows run_dir unless api.listen was given.
 *
 * Paths: a relative path in the file resolves against the directory of the
 * file (that directory canonicalised with realpath, the rest cleaned
 * lexically of "." and ".."). Program names without a '/' (vmm.qemu) are kept
 * as they are, for a PATH lookup at exec time. Nothing here checks that a
 * kernel or binary exists: the daemons do that when they use it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define UNIX_PATH_MAX_LEN (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=-1"

_Static_assert(sizeof(enum ui_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_driver) == sizeof(int), "enum size");

/* One load in progress; lives on ui_config_load's stack. */
struct loader {
	const char *file;              /* as the caller named it, for messages */
	char dir[PATH_MAX];            /* canonical directory of the file */
	yaml_document_t doc;
	struct ui_config *cfg;
	char *err;
	size_t errlen;
	bool listen_set;               /* api.listen given: no api_unix default */
	bool gateway_set;
	const yaml_node_t *run_dir_node;
	const yaml_node_t *gateway_node;
	const yaml_node_t *warm_node;
};

struct field;
typedef int (*parse_fn)(struct loader *ld, const char *where,
			const yaml_node_t *val, void *base, const struct field *f);
typedef int (*check_fn)(struct loader *ld, const char *where,
			const yaml_node_t *val, const char *s);

struct section {
	const struct field *fields;    /* terminated by a NULL key */
};

struct field {
	const char *key;
	parse_fn parse;
	size_t off;                    /* into the target struct */
	size_t size;                   /* string buffer size or integer width */
	unsigned long long min, max;   /* integer range; min = 1: non-empty string */
	const char *const *names;      /* enum values, NULL-terminated */
	const struct section *sub;     /* nested mapping */
	check_fn check;                /* extra validation of a string */
};

/* ---- messages --------------------------------------------------------- */

static int fail_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", ld->file,
		     node->start_mark.line + 1, node->start_mark.column + 1);
	if (n >= 0 && (size_t)n < ld->errlen) {
		va_start(ap, fmt);
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: `key:` with nothing after it. */
static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int expect_scalar(struct loader *ld, const char *where, const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail_at(ld, n, "%s: expected a scalar, found %s", where, kind_name(n));
	if (strlen(scalar(n)) != n->data.scalar.length)
		return fail_at(ld, n, "%s: contains a NUL character", where);
	return 0;
}

static int expect_type(struct loader *ld, const char *where, const yaml_node_t *n,
		       yaml_node_type_t type)
{
	if (n->type == type)
		return 0;
	return fail_at(ld, n, "%s: expected %s, found %s", where,
		       type == YAML_MAPPING_NODE ? "a mapping" : "a list", kind_name(n));
}

/* "network" + "bridge" → "network.bridge"; top level has no prefix. */
static void child_where(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%s", where, *where ? "." : "", key);
}

static const char *in_where(const char *where, char *buf, size_t len)
{
	if (!*where)
		return "at top level";
	snprintf(buf, len, "in %s", where);
	return buf;
}

/* ---- paths ------------------------------------------------------------ */

/* Lexically removes "", "." and ".." components of an absolute path. */
static void clean_path(char *p)
{
	char *out = p + 1, *in = p + 1;

	while (*in) {
		char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		bool last = !*end;

		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			if (out > p + 1) {
				out--;
				while (out > p + 1 && out[-1] != '/')
					out--;
			}
		} else {
			memmove(out, in, n);
			out += n;
			*out++ = '/';
		}
		if (last)
			break;
		in = end + 1;
	}
	if (out > p + 1)
		out--;
	*out = '\0';
}

/* Resolves s against the config directory into buf; -ENAMETOOLONG. */
static int resolve_path(const struct loader *ld, const char *s, char *buf, size_t len)
{
	int n;

	if (s[0] == '/')
		n = snprintf(buf, len, "%s", s);
	else
		n = snprintf(buf, len, "%s/%s", ld->dir, s);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	clean_path(buf);
	return 0;
}

/* ---- field parsers ---------------------------------------------------- */

static int parse_str(struct loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct field *f)
{
	char *dst = (char *)base + f->off;
	const char *s;
	size_t len;
	int r;

	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	s = is_null(val) ? "" : scalar(val);
	len = strlen(s);
	if (len < f->min)
		return fail_at(ld, val, "%s: must not be empty", where);
	if (len >= f->size)
		return fail_at(ld, val, "%s: too long (%zu bytes, at most %zu)", where, len,
			       f->size - 1);
	if (f->check && (r = f->check(ld, where, val, s)) < 0)
		return r;
	memcpy(dst, s, len + 1);
	return 0;
}

static int store_path(struct loader *ld, const char *where, const yaml_node_t *val,
		      char *dst, size_t size, const char *s)
{
	char buf[PATH_MAX];

	if (!*s) {
		*dst = '\0';
		return 0;
	}
	if (resolve_path(ld, s, buf, sizeof(buf)) < 0 || strlen(buf) >= size)
		return fail_at(ld, val, "%s: path too long (at most %zu bytes once resolved)",
			       where, size - 1);
	memcpy(dst, buf, strlen(buf) + 1);
	return 0;
}

/* A path; relative resolves against the config file's directory. */
static int parse_path(struct loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct field *f)
{
	const char *s;
	int r;

	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	s = is_null(val) ? "" : scalar(val);
	if (strlen(s) < f->min)
		return fail_at(ld, val, "%s: must not be empty", where);
	return store_path(ld, where, val, (char *)base + f->off, f->size, s);
}

/* A program: a bare name is looked up in PATH at exec; else a path. */
static int parse_prog(struct loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct field *f)
{
	int r;

	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	if (strchr(scalar(val), '/'))
		return parse_path(ld, where, val, base, f);
	return parse_str(ld, where, val, base, f);
}

static int parse_uint(struct loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct field *f)
{
	char *dst = (char *)base + f->off, *end;
	unsigned long long v;
	const char *s;
	int r;

	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	s = scalar(val);
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return fail_at(ld, val, "%s: \"%s\" is not a number (expected an integer in %llu..%llu)",
			       where, s, f->min, f->max);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v < f->min || v > f->max)
		return fail_at(ld, val, "%s: %s is out of range (expected an integer in %llu..%llu)",
			       where, s, f->min, f->max);
	if (f->size == sizeof(size_t))
		*(size_t *)(void *)dst = (size_t)v;
	else
		*(unsigned *)(void *)dst = (unsigned)v;
	return 0;
}

static int parse_enum(struct loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct field *f)
{
	char allowed[256] = "";
	size_t n = 0;
	int r;

	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	for (int i = 0; f->names[i]; i++) {
		if (!strcmp(scalar(val), f->names[i])) {
			*(int *)(void *)((char *)base + f->off) = i;
			return 0;
		}
		n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s",
				      i ? ", " : "", f->names[i]);
	}
	return fail_at(ld, val, "%s: \"%s\" is not one of: %s", where, scalar(val), allowed);
}

static int parse_mapping(struct loader *ld, const char *where, const yaml_node_t *node,
			 const struct section *sec, void *base);

static int parse_section(struct loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct field *f)
{
	return parse_mapping(ld, where, val, f->sub, base);
}

/* ---- string checks ---------------------------------------------------- */

static int check_ifname(struct loader *ld, const char *where, const yaml_node_t *val,
			const char *s)
{
	if (!strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n\r\f\v"))
		return fail_at(ld, val, "%s: \"%s\" is not a valid interface name", where, s);
	return 0;
}

static int check_tap_prefix(struct loader *ld, const char *where, const yaml_node_t *val,
			    const char *s)
{
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
		return fail_at(ld, val, "%s: \"%s\" may only use a-z, 0-9 and '-'", where, s);
	return 0;
}

static bool valid_image_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int check_image_name(struct loader *ld, const char *where, const yaml_node_t *val,
			    const char *s)
{
	if (*s && !valid_image_name(s))
		return fail_at(ld, val, "%s: \"%s\" is not a valid image name", where, s);
	return 0;
}

/* ---- special fields --------------------------------------------------- */

static int parse_run_dir(struct loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct field *f)
{
	ld->run_dir_node = val;
	return parse_path(ld, where, val, base, f);
}

static int parse_warm_image(struct loader *ld, const char *where, const yaml_node_t *val,
			    void *base, const struct field *f)
{
	ld->warm_node = val;
	return parse_str(ld, where, val, base, f);
}

/* "a.b.c.d:port" with a dotted-quad IPv4 host and port 1..65535. */
static bool valid_tcp_addr(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long port;
	size_t hlen;

	if (!colon || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return false;
	if (!colon[1] || strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	port = strtoul(colon + 1, NULL, 10);
	return port >= 1 && port <= 65535;
}

static int listen_unix(struct loader *ld, const char *where, const yaml_node_t *item,
		       const char *path)
{
	struct ui_config *cfg = ld->cfg;
	int r;

	if (cfg->api_unix[0])
		return fail_at(ld, item, "%s: only one unix: address is allowed", where);
	if (!*path)
		return fail_at(ld, item, "%s: \"unix:\" needs a socket path", where);
	if ((r = store_path(ld, where, item, cfg->api_unix, sizeof(cfg->api_unix), path)) < 0)
		return r;
	if (strlen(cfg->api_unix) > UNIX_PATH_MAX_LEN)
		return fail_at(ld, item, "%s: socket path too long (%zu bytes, at most %zu)",
			       where, strlen(cfg->api_unix), UNIX_PATH_MAX_LEN);
	return 0;
}

static int listen_tcp(struct loader *ld, const char *where, const yaml_node_t *item,
		      const char *s)
{
	struct ui_config *cfg = ld->cfg;

	if (!valid_tcp_addr(s))
		return fail_at(ld, item,
			       "%s: \"%s\" is neither IPv4 host:port (like 127.0.0.1:6666) nor unix:PATH",
			       where, s);
	if (cfg->api_tcp[0])
		return fail_at(ld, item, "%s: only one TCP address is allowed", where);
	snprintf(cfg->api_tcp, sizeof(cfg->api_tcp), "%s", s);
	return 0;
}

/* api.listen: a list of "host:port" and at most one "unix:PATH"; [] = none. */
static int parse_listen(struct loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct field *f)
{
	char item_where[128];
	int r, i = 0;

	(void)base, (void)f;
	ld->listen_set = true;
	ld->cfg->api_tcp[0] = '\0';
	ld->cfg->api_unix[0] = '\0';
	if (is_null(val))
		return 0;
	if ((r = expect_type(ld, where, val, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (yaml_node_item_t *it = val->data.sequence.items.start;
	     it < val->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		const char *s;

		snprintf(item_where, sizeof(item_where), "%s[%d]", where, i);
		if ((r = expect_scalar(ld, item_where, item)) < 0)
			return r;
		s = scalar(item);
		r = !strncmp(s, "unix:", 5) ? listen_unix(ld, item_where, item, s + 5)
					    : listen_tcp(ld, item_where, item, s);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_subnet(struct loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct field *f)
{
	char addr[INET_ADDRSTRLEN + 8], net[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long plen;
	uint32_t ip, mask;
	char *slash;
	int r;

	(void)base, (void)f;
	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	snprintf(addr, sizeof(addr), "%s", scalar(val));
	slash = strchr(addr, '/');
	if (strlen(scalar(val)) >= sizeof(addr) || !slash || !slash[1] ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) || strlen(slash + 1) > 2)
		goto bad;
	*slash = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		goto bad;
	plen = strtoul(slash + 1, NULL, 10);
	if (plen < 16 || plen > 30)
		return fail_at(ld, val, "%s: prefix length /%lu is out of range (16..30)", where, plen);
	ip = ntohl(a.s_addr);
	mask = ~0u << (32 - plen);
	if (ip & ~mask) {
		a.s_addr = htonl(ip & mask);
		inet_ntop(AF_INET, &a, net, sizeof(net));
		return fail_at(ld, val, "%s: %s has host bits set (did you mean %s/%lu?)", where,
			       scalar(val), net, plen);
	}
	ld->cfg->subnet = ip;
	ld->cfg->prefix_len = (unsigned)plen;
	return 0;
bad:
	return fail_at(ld, val, "%s: \"%s\" is not an IPv4 subnet like 172.31.0.0/24", where,
		       scalar(val));
}

/* Parsed here, checked against the subnet in finish(). */
static int parse_gateway(struct loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct field *f)
{
	struct in_addr a;
	int r;

	(void)base, (void)f;
	if ((r = expect_scalar(ld, where, val)) < 0)
		return r;
	if (inet_pton(AF_INET, scalar(val), &a) != 1)
		return fail_at(ld, val, "%s: \"%s\" is not an IPv4 address", where, scalar(val));
	ld->cfg->gateway = ntohl(a.s_addr);
	ld->gateway_set = true;
	ld->gateway_node = val;
	return 0;
}

/* ---- schema ----------------------------------------------------------- */

#define OFF(m) offsetof(struct ui_config, m)
#define SZ(m) sizeof(((struct ui_config *)0)->m)
#define STR(k, m, minlen, chk) { k, parse_str, OFF(m), SZ(m), minlen, 0, NULL, NULL, chk }
#define PATHF(k, m, fn) { k, fn, OFF(m), SZ(m), 1, 0, NULL, NULL, NULL }
#define UINTF(k, m, lo, hi) { k, parse_uint, OFF(m), SZ(m), lo, hi, NULL, NULL, NULL }
#define ENUMF(k, m, names) { k, parse_enum, OFF(m), SZ(m), 0, 0, names, NULL, NULL }
#define SPECIAL(k, fn) { k, fn, 0, 0, 0, 0, NULL, NULL, NULL }
#define SECTION(k, sec) { k, parse_section, 0, 0, 0, 0, NULL, &sec, NULL }
#define END { NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL }

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const shutdown_policies[] = { "leave", "stop", NULL };
static const char *const drivers[] = { "auto", "firecracker", "qemu", NULL };
static const char *const accels[] = { "auto", "kvm", "tcg", NULL };
static const char *const guest_ips[] = { "linux", "osv", "none", NULL };

static int parse_images(struct loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct field *f);

static const struct section api_section = { (const struct field[]){
	SPECIAL("listen", parse_listen),
	END,
} };

static const struct section network_section = { (const struct field[]){
	STR("bridge", bridge, 1, check_ifname),
	SPECIAL("subnet", parse_subnet),
	SPECIAL("gateway", parse_gateway),
	STR("tap_prefix", tap_prefix, 1, check_tap_prefix),
	END,
} };

static const struct section vmm_section = { (const struct field[]){
	ENUMF("driver", driver, drivers),
	PATHF("qemu", qemu_bin, parse_prog),
	PATHF("firecracker", firecracker_bin, parse_prog),
	ENUMF("accel", accel, accels),
	UINTF("stop_timeout_ms", stop_timeout_ms, 100, 3600000),
	UINTF("boot_timeout_ms", boot_timeout_ms, 100, 3600000),
	END,
} };

static const struct section pool_section = { (const struct field[]){
	UINTF("size", pool_size, 0, 256),
	{ "warm_image", parse_warm_image, OFF(warm_image), SZ(warm_image), 0, 0, NULL, NULL,
	  check_image_name },
	END,
} };

static const struct section limits_section = { (const struct field[]){
	UINTF("max_vms", max_vms, 1, 4096),
	UINTF("max_body_bytes", max_body_bytes, 1024, 16777216),
	UINTF("max_header_bytes", max_header_bytes, 1024, 1048576),
	UINTF("request_timeout_ms", request_timeout_ms, 100, 3600000),
	UINTF("run_timeout_ms", run_timeout_ms, 100, 3600000),
	END,
} };

static const struct section top_section = { (const struct field[]){
	PATHF("state_dir", state_dir, parse_path),
	PATHF("run_dir", run_dir, parse_run_dir),
	ENUMF("log_level", log_level, log_levels),
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

static const struct section image_section = { (const struct field[]){
	PATHF("kernel", kernel, parse_path),
	{ "initrd", parse_path, OFF(initrd), SZ(initrd), 0, 0, NULL, NULL, NULL },
	{ "rootfs", parse_path, OFF(rootfs), SZ(rootfs), 0, 0, NULL, NULL, NULL },
	STR("boot_args", boot_args, 0, NULL),
	UINTF("vcpus", vcpus, 1, 32),
	UINTF("mem_mib", mem_mib, 16, 65536),
	ENUMF("guest_ip", guest_ip, guest_ips),
	STR("ready_pattern", ready_pattern, 0, NULL),
	END,
} };

/* ---- the walk --------------------------------------------------------- */

static const struct field *find_field(const struct section *sec, const char *key)
{
	for (const struct field *f = sec->fields; f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

static int unknown_key(struct loader *ld, const char *where, const yaml_node_t *key,
		       const struct section *sec)
{
	char keys[512] = "", in[160];
	size_t n = 0;

	for (const struct field *f = sec->fields; f->key && n < sizeof(keys); f++)
		n += (size_t)snprintf(keys + n, sizeof(keys) - n, "%s%s",
				      f == sec->fields ? "" : ", ", f->key);
	return fail_at(ld, key, "unknown key \"%s\" %s (expected one of: %s)", scalar(key),
		       in_where(where, in, sizeof(in)), keys);
}

/* The earlier key node of mapping with the same text as pair p, or NULL. */
static const yaml_node_t *earlier_key(struct loader *ld, const yaml_node_t *map,
				      const yaml_node_pair_t *p)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);

	for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const yaml_node_t *k = yaml_document_get_node(&ld->doc, q->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), scalar(key)))
			return k;
	}
	return NULL;
}

/* Checks that a mapping key is a plain scalar, unique in its mapping. */
static int check_key(struct loader *ld, const char *where, const yaml_node_t *map,
		     const yaml_node_pair_t *p, const char *dup_what)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
	const yaml_node_t *first;
	char in[160];
	int r;

	if (key->type != YAML_SCALAR_NODE)
		return fail_at(ld, key, "%s: expected a scalar key, found %s",
			       *where ? where : "top level", kind_name(key));
	if ((r = expect_scalar(ld, *where ? where : "top level", key)) < 0)
		return r;
	if (!(first = earlier_key(ld, map, p)))
		return 0;
	if (dup_what)
		return fail_at(ld, key, "duplicate %s \"%s\" (first at line %zu)", dup_what,
			       scalar(key), first->start_mark.line + 1);
	return fail_at(ld, key, "duplicate key \"%s\" %s (first at line %zu)", scalar(key),
		       in_where(where, in, sizeof(in)), first->start_mark.line + 1);
}

/* Walks one mapping against sec, storing into base. A null value = {}. */
static int parse_mapping(struct loader *ld, const char *where, const yaml_node_t *node,
			 const struct section *sec, void *base)
{
	char child[256];
	int r;

	if (is_null(node))
		return 0;
	if ((r = expect_type(ld, *where ? where : "top level", node, YAML_MAPPING_NODE)) < 0)
		return r;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
		const yaml_node_t *val = yaml_document_get_node(&ld->doc, p->value);
		const struct field *f;

		if ((r = check_key(ld, where, node, p, NULL)) < 0)
			return r;
		if (!(f = find_field(sec, scalar(key))))
			return unknown_key(ld, where, key, sec);
		child_where(child, sizeof(child), where, f->key);
		if ((r = f->parse(ld, child, val, base, f)) < 0)
			return r;
	}
	return 0;
}

static void image_defaults(struct ui_image *img, const char *name)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "%s", name);
	snprintf(img->boot_args, sizeof(img->boot_args), "%s", DEFAULT_BOOT_ARGS);
	img->vcpus = 1;
	img->mem_mib = 128;
	img->guest_ip = UI_GUEST_IP_LINUX;
	snprintf(img->ready_pattern, sizeof(img->ready_pattern), "UIGNITER-READY");
}

static int parse_image(struct loader *ld, const char *where, const yaml_node_t *map,
		       const yaml_node_pair_t *p)
{
	const yaml_node_t *key = yaml_document_get_node(&ld->doc, p->key);
	const yaml_node_t *val = yaml_document_get_node(&ld->doc, p->value);
	struct ui_image *img = &ld->cfg->images[ld->cfg->n_images];
	char child[256];
	int r;

	if ((r = check_key(ld, where, map, p, "image")) < 0)
		return r;
	if (!valid_image_name(scalar(key)))
		return fail_at(ld, key,
			       "%s: bad image name \"%s\" (1..63 characters of a-z A-Z 0-9 _ . -)",
			       where, scalar(key));
	image_defaults(img, scalar(key));
	ld->cfg->n_images++;
	child_where(child, sizeof(child), where, img->name);
	if ((r = parse_mapping(ld, child, val, &image_section, img)) < 0)
		return r;
	if (!img->kernel[0])
		return fail_at(ld, val->type == YAML_MAPPING_NODE ? val : key,
			       "%s: \"kernel\" is required", child);
	return 0;
}

/* images: name → image mapping; cfg->images grows as each one parses. */
static int parse_images(struct loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct field *f)
{
	struct ui_config *cfg = ld->cfg;
	size_t n;
	int r;

	(void)base, (void)f;
	if (is_null(val))
		return 0;
	if ((r = expect_type(ld, where, val, YAML_MAPPING_NODE)) < 0)
		return r;
	n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	free(cfg->images);
	cfg->n_images = 0;
	if (!(cfg->images = calloc(n ? n : 1, sizeof(*cfg->images))))
		return -ENOMEM;
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start;
	     p < val->data.mapping.pairs.top; p++)
		if ((r = parse_image(ld, where, val, p)) < 0)
			return r;
	return 0;
}

/* ---- after the walk --------------------------------------------------- */

static void fmt_ip(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int finish_gateway(struct loader *ld)
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
		return fail_at(ld, ld->gateway_node, "network.gateway: %s is outside the subnet %s/%u",
			       gw, net, cfg->prefix_len);
	if (cfg->gateway == cfg->subnet)
		what = "network";
	else if (cfg->gateway == (cfg->subnet | ~mask))
		what = "broadcast";
	if (what)
		return fail_at(ld, ld->gateway_node, "network.gateway: %s is the %s address of %s/%u",
			       gw, what, net, cfg->prefix_len);
	return 0;
}

static int finish(struct loader *ld)
{
	struct ui_config *cfg = ld->cfg;
	int r, n;

	if ((r = finish_gateway(ld)) < 0)
		return r;
	if (cfg->warm_image[0] && !ui_config_image(cfg, cfg->warm_image))
		return fail_at(ld, ld->warm_node, "pool.warm_image: no image named \"%s\" in images",
			       cfg->warm_image);
	if (ld->listen_set)
		return 0;
	n = snprintf(cfg->api_unix, sizeof(cfg->api_unix), "%s/api.sock", cfg->run_dir);
	if ((n < 0 || (size_t)n > UNIX_PATH_MAX_LEN) && ld->run_dir_node)
		return fail_at(ld, ld->run_dir_node,
			       "run_dir: too long for the API socket <run_dir>/api.sock (at most %zu bytes); set api.listen",
			       UNIX_PATH_MAX_LEN);
	return 0;
}

/* ---- reading and parsing ---------------------------------------------- */

static int io_fail(struct loader *ld, int err)
{
	snprintf(ld->err, ld->errlen, "%s: %s", ld->file, strerror(err));
	return -err;
}

/* Reads the whole file into *out (malloc'd) — at most CONFIG_MAX_BYTES. */
static int read_file(struct loader *ld, char **out, size_t *len)
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
static int locate(struct loader *ld)
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

static int syntax_error(struct loader *ld, const yaml_parser_t *parser, const char *buf)
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
static int load_document(struct loader *ld, const char *buf, size_t len)
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
	cfg->shutdown_policy = UI_SHUTDOWN_LEAVE;
	snprintf(cfg->api_tcp, sizeof(cfg->api_tcp), "127.0.0.1:6666");
	snprintf(cfg->api_unix, sizeof(cfg->api_unix), "/run/uigniter/api.sock");
	snprintf(cfg->bridge, sizeof(cfg->bridge), "uigniter0");
	cfg->subnet = 0xac1f0000u; /* 172.31.0.0 */
	cfg->prefix_len = 24;
	cfg->gateway = cfg->subnet + 1;
	snprintf(cfg->tap_prefix, sizeof(cfg->tap_prefix), "uit-");
	cfg->driver = UI_DRIVER_AUTO;
	snprintf(cfg->qemu_bin, sizeof(cfg->qemu_bin), "qemu-system-x86_64");
	snprintf(cfg->firecracker_bin, sizeof(cfg->firecracker_bin), "firecracker");
	cfg->accel = UI_ACCEL_AUTO;
	cfg->stop_timeout_ms = 10000;
	cfg->boot_timeout_ms = 20000;
	cfg->max_vms = 64;
	cfg->max_body_bytes = 65536;
	cfg->max_header_bytes = 16384;
	cfg->request_timeout_ms = 10000;
	cfg->run_timeout_ms = 60000;
}

int ui_config_load(const char *path, struct ui_config *cfg, char *err, size_t errlen)
{
	struct loader ld = { .file = path, .cfg = cfg, .err = err, .errlen = errlen };
	const yaml_node_t *root;
	char *buf = NULL;
	size_t len = 0;
	int r;

	ui_config_defaults(cfg);
	if (errlen)
		err[0] = '\0';
	if ((r = read_file(&ld, &buf, &len)) < 0)
		goto fail;
	if ((r = locate(&ld)) < 0)
		goto free_buf;
	if ((r = load_document(&ld, buf, len)) < 0)
		goto free_buf;
	if ((root = yaml_document_get_root_node(&ld.doc)) &&
	    (r = parse_mapping(&ld, "", root, &top_section, cfg)) < 0)
		goto delete_doc;
	r = finish(&ld);
delete_doc:
	yaml_document_delete(&ld.doc);
free_buf:
	free(buf);
fail:
	if (r == -ENOMEM && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
	if (r < 0)
		ui_config_free(cfg);
	return r;
}

void ui_config_free(struct ui_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->images);
	cfg->images = NULL;
	cfg->n_images = 0;
}

const struct ui_image *ui_config_image(const struct ui_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_images; i++)
		if (!strcmp(cfg->images[i].name, name))
			return &cfg->images[i];
	return NULL;
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
