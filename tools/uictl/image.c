/*
 * image.c — `uictl image build DIR` and `uictl image ls`: an app image from
 * DIR/image.yaml (shared/manifest.h), registered for the daemons.
 *
 *   uictl [--config F] image build [--config F] [--base DIR] DIR
 *   uictl [--config F] image ls [--config F]
 *
 * build: parse the manifest (a bad one: "file:line:col: …" and exit 1,
 * nothing written); check that no other file already defines the name;
 * make the artefacts (image_build.c) under <state_dir>/images/<name>/<hash>/;
 * only then register: write <images_dir>/<name>.yaml, a normal image
 * definition (config.h) pointing at them, as a temporary file renamed into
 * place, so the daemons (at start and on SIGHUP) see the old definition or
 * the new one, never half of one. The base of a linux image is tools/mkguest's
 * output: --base DIR, else $UIGNITER_GUEST_BASE, else ../guest next to the
 * uictl binary (build/guest for build/bin/uictl).
 *
 * Exit codes as the rest of uictl: 0 done, 1 failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "image_build.h"
#include "manifest.h"

#define EXIT_USAGE 2

/* snprintf that says when the result did not fit: -ENAMETOOLONG. */
static int pfmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int usage(const char *msg)
{
	fprintf(stderr, "uictl: %s\nusage: uictl image build [--config FILE] [--base DIR] DIR\n"
			"       uictl image ls [--config FILE]\n", msg);
	return EXIT_USAGE;
}

static int load_config(const char *path, struct ui_config *cfg)
{
	char err[1024];

	if (!path) {
		ui_config_defaults(cfg);
		return 0;
	}
	if (ui_config_load(path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "uictl: %s\n", err);
		return 1;
	}
	return 0;
}

static void default_base(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (getenv("UIGNITER_GUEST_BASE")) {
		snprintf(buf, len, "%s", getenv("UIGNITER_GUEST_BASE"));
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0';
	if (pfmt(buf, len, "%s/../guest", n > 0 ? exe : ".") < 0)
		snprintf(buf, len, "../guest");
}

/* ---- the registered definition ----------------------------------------- */

/* s as a YAML double-quoted scalar. */
static void yq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void write_def(FILE *f, const struct ui_manifest *m, const struct image_out *o,
		      const char *manifest)
{
	fprintf(f, "# Written by `uictl image build` from %s; do not edit:\n"
		   "# rebuild instead (the daemons read this at start and on SIGHUP).\n", manifest);
	fprintf(f, "%s:\n  kind: %s\n  kernel: ", m->name, m->kind == UI_KIND_OSV ? "osv" : "linux");
	yq(f, o->kernel);
	if (m->kind == UI_KIND_OSV) {
		fputs("\n  disk: ", f);
		yq(f, o->disk);
		fprintf(f, "\n  disk_format: %s\n  guest_ip: osv",
			m->disk_format == UI_DISK_QCOW2 ? "qcow2" : "raw");
		if (m->rootfs[0])
			fprintf(f, "\n  rootfs: %s", m->rootfs);
	} else {
		fputs("\n  initrd: ", f);
		yq(f, o->initrd);
	}
	fprintf(f, "\n  vcpus: %u\n  mem_mib: %u\n", m->vcpus, m->mem_mib);
	if (m->ready_port)
		fprintf(f, "  ready_port: %u\n  ready_pattern: \"\"\n", m->ready_port);
	else {
		fputs("  ready_pattern: ", f);
		yq(f, m->ready_pattern);
		fputc('\n', f);
	}
	fputs("  cmd: [", f);
	for (size_t i = 0; i < m->n_cmd; i++) {
		fputs(i ? ", " : "", f);
		yq(f, m->cmd[i]);
	}
	fputs("]\n", f);
}

/* <images_dir>/<name>.yaml via a temporary and rename. */
static int register_image(const struct ui_config *cfg, const struct ui_manifest *m,
			  const struct image_out *o, const char *manifest, char *def, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64];
	FILE *f;
	int r;

	ui_config_images_dir(cfg, dir, sizeof(dir));
	if (pfmt(def, len, "%s/%s.yaml", dir, m->name) < 0 ||
	    pfmt(tmp, sizeof(tmp), "%s/.%s.yaml.tmp.%d", dir, m->name, (int)getpid()) < 0) {
		fprintf(stderr, "uictl: %s: %s\n", dir, strerror(ENAMETOOLONG));
		return 1;
	}
	if ((r = image_mkdir_p(dir)) < 0) {
		fprintf(stderr, "uictl: %s: %s\n", dir, strerror(-r));
		return 1;
	}
	if (!(f = fopen(tmp, "wxe"))) {
		fprintf(stderr, "uictl: %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	write_def(f, m, o, manifest);
	r = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) < 0;
	if (fclose(f) != 0 || r || rename(tmp, def) < 0) {
		fprintf(stderr, "uictl: %s: %s\n", def, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* The name may be ours to (re)define: absent, or defined by def itself. */
static int check_name(const struct ui_config *cfg, const char *name, const char *manifest)
{
	const struct ui_image *img = ui_config_image(cfg, name);
	char dir[PATH_MAX], def[PATH_MAX + 80], real[PATH_MAX];

	if (!img)
		return 0;
	ui_config_images_dir(cfg, dir, sizeof(dir));
	if (pfmt(def, sizeof(def), "%s/%s.yaml", realpath(dir, real) ? real : dir, name) < 0)
		def[0] = '\0';
	if (!strcmp(img->source, def))
		return 0;
	fprintf(stderr, "uictl: %s: image \"%s\" is already defined in %s\n", manifest, name,
		img->source);
	return 1;
}

static int build(const char *config, const char *base, const char *dir)
{
	struct ui_config cfg;
	struct ui_manifest m;
	struct image_out out;
	char manifest[PATH_MAX + 16], def[PATH_MAX + 80], b[PATH_MAX], err[2048];
	int rc = 1;

	char real[PATH_MAX];

	snprintf(manifest, sizeof(manifest), "%s/image.yaml", realpath(dir, real) ? real : dir);
	if (load_config(config, &cfg))
		return 1;
	if (ui_manifest_load(manifest, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "uictl: %s\n", err);
		goto free_cfg;
	}
	if (check_name(&cfg, m.name, manifest))
		goto free_m;
	if (base)
		snprintf(b, sizeof(b), "%s", base);
	else
		default_base(b, sizeof(b));
	if (image_build(&m, cfg.state_dir, b, &out, err, sizeof(err)) < 0) {
		fprintf(stderr, "uictl: %s: %s\n", manifest, err);
		goto free_m;
	}
	if (register_image(&cfg, &m, &out, manifest, def, sizeof(def)))
		goto free_m;
	printf("image %s: %s%s\nregistered: %s\n", m.name, out.dir,
	       out.cached ? " (up to date)" : "", def);
	rc = 0;
free_m:
	ui_manifest_free(&m);
free_cfg:
	ui_config_free(&cfg);
	return rc;
}

static int ls(const char *config)
{
	struct ui_config cfg;

	if (load_config(config, &cfg))
		return 1;
	printf("%-20s %-6s %-14s %s\n", "NAME", "KIND", "READY", "SOURCE");
	for (size_t i = 0; i < cfg.n_images; i++) {
		const struct ui_image *img = &cfg.images[i];
		char ready[32];

		if (img->ready_port)
			snprintf(ready, sizeof(ready), "port %u", img->ready_port);
		else
			snprintf(ready, sizeof(ready), "%s", img->ready_pattern[0] ? "console" : "running");
		printf("%-20s %-6s %-14s %s\n", img->name, img->kind == UI_KIND_OSV ? "osv" : "linux",
		       ready, img->source);
	}
	ui_config_free(&cfg);
	return 0;
}

int uictl_image(int argc, char **argv, const char *config)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "base", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = NULL, *sub;
	int opt;

	if (argc < 2)
		return usage("image: needs build or ls");
	sub = argv[1];
	optind = 1;
	argv[1] = argv[0];
	argc--, argv++;
	while ((opt = getopt_long(argc, argv, "c:b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'b': base = optarg; break;
		default: return usage("image: bad option");
		}
	}
	if (!strcmp(sub, "build")) {
		if (optind + 1 != argc)
			return usage("image build: needs one DIR");
		return build(config, base, argv[optind]);
	}
	if (!strcmp(sub, "ls")) {
		if (optind != argc || base)
			return usage("image ls: takes no arguments but --config");
		return ls(config);
	}
	return usage("image: needs build or ls");
}
