/*
 * manifest.c — parses DIR/image.yaml (see manifest.h) with the config's
 * libyaml wrapper and message helpers (config_int.h): the document is walked
 * once, key by key, through the table `keys` below; after the walk finish()
 * applies the rules between keys (what each kind needs and forbids).
 *
 * Every host path is checked to exist while it is parsed, so the message
 * points at the node that named it. Lists grow with realloc; on any failure
 * the caller's struct is freed (ui_manifest_free) before returning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"
#include "cmdargs.h"
#include "manifest.h"

struct mkey {
	const char *key;
	int (*parse)(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     struct ui_manifest *m);
};

/* ---- small helpers ---------------------------------------------------- */

static int push(void **v, size_t *n, size_t size)
{
	void *nv = realloc(*v, (*n + 1) * size);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	memset((char *)nv + *n * size, 0, size);
	(*n)++;
	return 0;
}

static int push_str(char ***v, size_t *n, const char *s)
{
	char *d = strdup(s);

	if (!d || push((void **)v, n, sizeof(**v)) < 0) {
		free(d);
		return -ENOMEM;
	}
	(*v)[*n - 1] = d;
	return 0;
}

/* A host path (relative: against DIR) into buf, which must exist. */
static int host_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     char *buf, size_t len, bool want_exec)
{
	const struct cfg_field f = { "", cfg_parse_path, 0, len, 1, 0, NULL, NULL, NULL };
	struct stat st;
	int r;

	if ((r = cfg_parse_path(ld, where, val, buf, &f)) < 0)
		return r;
	if (stat(buf, &st) < 0)
		return cfg_fail_at(ld, val, "%s: %s: %s", where, buf,
				   errno == ENOENT ? "does not exist" : strerror(errno));
	if (want_exec && (!S_ISREG(st.st_mode) || access(buf, X_OK) < 0))
		return cfg_fail_at(ld, val, "%s: %s is not an executable file", where, buf);
	return 0;
}

/* Absolute, no "." / ".." / empty components, not "/" itself. */
static bool clean_guest_path(const char *s)
{
	if (s[0] != '/' || !s[1])
		return false;
	for (const char *p = s; *p; ) {
		const char *c = p + 1, *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		p = end;
	}
	return true;
}

static int expect_str(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		      bool nonempty)
{
	int r;

	if ((r = cfg_expect_scalar(ld, where, v)) < 0)
		return r;
	if (nonempty && !*cfg_scalar(v))
		return cfg_fail_at(ld, v, "%s: must not be empty", where);
	return 0;
}

#define ITEMS(seq) yaml_node_item_t *it = (seq)->data.sequence.items.start; \
	it < (seq)->data.sequence.items.top; it++
#define PAIRS(map) yaml_node_pair_t *p = (map)->data.mapping.pairs.start; \
	p < (map)->data.mapping.pairs.top; p++
#define NODE(id) yaml_document_get_node(&ld->doc, (id))

/* ---- the keys --------------------------------------------------------- */

static int p_name(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		  struct ui_manifest *m)
{
	int r;

	if ((r = expect_str(ld, where, v, true)) < 0)
		return r;
	if (!cfg_valid_image_name(cfg_scalar(v)))
		return cfg_fail_at(ld, v, "%s: bad image name \"%s\" (1..63 characters of a-z A-Z 0-9 _ . -)",
				   where, cfg_scalar(v));
	snprintf(m->name, sizeof(m->name), "%s", cfg_scalar(v));
	return 0;
}

static int p_kind(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		  struct ui_manifest *m)
{
	static const char *const kinds[] = { "linux", "osv", NULL };
	const struct cfg_field f = { "", cfg_parse_enum, 0, 0, 0, 0, kinds, NULL, NULL };

	return cfg_parse_enum(ld, where, v, &m->kind, &f);
}

static int p_files(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		   struct ui_manifest *m)
{
	char item[PATH_MAX + 32], host[PATH_MAX];
	int r;

	if ((r = cfg_expect_type(ld, where, v, YAML_MAPPING_NODE)) < 0)
		return r;
	for (PAIRS(v)) {
		const yaml_node_t *k = NODE(p->key), *hv = NODE(p->value);
		struct ui_mfile *f;

		if ((r = expect_str(ld, where, k, true)) < 0)
			return r;
		if (!clean_guest_path(cfg_scalar(k)))
			return cfg_fail_at(ld, k, "%s: guest path \"%s\" must be absolute, without . or .. parts",
					   where, cfg_scalar(k));
		snprintf(item, sizeof(item), "%s[%s]", where, cfg_scalar(k));
		if ((r = host_path(ld, item, hv, host, sizeof(host), false)) < 0)
			return r;
		for (size_t i = 0; i < m->n_files; i++)
			if (!strcmp(m->files[i].guest, cfg_scalar(k)))
				return cfg_fail_at(ld, k, "%s: duplicate guest path \"%s\"", where,
						   cfg_scalar(k));
		if (push((void **)&m->files, &m->n_files, sizeof(*m->files)) < 0)
			return -ENOMEM;
		f = &m->files[m->n_files - 1];
		if (!(f->guest = strdup(cfg_scalar(k))) || !(f->host = strdup(host)))
			return -ENOMEM;
	}
	return 0;
}

/* An absolute binary keeps its path in the guest; a relative one (from DIR)
 * goes to /bin/<its name>. */
static int p_binaries(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		      struct ui_manifest *m)
{
	char item[96], host[PATH_MAX], guest[PATH_MAX];
	unsigned i = 0;
	int r;

	if ((r = cfg_expect_type(ld, where, v, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (ITEMS(v)) {
		const yaml_node_t *b = NODE(*it);
		struct ui_mfile *f;

		snprintf(item, sizeof(item), "%s[%u]", where, i++);
		if ((r = expect_str(ld, item, b, true)) < 0 ||
		    (r = host_path(ld, item, b, host, sizeof(host), true)) < 0)
			return r;
		if (cfg_scalar(b)[0] == '/')
			snprintf(guest, sizeof(guest), "%s", host);
		else
			snprintf(guest, sizeof(guest), "/bin/%s", strrchr(host, '/') + 1);
		if (push((void **)&m->binaries, &m->n_binaries, sizeof(*m->binaries)) < 0)
			return -ENOMEM;
		f = &m->binaries[m->n_binaries - 1];
		if (!(f->guest = strdup(guest)) || !(f->host = strdup(host)))
			return -ENOMEM;
	}
	return 0;
}

static int p_cmd(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		 struct ui_manifest *m)
{
	char item[64];
	size_t total = 0;
	unsigned i = 0;
	int r;

	if ((r = cfg_expect_type(ld, where, v, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (ITEMS(v)) {
		const yaml_node_t *a = NODE(*it);

		snprintf(item, sizeof(item), "%s[%u]", where, i);
		if ((r = expect_str(ld, item, a, i == 0)) < 0)
			return r;
		total += strlen(cfg_scalar(a)) + 1;
		if (total > UI_CMD_MAX_BYTES)
			return cfg_fail_at(ld, a, "%s: too long (all arguments at most %d bytes)",
					   where, UI_CMD_MAX_BYTES);
		if (push_str(&m->cmd, &m->n_cmd, cfg_scalar(a)) < 0)
			return -ENOMEM;
		i++;
	}
	if (!m->n_cmd)
		return cfg_fail_at(ld, v, "%s: must not be empty (the app's argv)", where);
	return 0;
}

static int p_shell(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		   struct ui_manifest *m)
{
	int r;

	if ((r = cfg_expect_scalar(ld, where, v)) < 0)
		return r;
	if (strcmp(cfg_scalar(v), "true") && strcmp(cfg_scalar(v), "false"))
		return cfg_fail_at(ld, v, "%s: \"%s\" is not true or false", where, cfg_scalar(v));
	m->shell = !strcmp(cfg_scalar(v), "true");
	return 0;
}

static bool env_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
	       strlen(s);
}

static int p_env(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		 struct ui_manifest *m)
{
	char item[128], *kv;
	int r;

	if ((r = cfg_expect_type(ld, where, v, YAML_MAPPING_NODE)) < 0)
		return r;
	for (PAIRS(v)) {
		const yaml_node_t *k = NODE(p->key), *val = NODE(p->value);

		if ((r = expect_str(ld, where, k, true)) < 0)
			return r;
		if (!env_name(cfg_scalar(k)))
			return cfg_fail_at(ld, k, "%s: bad variable name \"%s\" ([A-Za-z_][A-Za-z0-9_]*)",
					   where, cfg_scalar(k));
		snprintf(item, sizeof(item), "%s.%s", where, cfg_scalar(k));
		if ((r = expect_str(ld, item, val, false)) < 0)
			return r;
		if (strchr(cfg_scalar(val), '\n'))
			return cfg_fail_at(ld, val, "%s: must not contain a newline", item);
		if (asprintf(&kv, "%s=%s", cfg_scalar(k), cfg_scalar(val)) < 0)
			return -ENOMEM;
		r = push_str(&m->env, &m->n_env, kv);
		free(kv);
		if (r < 0)
			return r;
	}
	return 0;
}

static int p_ports(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		   struct ui_manifest *m)
{
	const struct cfg_field f = { "", cfg_parse_uint, 0, sizeof(unsigned), 1, 65535, NULL,
				     NULL, NULL };
	char item[64];
	unsigned i = 0;
	int r;

	if ((r = cfg_expect_type(ld, where, v, YAML_SEQUENCE_NODE)) < 0)
		return r;
	for (ITEMS(v)) {
		snprintf(item, sizeof(item), "%s[%u]", where, i++);
		if ((r = push((void **)&m->ports, &m->n_ports, sizeof(*m->ports))) < 0 ||
		    (r = cfg_parse_uint(ld, item, NODE(*it), &m->ports[m->n_ports - 1], &f)) < 0)
			return r;
	}
	return 0;
}

/* ready: {port: N} | {pattern: S} | null (ready once running). */
static int p_ready(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		   struct ui_manifest *m)
{
	const struct cfg_field fport = { "", cfg_parse_uint, 0, sizeof(unsigned), 1, 65535,
					 NULL, NULL, NULL };
	const struct cfg_field fpat = { "", cfg_parse_str, 0, sizeof(m->ready_pattern), 1, 0,
					NULL, NULL, NULL };
	const yaml_node_t *k, *val;
	char item[64];
	int r;

	m->ready_pattern[0] = '\0';
	m->ready_port = 0;
	if (cfg_is_null(v))
		return 0;
	if ((r = cfg_expect_type(ld, where, v, YAML_MAPPING_NODE)) < 0)
		return r;
	if (v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1)
		return cfg_fail_at(ld, v, "%s: expected one of {port: N} or {pattern: TEXT}", where);
	k = NODE(v->data.mapping.pairs.start->key);
	val = NODE(v->data.mapping.pairs.start->value);
	if ((r = expect_str(ld, where, k, true)) < 0)
		return r;
	snprintf(item, sizeof(item), "%s.%s", where, cfg_scalar(k));
	if (!strcmp(cfg_scalar(k), "port"))
		return cfg_parse_uint(ld, item, val, &m->ready_port, &fport);
	if (!strcmp(cfg_scalar(k), "pattern"))
		return cfg_parse_str(ld, item, val, m->ready_pattern, &fpat);
	return cfg_fail_at(ld, k, "unknown key \"%s\" in %s (expected one of: port, pattern)",
			   cfg_scalar(k), where);
}

static int p_vcpus(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		   struct ui_manifest *m)
{
	const struct cfg_field f = { "", cfg_parse_uint, 0, sizeof(unsigned), 1, 32, NULL, NULL,
				     NULL };

	return cfg_parse_uint(ld, where, v, &m->vcpus, &f);
}

static int p_mem(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		 struct ui_manifest *m)
{
	const struct cfg_field f = { "", cfg_parse_uint, 0, sizeof(unsigned), 16, 65536, NULL,
				     NULL, NULL };

	return cfg_parse_uint(ld, where, v, &m->mem_mib, &f);
}

static int p_loader(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		    struct ui_manifest *m)
{
	return host_path(ld, where, v, m->loader, sizeof(m->loader), false);
}

static int p_disk(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		  struct ui_manifest *m)
{
	return host_path(ld, where, v, m->disk, sizeof(m->disk), false);
}

static int p_disk_format(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
			 struct ui_manifest *m)
{
	static const char *const formats[] = { "raw", "qcow2", NULL };
	const struct cfg_field f = { "", cfg_parse_enum, 0, 0, 0, 0, formats, NULL, NULL };

	return cfg_parse_enum(ld, where, v, &m->disk_format, &f);
}

static int p_rootfs(struct cfg_loader *ld, const char *where, const yaml_node_t *v,
		    struct ui_manifest *m)
{
	static const char *const fss[] = { "rofs", "zfs", "ramfs", "virtiofs", NULL };
	const struct cfg_field f = { "", cfg_parse_enum, 0, 0, 0, 0, fss, NULL, NULL };
	int i, r;

	if ((r = cfg_parse_enum(ld, where, v, &i, &f)) < 0)
		return r;
	snprintf(m->rootfs, sizeof(m->rootfs), "%s", fss[i]);
	return 0;
}

static const struct mkey keys[] = {
	{ "name", p_name }, { "kind", p_kind }, { "files", p_files },
	{ "binaries", p_binaries }, { "cmd", p_cmd }, { "shell", p_shell },
	{ "env", p_env }, { "ports", p_ports }, { "ready", p_ready },
	{ "vcpus", p_vcpus }, { "mem_mib", p_mem }, { "loader", p_loader },
	{ "disk", p_disk }, { "disk_format", p_disk_format }, { "rootfs", p_rootfs },
	{ NULL, NULL },
};

/* ---- the walk --------------------------------------------------------- */

static int unknown(struct cfg_loader *ld, const yaml_node_t *k)
{
	char list[256] = "";
	size_t n = 0;

	for (const struct mkey *e = keys; e->key; e++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", e == keys ? "" : ", ",
				      e->key);
	return cfg_fail_at(ld, k, "unknown key \"%s\" at top level (expected one of: %s)",
			   cfg_scalar(k), list);
}

/* The key node of the pair named key (NULL: absent), for finish()'s messages. */
static const yaml_node_t *key_node(struct cfg_loader *ld, const yaml_node_t *root,
				   const char *key)
{
	for (PAIRS(root)) {
		const yaml_node_t *k = NODE(p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(cfg_scalar(k), key))
			return k;
	}
	return NULL;
}

/* The argv keeps the rules every image's cmd keeps (shared/cmdargs.h: the
 * config loader applies them to the registered image, so a built image
 * always loads). */
static int check_cmd(struct cfg_loader *ld, const yaml_node_t *root, const struct ui_manifest *m)
{
	struct ui_cmd c = { .argc = 0 };
	char why[160];

	for (size_t i = 0; i < m->n_cmd; i++)
		if (ui_cmd_append(&c, m->cmd[i], strlen(m->cmd[i]), why, sizeof(why)) < 0)
			return cfg_fail_at(ld, key_node(ld, root, "cmd"), "%s", why);
	if (ui_cmd_check(&c, m->kind, why, sizeof(why)) < 0)
		return cfg_fail_at(ld, key_node(ld, root, "cmd"), "%s", why);
	return 0;
}

/* The rules between keys: what a kind requires and forbids. */
static int finish(struct cfg_loader *ld, const yaml_node_t *root, struct ui_manifest *m)
{
	static const char *const osv_only[] = { "loader", "disk", "disk_format", "rootfs", NULL };
	static const char *const linux_only[] = { "files", "binaries", "shell", NULL };
	const char *const *forbidden = m->kind == UI_KIND_OSV ? linux_only : osv_only;
	const yaml_node_t *k;
	char *script;

	if (!m->name[0])
		return cfg_fail_at(ld, root, "\"name\" is required");
	if (!m->n_cmd)
		return cfg_fail_at(ld, root, "\"cmd\" is required (the app's argv)");
	for (int i = 0; forbidden[i]; i++)
		if ((k = key_node(ld, root, forbidden[i])))
			return cfg_fail_at(ld, k, "\"%s\" is not allowed for kind: %s", forbidden[i],
					   m->kind == UI_KIND_OSV ? "osv" : "linux");
	if (m->kind == UI_KIND_OSV && (!m->loader[0] || !m->disk[0]))
		return cfg_fail_at(ld, root, "\"%s\" is required for kind: osv",
				   m->loader[0] ? "disk" : "loader");
	if (!m->shell)
		return check_cmd(ld, root, m);
	if (m->n_cmd != 1)
		return cfg_fail_at(ld, key_node(ld, root, "cmd"),
				   "cmd: with shell: true, give one string (the script for /bin/sh -c)");
	script = m->cmd[0];
	m->cmd[0] = NULL;
	m->n_cmd = 0;
	if (push_str(&m->cmd, &m->n_cmd, "/bin/sh") < 0 || push_str(&m->cmd, &m->n_cmd, "-c") < 0) {
		free(script);
		return -ENOMEM;
	}
	if (push((void **)&m->cmd, &m->n_cmd, sizeof(*m->cmd)) < 0) {
		free(script);
		return -ENOMEM;
	}
	m->cmd[2] = script;
	return check_cmd(ld, root, m);
}

static int walk(struct cfg_loader *ld, struct ui_manifest *m)
{
	const yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	int r;

	if (!root) {
		snprintf(ld->err, ld->errlen, "%s: empty manifest (\"name\" and \"cmd\" are required)",
			 ld->file);
		return -EINVAL;
	}
	if ((r = cfg_expect_type(ld, "top level", root, YAML_MAPPING_NODE)) < 0)
		return r;
	for (PAIRS(root)) {
		const yaml_node_t *k = NODE(p->key);
		const struct mkey *e;

		if ((r = expect_str(ld, "top level", k, true)) < 0)
			return r;
		for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
			const yaml_node_t *qk = NODE(q->key);

			if (qk->type == YAML_SCALAR_NODE && !strcmp(cfg_scalar(qk), cfg_scalar(k)))
				return cfg_fail_at(ld, k, "duplicate key \"%s\" at top level (first at line %zu)",
						   cfg_scalar(k), qk->start_mark.line + 1);
		}
		for (e = keys; e->key && strcmp(e->key, cfg_scalar(k)); e++)
			;
		if (!e->key)
			return unknown(ld, k);
		if ((r = e->parse(ld, e->key, NODE(p->value), m)) < 0)
			return r;
	}
	return finish(ld, root, m);
}

/* ---- public ----------------------------------------------------------- */

static void defaults(struct ui_manifest *m, const char *file)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->file, sizeof(m->file), "%s", file);
	m->vcpus = 1;
	m->mem_mib = 128;
	snprintf(m->ready_pattern, sizeof(m->ready_pattern), "UIGNITER-READY");
}

static int load_text(struct cfg_loader *ld, const char *text, size_t len, struct ui_manifest *m)
{
	int r;

	if ((r = cfg_load_document(ld, text, len)) < 0)
		return r;
	r = walk(ld, m);
	yaml_document_delete(&ld->doc);
	return r;
}

static int end(struct cfg_loader *ld, struct ui_manifest *m, int r)
{
	if (r == -ENOMEM && ld->errlen)
		snprintf(ld->err, ld->errlen, "%s: %s", ld->file, strerror(ENOMEM));
	if (r < 0)
		ui_manifest_free(m);
	return r;
}

int ui_manifest_load(const char *path, struct ui_manifest *m, char *err, size_t errlen)
{
	struct cfg_loader ld = { .file = path, .err = err, .errlen = errlen };
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	int r;

	defaults(m, path);
	if (errlen)
		err[0] = '\0';
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	if (!realpath(dir, ld.dir)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return end(&ld, m, -errno);
	}
	if ((r = cfg_read_file(&ld, &buf, &len)) < 0)
		return end(&ld, m, r);
	r = load_text(&ld, buf, len, m);
	free(buf);
	return end(&ld, m, r);
}

int ui_manifest_load_text(const char *name, const char *dir, const char *text, size_t len,
			  struct ui_manifest *m, char *err, size_t errlen)
{
	struct cfg_loader ld = { .file = name, .err = err, .errlen = errlen };

	defaults(m, name);
	if (errlen)
		err[0] = '\0';
	if (dir[0] != '/' || strlen(dir) >= sizeof(ld.dir)) {
		snprintf(err, errlen, "%s: bad directory", name);
		return end(&ld, m, -EINVAL);
	}
	snprintf(ld.dir, sizeof(ld.dir), "%s", dir);
	return end(&ld, m, load_text(&ld, text, len, m));
}

static void free_files(struct ui_mfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].guest);
		free(f[i].host);
	}
	free(f);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ui_manifest_free(struct ui_manifest *m)
{
	if (!m)
		return;
	free_files(m->files, m->n_files);
	free_files(m->binaries, m->n_binaries);
	free_strs(m->cmd, m->n_cmd);
	free_strs(m->env, m->n_env);
	free(m->ports);
	m->files = m->binaries = NULL;
	m->cmd = m->env = NULL;
	m->ports = NULL;
	m->n_files = m->n_binaries = m->n_cmd = m->n_env = m->n_ports = 0;
}
