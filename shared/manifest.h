/*
 * manifest.h — an app image's manifest, DIR/image.yaml, as `uictl image
 * build DIR` reads it (the builder is tools/uictl/image*.c; this parser is
 * in shared/ so it can be fuzzed, tests/fuzz/fuzz_manifest.c).
 *
 *   name: memcached                 # [a-zA-Z0-9_.-]{1,63}, required
 *   kind: linux                     # linux (default) | osv
 *   files: {/etc/app.conf: app.conf}  # guest path → host path (dirs recursive)
 *   binaries: [/usr/bin/memcached]  # host executables + the libraries they load
 *   cmd: [/usr/bin/memcached, -u, root]   # the app's argv, required
 *   shell: false                    # true: cmd is one string run by /bin/sh -c
 *   env: {KEY: value}
 *   ports: [11211]                  # documentation of what the app serves
 *   ready: {port: 11211}            # or {pattern: "text"}; or null: once running
 *   vcpus: 1                        # 1..32, default 1
 *   mem_mib: 128                    # 16..65536, default 128
 *   # kind: osv only (the disk is what OSv's scripts/build produced):
 *   loader: loader.elf              # OSv's kernel (the loader ELF), required
 *   disk: usr.img                   # required
 *   disk_format: raw                # raw (default) | qcow2
 *   rootfs: rofs                    # rofs | zfs | ramfs | virtiofs
 *
 * Errors are "file:line:col: message" naming the key, as the config's are
 * (the same helpers: config_int.h). Relative host paths resolve against DIR;
 * every host file named must exist when the manifest is read ("… does not
 * exist" naming it), so a build never starts on a missing input.
 *
 * Ownership: struct ui_manifest is caller-embedded; the loads allocate its
 * lists; ui_manifest_free() releases them (NULL-safe, idempotent).
 */
#ifndef UI_MANIFEST_H
#define UI_MANIFEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct ui_mfile {
	char *guest;                    /* absolute, clean */
	char *host;                     /* absolute */
};

struct ui_manifest {
	char file[PATH_MAX];            /* as named, for messages */
	char name[64];
	enum ui_image_kind kind;
	struct ui_mfile *files;         /* files: in file order */
	size_t n_files;
	struct ui_mfile *binaries;      /* host path → guest path */
	size_t n_binaries;
	char **cmd;                     /* the app's argv (shell: ["/bin/sh","-c",s]) */
	size_t n_cmd;
	bool shell;
	char **env;                     /* "KEY=value" */
	size_t n_env;
	unsigned *ports;
	size_t n_ports;
	unsigned ready_port;            /* 0: none */
	char ready_pattern[128];        /* "" with no port: ready once running */
	unsigned vcpus, mem_mib;
	char loader[PATH_MAX];          /* osv */
	char disk[PATH_MAX];            /* osv */
	enum ui_disk_format disk_format;
	char rootfs[16];                /* osv, "" = OSv's default */
};

/* Reads path (DIR/image.yaml). Negative errno, message in err; m freed. */
int ui_manifest_load(const char *path, struct ui_manifest *m, char *err, size_t errlen);

/* The same from memory: name for messages, dir (absolute) for paths. */
int ui_manifest_load_text(const char *name, const char *dir, const char *text, size_t len,
			  struct ui_manifest *m, char *err, size_t errlen);

void ui_manifest_free(struct ui_manifest *m);

#endif
