/*
 * config_fields.c — the leaves of the config walk (config.c, through the
 * schema tables): one parse function per kind of field, the extra checks of
 * string values, path resolution, and the messages every error uses.
 *
 * A parser gets the value node of one key and stores it into the target
 * struct at f->off; api.listen, network.subnet and network.gateway store into
 * ld->cfg themselves. api.listen, network.gateway, run_dir and
 * pool.warm_image also leave notes in the loader for the cross-field rules
 * of config.c. Nothing here allocates; a bad value is -EINVAL with the
 * message in ld->err.
 *
 * Messages: node marks give every message its "file:line:col" (libyaml
 * counts from 0; we print from 1); a bad value points at the value node.
 * `where` is the dotted key path ("network.bridge", "api.listen[1]").
 *
 * Paths: a relative path in the file resolves against the directory of the
 * file (ld->dir: that directory canonicalised with realpath by config.c, the
 * rest cleaned lexically of "." and ".."). Program names without a '/'
 * (vmm.qemu) are kept as they are, for a PATH lookup at exec time. Nothing
 * here checks that a kernel or binary exists: the daemons do that when they
 * use it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdargs.h"
#include "config_int.h"

/* cfg_parse_enum stores the index through an int *. */
_Static_assert(sizeof(enum ui_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_log_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_driver) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_cgroup) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_image_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ui_machine) == sizeof(int), "enum size");

/* ---- messages --------------------------------------------------------- */

int cfg_fail_at(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...)
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

const char *cfg_kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/* A plain empty, "~" or "null" scalar: `key:` with nothing after it. */
bool cfg_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = cfg_scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

int cfg_expect_scalar(struct cfg_loader *ld, const char *where, const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE)
		return cfg_fail_at(ld, n, "%s: expected a scalar, found %s", where, cfg_kind_name(n));
	if (strlen(cfg_scalar(n)) != n->data.scalar.length)
		return cfg_fail_at(ld, n, "%s: contains a NUL character", where);
	return 0;
}

int cfg_expect_type(struct cfg_loader *ld, const char *where, const yaml_node_t *n,
		    yaml_node_type_t type)
{
	if (n->type == type)
		return 0;
	return cfg_fail_at(ld, n, "%s: expected %s, found %s", where,
			   type == YAML_MAPPING_NODE ? "a mapping" : "a list", cfg_kind_name(n));
}

/* "network" + "bridge" → "network.bridge"; top level has no prefix. */
void cfg_child_where(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%s", where, *where ? "." : "", key);
}

const char *cfg_in_where(const char *where, char *buf, size_t len)
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
static int resolve_path(const struct cfg_loader *ld, const char *s, char *buf, size_t len)
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

int cfg_parse_str(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		  void *base, const struct cfg_field *f)
{
	char *dst = (char *)base + f->off;
	const char *s;
	size_t len;
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	s = cfg_is_null(val) ? "" : cfg_scalar(val);
	len = strlen(s);
	if (len < f->min)
		return cfg_fail_at(ld, val, "%s: must not be empty", where);
	if (len >= f->size)
		return cfg_fail_at(ld, val, "%s: too long (%zu bytes, at most %zu)", where, len,
				   f->size - 1);
	if (f->check && (r = f->check(ld, where, val, s)) < 0)
		return r;
	memcpy(dst, s, len + 1);
	return 0;
}

static int store_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		      char *dst, size_t size, const char *s)
{
	char buf[PATH_MAX];

	if (!*s) {
		*dst = '\0';
		return 0;
	}
	if (resolve_path(ld, s, buf, sizeof(buf)) < 0 || strlen(buf) >= size)
		return cfg_fail_at(ld, val, "%s: path too long (at most %zu bytes once resolved)",
				   where, size - 1);
	memcpy(dst, buf, strlen(buf) + 1);
	return 0;
}

int cfg_store_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   char *dst, size_t size, const char *s)
{
	return store_path(ld, where, val, dst, size, s);
}

/* A path; relative resolves against the config file's directory. */
int cfg_parse_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	const char *s;
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	s = cfg_is_null(val) ? "" : cfg_scalar(val);
	if (strlen(s) < f->min)
		return cfg_fail_at(ld, val, "%s: must not be empty", where);
	return store_path(ld, where, val, (char *)base + f->off, f->size, s);
}

/* A program: a bare name is looked up in PATH at exec; else a path. */
int cfg_parse_prog(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	if (strchr(cfg_scalar(val), '/'))
		return cfg_parse_path(ld, where, val, base, f);
	return cfg_parse_str(ld, where, val, base, f);
}

int cfg_parse_uint(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	char *dst = (char *)base + f->off, *end;
	unsigned long long v;
	const char *s;
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	s = cfg_scalar(val);
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return cfg_fail_at(ld, val, "%s: \"%s\" is not a number (expected an integer in %llu..%llu)",
				   where, s, f->min, f->max);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v < f->min || v > f->max)
		return cfg_fail_at(ld, val, "%s: %s is out of range (expected an integer in %llu..%llu)",
				   where, s, f->min, f->max);
	if (f->size == sizeof(size_t))
		*(size_t *)(void *)dst = (size_t)v;
	else
		*(unsigned *)(void *)dst = (unsigned)v;
	return 0;
}

int cfg_parse_enum(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	char allowed[256] = "";
	size_t n = 0;
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	for (int i = 0; f->names[i]; i++) {
		if (!strcmp(cfg_scalar(val), f->names[i])) {
			*(int *)(void *)((char *)base + f->off) = i;
			return 0;
		}
		n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s",
				      i ? ", " : "", f->names[i]);
	}
	return cfg_fail_at(ld, val, "%s: \"%s\" is not one of: %s", where, cfg_scalar(val), allowed);
}

/* ---- string checks ---------------------------------------------------- */

int cfg_check_ifname(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     const char *s)
{
	if (!strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n\r\f\v"))
		return cfg_fail_at(ld, val, "%s: \"%s\" is not a valid interface name", where, s);
	return 0;
}

int cfg_check_tap_prefix(struct cfg_loader *ld, const char *where,
			 const yaml_node_t *val, const char *s)
{
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
		return cfg_fail_at(ld, val, "%s: \"%s\" may only use a-z, 0-9 and '-'", where, s);
	return 0;
}

bool cfg_valid_image_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int cfg_check_image_name(struct cfg_loader *ld, const char *where,
			 const yaml_node_t *val, const char *s)
{
	if (*s && !cfg_valid_image_name(s))
		return cfg_fail_at(ld, val, "%s: \"%s\" is not a valid image name", where, s);
	return 0;
}

/* ---- special fields --------------------------------------------------- */

int cfg_parse_run_dir(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct cfg_field *f)
{
	ld->run_dir_node = val;
	return cfg_parse_path(ld, where, val, base, f);
}

/* pool.boot: an enum whose node the driver rule (config.c finish) points at. */
int cfg_parse_pool_boot(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct cfg_field *f)
{
	ld->pool_boot_node = val;
	return cfg_parse_enum(ld, where, val, base, f);
}

int cfg_parse_warm_image(struct cfg_loader *ld, const char *where,
			 const yaml_node_t *val, void *base, const struct cfg_field *f)
{
	ld->warm_node = val;
	return cfg_parse_str(ld, where, val, base, f);
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

static int listen_unix(struct cfg_loader *ld, const char *where, const yaml_node_t *item,
		       const char *path)
{
	struct ui_config *cfg = ld->cfg;
	int r;

	if (cfg->api_unix[0])
		return cfg_fail_at(ld, item, "%s: only one unix: address is allowed", where);
	if (!*path)
		return cfg_fail_at(ld, item, "%s: \"unix:\" needs a socket path", where);
	if ((r = store_path(ld, where, item, cfg->api_unix, sizeof(cfg->api_unix), path)) < 0)
		return r;
	if (strlen(cfg->api_unix) > CFG_UNIX_PATH_MAX_LEN)
		return cfg_fail_at(ld, item, "%s: socket path too long (%zu bytes, at most %zu)",
				   where, strlen(cfg->api_unix), CFG_UNIX_PATH_MAX_LEN);
	return 0;
}

static int listen_tcp(struct cfg_loader *ld, const char *where, const yaml_node_t *item,
		      const char *s)
{
	struct ui_config *cfg = ld->cfg;

	if (!valid_tcp_addr(s))
		return cfg_fail_at(ld, item,
				   "%s: \"%s\" is neither IPv4 host:port (like 127.0.0.1:6666) nor unix:PATH",
				   where, s);
	if (cfg->api_tcp[0])
		return cfg_fail_at(ld, item, "%s: only one TCP address is allowed", where);
	snprintf(cfg->api_tcp, sizeof(cfg->api_tcp), "%s", s);
	ld->tcp_node = item;
	return 0;
}

/* api.listen: a list of "host:port" and at most one "unix:PATH"; [] = none. */
int cfg_parse_listen(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f)
{
	char item_where[128];
	int r, i = 0;

	(void)base, (void)f;
	ld->listen_set = true;
	ld->tcp_node = NULL;
	ld->cfg->api_tcp[0] = '\0';
	ld->cfg->api_unix[0] = '\0';
	if (cfg_is_null(val))
		return 0;
	if ((r = cfg_expect_type(ld, where, val, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (yaml_node_item_t *it = val->data.sequence.items.start;
	     it < val->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		const char *s;

		snprintf(item_where, sizeof(item_where), "%s[%d]", where, i);
		if ((r = cfg_expect_scalar(ld, item_where, item)) < 0)
			return r;
		s = cfg_scalar(item);
		r = !strncmp(s, "unix:", 5) ? listen_unix(ld, item_where, item, s + 5)
					    : listen_tcp(ld, item_where, item, s);
		if (r < 0)
			return r;
	}
	return 0;
}

/* api.token_file: a path, or "" for TCP without a token (finish() allows
 * that only on a loopback address). */
int cfg_parse_token_file(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f)
{
	ld->token_set = true;
	return cfg_parse_path(ld, where, val, base, f);
}

/* api.group: an existing group's name (resolved here, so every daemon sees
 * the same gid), or "" for none. */
int cfg_parse_group(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		    void *base, const struct cfg_field *f)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int r;

	if ((r = cfg_parse_str(ld, where, val, base, f)) < 0 || !ld->cfg->api_group[0]) {
		ld->cfg->api_gid = 0;
		return r;
	}
	r = getgrnam_r(ld->cfg->api_group, &gr, buf, sizeof(buf), &res);
	if (r || !res)
		return cfg_fail_at(ld, val, "%s: no group named \"%s\"%s%s", where,
				   ld->cfg->api_group, r ? ": " : "", r ? strerror(r) : "");
	ld->cfg->api_gid = res->gr_gid;
	return 0;
}

int cfg_parse_subnet(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f)
{
	char addr[INET_ADDRSTRLEN + 8], net[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long plen;
	uint32_t ip, mask;
	char *slash;
	int r;

	(void)base, (void)f;
	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	snprintf(addr, sizeof(addr), "%s", cfg_scalar(val));
	slash = strchr(addr, '/');
	if (strlen(cfg_scalar(val)) >= sizeof(addr) || !slash || !slash[1] ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) || strlen(slash + 1) > 2)
		goto bad;
	*slash = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		goto bad;
	plen = strtoul(slash + 1, NULL, 10);
	if (plen < 16 || plen > 30)
		return cfg_fail_at(ld, val, "%s: prefix length /%lu is out of range (16..30)", where, plen);
	ip = ntohl(a.s_addr);
	mask = ~0u << (32 - plen);
	if (ip & ~mask) {
		a.s_addr = htonl(ip & mask);
		inet_ntop(AF_INET, &a, net, sizeof(net));
		return cfg_fail_at(ld, val, "%s: %s has host bits set (did you mean %s/%lu?)", where,
				   cfg_scalar(val), net, plen);
	}
	ld->cfg->subnet = ip;
	ld->cfg->prefix_len = (unsigned)plen;
	return 0;
bad:
	return cfg_fail_at(ld, val, "%s: \"%s\" is not an IPv4 subnet like 172.31.0.0/24", where,
			   cfg_scalar(val));
}

/* Parsed here, checked against the subnet in finish(). */
int cfg_parse_gateway(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct cfg_field *f)
{
	struct in_addr a;
	int r;

	(void)base, (void)f;
	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	if (inet_pton(AF_INET, cfg_scalar(val), &a) != 1)
		return cfg_fail_at(ld, val, "%s: \"%s\" is not an IPv4 address", where, cfg_scalar(val));
	ld->cfg->gateway = ntohl(a.s_addr);
	ld->gateway_set = true;
	ld->gateway_node = val;
	return 0;
}

/* ---- image fields --------------------------------------------------------- */

/* true/false (also yes/no, on/off: YAML 1.1's booleans). */
int cfg_parse_bool(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on", "On", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "off", "Off", NULL };
	bool *dst = (bool *)((char *)base + f->off);
	int r;

	if ((r = cfg_expect_scalar(ld, where, val)) < 0)
		return r;
	for (int i = 0; yes[i]; i++)
		if (!strcmp(cfg_scalar(val), yes[i]))
			return *dst = true, 0;
	for (int i = 0; no[i]; i++)
		if (!strcmp(cfg_scalar(val), no[i]))
			return *dst = false, 0;
	return cfg_fail_at(ld, val, "%s: \"%s\" is not a boolean (true or false)", where,
			   cfg_scalar(val));
}

/* cmd: a list of strings, the app's argv (cmdargs.h has the rules). */
int cfg_parse_cmd(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		  void *base, const struct cfg_field *f)
{
	struct ui_cmd *cmd = (struct ui_cmd *)(void *)((char *)base + f->off);
	char item_where[128], why[160];
	int r, i = 0;

	memset(cmd, 0, sizeof(*cmd));
	ld->cmd_node = val;
	if ((r = cfg_expect_type(ld, where, val, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (yaml_node_item_t *it = val->data.sequence.items.start;
	     it < val->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);

		snprintf(item_where, sizeof(item_where), "%s[%d]", where, i);
		if (item->type != YAML_SCALAR_NODE)
			return cfg_fail_at(ld, item, "%s: expected a string, found %s", item_where,
					   cfg_kind_name(item));
		if (ui_cmd_append(cmd, cfg_scalar(item), item->data.scalar.length, why,
				  sizeof(why)) < 0)
			return cfg_fail_at(ld, item, "%s: %s", item_where, why + strlen("cmd: "));
	}
	if (!cmd->argc)
		return cfg_fail_at(ld, val, "%s: must not be empty", where);
	return 0;
}

/* rootfs: a disk path for linux, the filesystem OSv mounts for osv; kind
 * may come later in the mapping, so both are kept and config.c decides. */
int cfg_parse_rootfs(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f)
{
	int r;

	if ((r = cfg_parse_path(ld, where, val, base, f)) < 0)
		return r;
	ld->rootfs_node = val;
	snprintf(ld->rootfs_raw, sizeof(ld->rootfs_raw), "%s", cfg_scalar(val));
	return 0;
}

int cfg_parse_disk(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f)
{
	ld->disk_node = val;
	return cfg_parse_path(ld, where, val, base, f);
}
