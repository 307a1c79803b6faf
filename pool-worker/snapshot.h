/*
 * snapshot.h — snapshot-started slots (pool.boot: snapshot): one
 * template per warm image and shape, booted once and saved, and the pure
 * pieces a restored slot's spawn is made of (docs/ARCHITECTURE.md
 * "Snapshot-started slots").
 *
 * The template: the image booted with drv_qemu.c's argv, a hubport netdev
 * (no tap, no lease), a virtio-serial port named uigniter.agent and a
 * kernel command line without ip= but uigniter.agent=uigniter.agent; its
 * console says UIGNITER-TEMPLATE (tools/guest/init) → QMP stop → the state
 * file opened by pool-worker is handed to QEMU (getfd over QMP, SCM_RIGHTS)
 * → migrate fd: → query-migrate "completed" → <file>.tmp renamed to
 * <state_dir>/templates/<image>.<vcpus>x<mem>.state → quit. One build at a
 * time; a build that fails leaves no file, says why (GET /pool
 * template.error) and the pool boots its slots ahead.
 *
 * A template is a cache, never trusted after a crash: the directory is
 * emptied when pool-worker starts (pw_snap_init) and the file removed when
 * it stops (pw_snap_stop), when the image's files change (stamp, as
 * pool_image.c) or pool.warm_image names another image.
 *
 * A slot (drv_qemu.c): the same argv with the slot's tap, MAC and sockets,
 * -S -incoming fd:3 (the file opened by pool-worker, read-only, passed as
 * the VMM's fd 3: the VMM user needs no access to state_dir, and QEMU's
 * sandbox forbids the exec: URI's shell), then the agent line on the port.
 *
 * With vmm.driver firecracker (snapshot_fc.c, fc_restore.h): the template
 * is the driver's own warm-up (PUT /vsock, the line with
 * uigniter.agent=vsock:52, PATCH /vm Paused, PUT /snapshot/create) and
 * leaves two files, <image>.<vcpus>x<mem>.state and .mem; a slot is a
 * fresh Firecracker given PUT /snapshot/load and the agent line over vsock.
 *
 * Ownership: struct pw_snap is caller-embedded (the pool's); a build in
 * progress is heap-owned and frees itself once its VMM's exit is seen.
 */
#ifndef PW_SNAPSHOT_H
#define PW_SNAPSHOT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "config.h"
#include "driver.h"

#define PW_SNAP_PORT "uigniter.agent"      /* the virtio-serial port's name */
#define PW_SNAP_BANNER "UIGNITER-TEMPLATE" /* the template guest waits for a line */
#define PW_SNAP_ID "template"       /* its VMM directory, jail and cgroup */

enum pw_tmpl_state { PW_TMPL_NONE, PW_TMPL_BUILDING, PW_TMPL_READY, PW_TMPL_FAILED };

struct pw_tmpl_build;
struct pw_fc_tmpl;
struct ui_pool_table;

struct pw_snap {
	const struct pw_vmm_env *env;
	unsigned tsc_khz;              /* TCG: the Linux guests' tsc_early_khz */
	enum pw_tmpl_state state;
	char image[64];                /* the image it is (or was) for */
	unsigned vcpus, mem_mib;
	struct ui_vm src;              /* the image's files (for the stamp) */
	uint64_t stamp;
	char dir[PATH_MAX];            /* <state_dir>/templates (Firecracker: <run_dir>/) */
	char file[PATH_MAX + 160];     /* the state file (READY) */
	char mem_file[PATH_MAX + 160]; /* firecracker: the memory file (READY) */
	char cmdline[2048];            /* the template's kernel command line */
	char built_at[32];
	uint64_t bytes;
	char error[256];               /* FAILED: why */
	unsigned fails;                /* slots failed in a row while READY */
	bool swept;                    /* firecracker: leftover template taps looked for */
	struct pw_tmpl_build *b;       /* the build in progress (qemu) */
	struct pw_fc_tmpl *fb;         /* … (firecracker: snapshot_fc.c) */
	void (*done)(struct pw_snap *s, int status); /* a build ended */
	void *arg;
};

/* Empties <state_dir>/templates and <run_dir>/templates, makes the
 * driver's (QEMU: state_dir, Firecracker: run_dir; snapshot.c says why);
 * -errno + a log line. */
int pw_snap_init(struct pw_snap *s, const struct pw_vmm_env *env, unsigned tsc_khz,
		 void (*done)(struct pw_snap *s, int status), void *arg);
/* The pool wants slots of img: the template's state for it, after
 * discarding one for another image or changed files and starting a build
 * when there is none. FAILED: boot ahead. */
enum pw_tmpl_state pw_snap_want(struct pw_snap *s, const struct ui_image *img);
/* The state file to restore a slot of image/vcpus/mem from, or NULL. */
const char *pw_snap_file(const struct pw_snap *s, const char *image, unsigned vcpus,
			 unsigned mem_mib);
/* Each second: the image's files changed under a template? Then it is
 * discarded: true (the pool refills, which builds anew). */
bool pw_snap_tick(struct pw_snap *s);
/* A slot failed while warming / one became ready: PW_SNAP_MAX_FAILS
 * failures in a row while the template is READY (restores that do not
 * load, e.g. a damaged file) fail the template: slots then boot ahead. */
#define PW_SNAP_MAX_FAILS 2u
void pw_snap_slot_failed(struct pw_snap *s, const char *why);
void pw_snap_slot_ready(struct pw_snap *s);
/* SIGHUP: a failed template may be tried again. */
void pw_snap_retry(struct pw_snap *s);
/* Ends a build in progress and removes the file and the directory with
 * the templates' console logs (pool-worker stops). */
void pw_snap_stop(struct pw_snap *s);
/* Into GET /pool's table. */
void pw_snap_publish(const struct pw_snap *s, struct ui_pool_table *t);
/* A build is in progress (its VMM's cgroup is live). */
bool pw_snap_building(const struct pw_snap *s);

/* ---- between snapshot.c and snapshot_fc.c ---- */

/* A build ended: 0 READY (files in place, bytes set), -ECANCELED NONE (no
 * `done`), else FAILED with err. */
void pw_snap_settle(struct pw_snap *s, int status, const char *err);
void pw_snap_unlink(const char *path);
int pw_snap_fc_start(struct pw_snap *s, const struct ui_image *img, char *err, size_t len);
void pw_snap_fc_cancel(struct pw_snap *s);
/* Each second while no build runs: a template tap left by a crash goes. */
void pw_snap_fc_tick(struct pw_snap *s);
void pw_snap_fc_tap_name(const struct ui_config *cfg, char *out, size_t len);

/* ---- pure (tests/unit/test_snapshot.c) ---- */

/* base (drv_qemu.c's argv, pw_qemu_argv_img) with the agent port on
 * agent_sock; template: the tap netdev replaced by a hubport; else (a
 * slot) -S -incoming fd:PW_VMM_PASS_FD after it. -E2BIG. */
int pw_snap_argv(const struct pw_argv *base, bool template, const char *agent_sock,
		 struct pw_argv *out);
/* The template's kernel command line: the image's boot_args, the TCG
 * extra (NULL or ""), uigniter.agent=<port>. -ENAMETOOLONG. */
int pw_snap_cmdline(const char *boot_args, const char *linux_extra, char *out, size_t len);
/* The same with the agent's word given (firecracker: "vsock:52"). */
int pw_snap_cmdline_agent(const char *boot_args, const char *linux_extra, const char *agent,
			  char *out, size_t len);
/* The line a restored slot's guest reads on the port: the words from ip=
 * of its boot line (ip, uigniter.id, a cmd), uigniter.mac, uigniter.seed
 * (64 hex digits of seed), "\n". -EINVAL without ip=; -ENAMETOOLONG. */
int pw_snap_agent_line(const char *boot_line, const char *mac, const uint8_t seed[32],
		       char *out, size_t len);

#endif
