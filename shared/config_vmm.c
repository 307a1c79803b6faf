/*
 * config_vmm.c — the VMM privilege keys of the `vmm:` section (see
 * config.h): vmm.user, vmm.image_dirs, the default chroot_base and the rule
 * that every image's kernel, initrd and rootfs lie under an image
 * directory. A path outside is refused at its own node (file:line:col
 * naming images.NAME.kernel), so a VMM is never pointed at a host file the
 * operator did not put in an image directory.
 *
 * "Under" is decided twice: lexically on the resolved path (config.c's
 * clean_path has removed "." and ".."), and, when the file exists, on its
 * realpath against the directory's realpath (a symlink in an image
 * directory that points out of it is refused too).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

/* vmm.image_dirs: a non-empty list of paths. */
int cfg_parse_image_dirs(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
			 void *base, const struct cfg_field *f)
{
	struct ui_config *cfg = ld->cfg;
	char item_where[160];
	unsigned i = 0;
	int r;

	(void)base, (void)f;
	if ((r = cfg_expect_type(ld, where, val, YAML_SEQUENCE_NODE)) < 0)
		return r;
	if (val->data.sequence.items.top == val->data.sequence.items.start)
		return cfg_fail_at(ld, val, "%s: must list at least one directory", where);
	for (yaml_node_item_t *it = val->data.sequence.items.start;
	     it < val->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);

		snprintf(item_where, sizeof(item_where), "%s[%u]", where, i);
		if (i >= UI_MAX_IMAGE_DIRS)
			return cfg_fail_at(ld, item, "%s: at most %d image directories", item_where,
					   UI_MAX_IMAGE_DIRS);
		if ((r = cfg_expect_scalar(ld, item_where, item)) < 0)
			return r;
		if (!cfg_scalar(item)[0])
			return cfg_fail_at(ld, item, "%s: must not be empty", item_where);
		if ((r = cfg_store_path(ld, item_where, item, cfg->image_dirs[i],
					sizeof(cfg->image_dirs[i]), cfg_scalar(item))) < 0)
			return r;
	}
	cfg->n_image_dirs = i;
	ld->image_dirs_set = true;
	return 0;
}

/* A user name useradd takes: [a-z_][a-z0-9_-]*, at most 32 bytes. */
int cfg_check_user(struct cfg_loader *ld, const char *where, const yaml_node_t *val,
		   const char *s)
{
	bool ok = (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_';

	for (const char *p = s + 1; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
	if (!ok || strlen(s) > 32)
		return cfg_fail_at(ld, val, "%s: \"%s\" is not a user name ([a-z_][a-z0-9_-]*, "
				   "at most 32 bytes)", where, s);
	return 0;
}

static bool lexically_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* path lies under dir: lexically, and by realpath when both exist. */
static bool under(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];

	if (!lexically_under(path, dir))
		return false;
	if (!realpath(path, rp))
		return true; /* not there (yet): a run fails on it later */
	if (!realpath(dir, rd))
		return false;
	return lexically_under(rp, rd);
}

static bool in_image_dirs(const struct ui_config *cfg, const char *path)
{
	for (unsigned i = 0; i < cfg->n_image_dirs; i++)
		if (under(path, cfg->image_dirs[i]))
			return true;
	return false;
}

/* The default image directories: images_dir (<state_dir>/images unless
 * set: where `uictl image build` puts images) and the guest directory
 * beside the binaries (build/bin/../guest; installed: <prefix>/share/uigniter/guest
 * is not guessed — list it). */
static void default_image_dirs(struct ui_config *cfg)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	ui_config_images_dir(cfg, cfg->image_dirs[0], PATH_MAX);
	cfg->n_image_dirs = 1;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return;
	*slash = '\0';
	if (!(slash = strrchr(self, '/')))
		return;
	*slash = '\0';
	if (snprintf(cfg->image_dirs[cfg->n_image_dirs], PATH_MAX, "%s/guest", self[0] ? self : "")
	    < PATH_MAX)
		cfg->n_image_dirs++;
}

/* The value node of key in mapping map, or NULL. */
const yaml_node_t *cfg_map_get(struct cfg_loader *ld, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp(cfg_scalar(k), key))
			return yaml_document_get_node(&ld->doc, p->value);
	}
	return NULL;
}

void cfg_vmm_dirs(struct cfg_loader *ld)
{
	if (!ld->image_dirs_set && ld->cfg->n_image_dirs == 0)
		default_image_dirs(ld->cfg);
}

int cfg_check_image(struct cfg_loader *ld, const char *name, const yaml_node_t *img)
{
	const struct ui_image *im = ui_config_image(ld->cfg, name);
	const char *keys[] = { "kernel", "initrd", "rootfs", "disk" };

	if (!im)
		return 0;
	/* an OSv image's rootfs names a filesystem: im->rootfs is "" */
	const char *paths[] = { im->kernel, im->initrd, im->rootfs, im->disk };

	cfg_vmm_dirs(ld);
	for (int i = 0; i < 4; i++) {
		const yaml_node_t *node = cfg_map_get(ld, img, keys[i]);

		if (!node || !paths[i][0] || in_image_dirs(ld->cfg, paths[i]))
			continue;
		return cfg_fail_at(ld, node, "images.%s.%s: %s is outside every image directory "
				   "(vmm.image_dirs: %s%s%s)", name, keys[i], paths[i],
				   ld->cfg->image_dirs[0], ld->cfg->n_image_dirs > 1 ? ", " : "",
				   ld->cfg->n_image_dirs > 1 ? ld->cfg->image_dirs[1] : "");
	}
	return 0;
}

int cfg_finish_vmm(struct cfg_loader *ld)
{
	struct ui_config *cfg = ld->cfg;
	const yaml_node_t *images;
	int r;

	cfg_vmm_dirs(ld);
	if (!cfg->chroot_base[0] &&
	    snprintf(cfg->chroot_base, sizeof(cfg->chroot_base), "%s/jail", cfg->run_dir) >=
	    (int)sizeof(cfg->chroot_base))
		return ld->run_dir_node ? cfg_fail_at(ld, ld->run_dir_node,
						      "run_dir: too long for <run_dir>/jail") : -EINVAL;
	images = cfg_map_get(ld, yaml_document_get_root_node(&ld->doc), "images");
	if (!images || images->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = images->data.mapping.pairs.start;
	     p < images->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    (r = cfg_check_image(ld, cfg_scalar(k),
					 yaml_document_get_node(&ld->doc, p->value))) < 0)
			return r;
	}
	return 0;
}
