/*
 * config_int.h — private to shared/config.c and shared/config_fields.c (the
 * public interface is config.h). config.c walks the YAML document against the
 * schema tables and calls the field parsers of config_fields.c through
 * struct cfg_field; both write messages through cfg_fail_at() into the
 * caller's buffer held by struct cfg_loader.
 *
 * Contract of a parser (cfg_parse_fn): `where` is the dotted key path for
 * messages ("network.bridge"); `val` the value node; the result is stored at
 * `base` + f->off (or, for the special fields, into ld->cfg and the notes
 * ld keeps for the cross-field rules). Returns 0, or -EINVAL with ld->err
 * filled and pointing at the offending node (config.c's images parser may
 * also return -ENOMEM). A check (cfg_check_fn) validates a string before
 * cfg_parse_str stores it.
 */
#ifndef UI_CONFIG_INT_H
#define UI_CONFIG_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>
#include <yaml.h>

#include "config.h"

/* Longest socket path bind() takes (sun_path less its NUL). */
#define CFG_UNIX_PATH_MAX_LEN (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* One load in progress; lives on ui_config_load's stack. */
struct cfg_loader {
	const char *file;              /* as the caller named it, for messages */
	char dir[PATH_MAX];            /* canonical directory of the file */
	yaml_document_t doc;
	struct ui_config *cfg;
	char *err;
	size_t errlen;
	bool listen_set;               /* api.listen given: no api_unix default */
	bool gateway_set;
	bool read_images_dir;          /* ui_config_load: images_dir too */
	bool token_set;                /* api.token_file given: no default */
	const yaml_node_t *tcp_node;   /* the TCP entry of api.listen */
	const yaml_node_t *run_dir_node;
	const yaml_node_t *gateway_node;
	const yaml_node_t *warm_node;
	const yaml_node_t *pool_boot_node;
	/* the image being parsed: for its cross-field rules (config.c) */
	const yaml_node_t *rootfs_node; /* its rootfs: a path (linux) or an OSv fs */
	const yaml_node_t *cmd_node;
	const yaml_node_t *disk_node;
	char rootfs_raw[64];           /* rootfs as written (an OSv fs name) */
	bool image_dirs_set;           /* vmm.image_dirs given: no default */
};

struct cfg_field;
typedef int (*cfg_parse_fn)(struct cfg_loader *ld, const char *where,
			    const yaml_node_t *val, void *base, const struct cfg_field *f);
typedef int (*cfg_check_fn)(struct cfg_loader *ld, const char *where,
			    const yaml_node_t *val, const char *s);

struct cfg_section {
	const struct cfg_field *fields; /* terminated by a NULL key */
};

struct cfg_field {
	const char *key;
	cfg_parse_fn parse;
	size_t off;                    /* into the target struct */
	size_t size;                   /* string buffer size or integer width */
	unsigned long long min, max;   /* integer range; min = 1: non-empty string */
	const char *const *names;      /* enum values, NULL-terminated */
	const struct cfg_section *sub; /* nested mapping */
	cfg_check_fn check;            /* extra validation of a string */
};

static inline const char *cfg_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* ---- reading (config.c; shared with manifest.c) ------------------------ */

/* ld->file whole into *out (malloc'd, at most 1 MiB); message in ld->err. */
int cfg_read_file(struct cfg_loader *ld, char **out, size_t *len);
/* buf into ld->doc (one document); "file:line:col: YAML syntax error…". */
int cfg_load_document(struct cfg_loader *ld, const char *buf, size_t len);

/* ---- messages (config_fields.c) --------------------------------------- */

/* "file:line:col: " + the message into ld->err; always returns -EINVAL. */
int cfg_fail_at(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *cfg_kind_name(const yaml_node_t *n); /* "a scalar", "a list", … */
bool cfg_is_null(const yaml_node_t *n);
const yaml_node_t *cfg_map_get(struct cfg_loader *ld, const yaml_node_t *map, const char *key);
int cfg_expect_scalar(struct cfg_loader *ld, const char *where, const yaml_node_t *n);
int cfg_expect_type(struct cfg_loader *ld, const char *where, const yaml_node_t *n,
		    yaml_node_type_t type);
void cfg_child_where(char *buf, size_t len, const char *where, const char *key);
const char *cfg_in_where(const char *where, char *buf, size_t len);
bool cfg_valid_image_name(const char *s);

/* ---- parsers and checks of the schema tables (config_fields.c) -------- */

int cfg_parse_str(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		  void *base, const struct cfg_field *f);
int cfg_parse_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);
int cfg_parse_prog(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);
int cfg_parse_uint(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);
int cfg_parse_enum(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);

/* Special fields: listen, subnet and gateway store into ld->cfg themselves
 * (not at f->off); run_dir, warm_image, listen and gateway also leave notes
 * in ld for the cross-field rules of config.c. */
int cfg_parse_run_dir(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct cfg_field *f);
int cfg_parse_pool_boot(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			void *base, const struct cfg_field *f);
int cfg_parse_warm_image(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f);
int cfg_parse_listen(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f);
int cfg_parse_token_file(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f);
int cfg_parse_group(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		    void *base, const struct cfg_field *f);
int cfg_parse_subnet(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f);
int cfg_parse_gateway(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		      void *base, const struct cfg_field *f);

/* Image fields (config_fields.c): a bool, an argv list, the rootfs. */
int cfg_parse_bool(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);
int cfg_parse_cmd(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		  void *base, const struct cfg_field *f);
int cfg_parse_rootfs(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     void *base, const struct cfg_field *f);
int cfg_parse_disk(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   void *base, const struct cfg_field *f);
/* vmm.user, vmm.image_dirs and their rules (config_vmm.c): image paths
 * outside every image directory are refused at the path's node. */
int cfg_parse_image_dirs(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f);
int cfg_check_user(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   const char *s);
int cfg_finish_vmm(struct cfg_loader *ld);
/* The default vmm.image_dirs, unless given (or set already). */
void cfg_vmm_dirs(struct cfg_loader *ld);
/* Image `name` (its definition's mapping node img, in ld's document): each
 * of its paths under an image directory, else the error at that path. */
int cfg_check_image(struct cfg_loader *ld, const char *name, const yaml_node_t *img);
/* An OSv image's disk (config_disk.c): if it can be read, its first bytes
 * match its disk_format (qcow2's magic or not), else the error at the key;
 * map is the image's mapping node. */
int cfg_check_disk_format(struct cfg_loader *ld, const struct ui_image *img, const char *where,
			  const yaml_node_t *map);
/* A path as store_path makes it (relative to the file's directory). */
int cfg_store_path(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   char *dst, size_t size, const char *s);

int cfg_check_ifname(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		     const char *s);
int cfg_check_tap_prefix(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 const char *s);
int cfg_check_image_name(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 const char *s);

#endif
