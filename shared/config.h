/*
 * config.h — the operator's YAML configuration (libyaml), with embedded
 * defaults for everything, so `uigniterd` runs with no file at all and
 * `uigniterd --config etc/uigniter.yaml` runs with no edits.
 *
 * Every error names the place: "file:line:col: message" (line and column
 * 1-based, from libyaml's marks). Unknown keys are errors (a typo must not be
 * silently ignored). Relative paths in the file resolve against the
 * directory of the config file, so a checkout's etc/uigniter.yaml can point
 * at ../build/guest.
 *
 * Ownership: struct ui_config is caller-embedded; ui_config_load() fills it
 * and allocates `images`; ui_config_free() releases that (NULL-safe).
 */
#ifndef UI_CONFIG_H
#define UI_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

enum ui_guest_ip { UI_GUEST_IP_LINUX, UI_GUEST_IP_OSV, UI_GUEST_IP_NONE };
enum ui_driver { UI_DRIVER_AUTO, UI_DRIVER_FIRECRACKER, UI_DRIVER_QEMU };
enum ui_accel { UI_ACCEL_AUTO, UI_ACCEL_KVM, UI_ACCEL_TCG };
enum ui_shutdown_policy { UI_SHUTDOWN_LEAVE, UI_SHUTDOWN_STOP };
/* How far a warm slot is prepared: up to the guest's first instruction, or
 * booted until its image is ready, then paused. */
enum ui_pool_boot { UI_POOL_BOOT_PREPARED, UI_POOL_BOOT_AHEAD, UI_POOL_BOOT_SNAPSHOT };
enum ui_cgroup { UI_CGROUP_AUTO, UI_CGROUP_V2, UI_CGROUP_V1, UI_CGROUP_OFF };
/* An image's guest: a Linux kernel (+ initramfs/rootfs) or an OSv unikernel. */
enum ui_image_kind { UI_KIND_LINUX, UI_KIND_OSV };
enum ui_disk_format { UI_DISK_RAW, UI_DISK_QCOW2 };
/* QEMU machine: auto = chosen per image and accelerator (pool-worker). */
enum ui_machine { UI_MACHINE_AUTO, UI_MACHINE_MICROVM, UI_MACHINE_Q35 };
/* How a stop reaches the guest: auto = from kind and machine. */
enum ui_stop { UI_STOP_AUTO, UI_STOP_POWERDOWN, UI_STOP_KILL };

/* An image's argv (cmd): strings NUL-separated in buf, argc of them. */
#define UI_CMD_MAX_ARGS 64
#define UI_CMD_MAX_BYTES 512     /* sum of strlen + 1 over the strings */
struct ui_cmd {
	char buf[UI_CMD_MAX_BYTES];
	unsigned len;                   /* bytes used in buf */
	unsigned argc;                  /* 0 = none */
};

struct ui_image {
	char name[64];                  /* [a-zA-Z0-9_.-]{1,63} */
	char kernel[PATH_MAX];          /* absolute after load; required */
	char initrd[PATH_MAX];          /* absolute or "" */
	char rootfs[PATH_MAX];          /* absolute or "" */
	char boot_args[512];            /* default "console=ttyS0 reboot=k panic=-1" */
	unsigned vcpus;                 /* default 1, 1..32 */
	unsigned mem_mib;               /* default 128, 16..65536 */
	enum ui_guest_ip guest_ip;      /* default linux */
	/* When the guest is ready (its app answers): a TCP port on its address
	 * that accepts (ready_port), else a console line holding ready_pattern;
	 * "" and no port: ready once running. */
	char ready_pattern[128];        /* default "UIGNITER-READY" */
	unsigned ready_port;            /* 0 (none) or 1..65535 */
	/* with ready_port: an HTTP GET of this path ("/…") on the port must
	 * answer 2xx/3xx (it also primes the app before an ahead slot is
	 * paused: pool-worker/ready.h); "" none */
	char ready_http[256];

	/* kind osv (see README "OSv images"): kernel is OSv's loader ELF,
	 * disk its disk, rootfs (osv_fs) the filesystem it mounts, cmd the
	 * app's command line. For linux, rootfs is a disk path (above) and
	 * cmd the app's argv the guest init runs (uigniter.cmd=). */
	enum ui_image_kind kind;        /* default linux */
	char disk[PATH_MAX];            /* absolute or "" */
	enum ui_disk_format disk_format; /* default raw */
	char osv_fs[16];                /* rofs|zfs|ramfs|virtiofs or "" */
	struct ui_cmd cmd;              /* default: none */
	enum ui_machine machine;        /* default auto */
	enum ui_stop stop;              /* default auto */
	bool allow_cmd;                 /* per-run cmd/boot_args; default true */
	char source[PATH_MAX];          /* the file that defined it (not a key) */
};

#define UI_MAX_IMAGE_DIRS 8

struct ui_config {
	char path[PATH_MAX];            /* the file loaded, or "" for defaults */
	char state_dir[PATH_MAX];       /* default /var/lib/uigniter: registry.db, logs */
	char run_dir[PATH_MAX];         /* default /run/uigniter: sockets, vms/ */
	enum ui_log_level log_level;    /* default info */
	enum ui_log_format log_format;  /* default text; json: one object a line */
	enum ui_shutdown_policy shutdown_policy; /* default leave */

	/* api: */
	char api_tcp[64];               /* "127.0.0.1:6666"; "" disables TCP */
	char api_unix[PATH_MAX];        /* default <run_dir>/api.sock; "" disables */
	char api_token_file[PATH_MAX];  /* the TCP bearer token: default <state_dir>/api.token
					 * (made by uigniterd when missing); "": TCP without
					 * a token, loopback addresses only */
	char api_group[33];             /* group of the unix socket and the admin-readable
					 * files (registry, console logs); "" (default):
					 * root only */
	gid_t api_gid;                  /* api_group resolved at load; 0 without one */

	/* network: */
	char bridge[16];                /* default "uigniter0" (IFNAMSIZ) */
	uint32_t subnet;                /* host byte order; default 172.31.0.0 */
	unsigned prefix_len;            /* default 24; 16..30 */
	uint32_t gateway;               /* host byte order; default subnet+1 */
	char tap_prefix[8];             /* default "uit-" */
	unsigned tap_stock;             /* spare ready taps netd keeps; default 8,
					 * 0 = none (a tap per run, deleted after) */

	/* vmm: */
	enum ui_driver driver;          /* default auto */
	char qemu_bin[PATH_MAX];        /* default "qemu-system-x86_64" (PATH lookup) */
	char firecracker_bin[PATH_MAX]; /* default "firecracker" */
	enum ui_accel accel;            /* default auto */
	unsigned stop_timeout_ms;       /* default 10000 */
	unsigned boot_timeout_ms;       /* VMM up and QMP answering; default 20000 */
	enum ui_cgroup cgroup;          /* a cgroup per VM: default auto (v2, else v1, else off) */
	char cgroup_root[PATH_MAX];     /* "" (default): found or mounted; else the base */
	unsigned mem_overhead_mib;      /* memory limit = mem_mib + this; default 96 */
	unsigned pids_max;              /* a VM cgroup's pids.max; default 256 */
	char vmm_user[33];              /* VMMs run as this user; default "uigniter-vmm"
					 * (created when missing); "root" = no drop */
	char jailer_bin[PATH_MAX];      /* "" (default): no jailer (Firecracker only) */
	char chroot_base[PATH_MAX];     /* the jailer's --chroot-base-dir; default <run_dir>/jail */
	char image_dirs[UI_MAX_IMAGE_DIRS][PATH_MAX]; /* kernel/initrd/rootfs must lie under one;
					 * default <state_dir>/images and the build's guest dir */
	unsigned n_image_dirs;

	/* pool: */
	unsigned pool_size;             /* default 0 */
	char warm_image[64];            /* default "" */
	enum ui_pool_boot pool_boot;    /* default prepared; ahead needs warm_image;
					 * snapshot: ahead slots restored from a
					 * template (qemu only: pool-worker/snapshot.c)
					 * (read at start: SIGHUP keeps it) */
	unsigned pool_max_mem_mib;      /* default 0 = no cap: no slot booted ahead
					 * while paused VMs' and ready slots' RSS
					 * plus one more slot would pass it */

	/* limits: */
	unsigned max_vms;               /* default 64: running+starting at once */
	size_t max_body_bytes;          /* default 65536 */
	size_t max_header_bytes;        /* default 16384 */
	unsigned request_timeout_ms;    /* whole request read deadline; default 10000 */
	unsigned run_timeout_ms;        /* apid waits this long for a run; default 60000 */
	unsigned max_conns_tcp;         /* apid's open TCP connections; default 1024 */
	unsigned max_conns_unix;        /* apid's open unix socket connections; default 64 */
	unsigned idle_timeout_ms;       /* keep-alive idle connection closed; default 30000 */
	unsigned keep_stopped;          /* stopped/failed rows kept (oldest pruned); default 10000 */
	unsigned ready_timeout_ms;      /* a guest not ready by then: 504 (wait: ready),
					 * the watch gives up; default 60000 */
	unsigned console_bytes;         /* a console log is rotated past this (console.log
					 * + console.log.1); default 1 MiB */

	/* images_dir: one <name>.yaml per image (uictl image build writes them),
	 * read after the file's own images: by ui_config_load; "" (default) =
	 * <state_dir>/images. Absent directory = no extra images. */
	char images_dir[PATH_MAX];

	struct ui_image *images;        /* owned; n_images entries */
	size_t n_images;
	/* Image tables replaced by ui_config_reload_images, kept until
	 * ui_config_free so pointers a daemon holds into them stay valid. */
	struct ui_image **retired;      /* owned */
	size_t n_retired;
};

/* Fills cfg with the embedded defaults (no images). */
void ui_config_defaults(struct ui_config *cfg);

/*
 * Loads path over the defaults. On failure returns negative errno and writes
 * "file:line:col: message" (or "file: message" for I/O errors) into err.
 * cfg is left freed on failure.
 */
int ui_config_load(const char *path, struct ui_config *cfg, char *err, size_t errlen);

/*
 * The same from a text in memory (len bytes, no NUL needed): name stands for
 * the file in messages and cfg->path, dir (absolute, canonical) is where
 * relative paths resolve. For tests and the fuzzer; no file is read.
 */
int ui_config_load_text(const char *name, const char *dir, const char *text, size_t len,
			struct ui_config *cfg, char *err, size_t errlen);

void ui_config_free(struct ui_config *cfg);

/*
 * SIGHUP: re-reads cfg->path (its images: and images_dir) and replaces
 * cfg->images with the result; nothing else of cfg changes. The old table
 * is retired, not freed (see retired). On failure cfg is unchanged and err
 * holds the message. -ENOENT when cfg came from the defaults (no file).
 */
int ui_config_reload_images(struct ui_config *cfg, char *err, size_t errlen);

/* The directory images are registered in: images_dir, or <state_dir>/images. */
void ui_config_images_dir(const struct ui_config *cfg, char *buf, size_t len);

/* NULL when no image has that name. */
const struct ui_image *ui_config_image(const struct ui_config *cfg, const char *name);

/* Path of the registry: <state_dir>/registry.db. */
void ui_config_registry_path(const struct ui_config *cfg, char *buf, size_t len);

/* The umask of every uigniter process: 0027 with api.group, else 0077. */
mode_t ui_config_umask(const struct ui_config *cfg);

/* POSIX shm name of this instance: "/uigniter-<hex hash of state_dir>". */
void ui_config_shm_name(const struct ui_config *cfg, char *buf, size_t len);

#endif
