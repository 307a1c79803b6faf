/*
 * cgroup.h — a cgroup per VM: its VMM's CPU quota, memory limit and pids
 * limit, and how it ended (out of memory or not).
 *
 * Layout (one tree per controller on v1, one tree on v2):
 *   <base>/uigniter-<instance>/         the VMs' parent: a lower CPU weight
 *                                       than the daemons (cpu.shares 256 /
 *                                       cpu.weight 25) — VMMs together
 *                                       cannot starve the control plane
 *   <base>/uigniter-<instance>/<vm id>/ one VM: cpu quota = vcpus × period,
 *                                       memory limit = mem_mib + overhead,
 *                                       pids.max
 * <instance> is the hash of state_dir (the shm name's), so instances on
 * one host never share a parent. <base> is, per hierarchy: vmm.cgroup_root
 * when set (v1: <root>/<controller>); else v1: our own cgroup in that
 * hierarchy (/proc/self/cgroup), v2: the cgroup above ours (the
 * no-internal-process rule: a cgroup holding the daemons cannot have
 * children with controllers), or the root when we are in it.
 *
 * Who calls what: pw_cg_setup/pw_cg_fini at pool-worker start and end
 * (main.c); pw_cg_create + pw_cg_attach on the spawn thread (vmm_proc.c:
 * the VMM is moved in right after its exec returns, before SPAWNED);
 * pw_cg_end when a VMM's exit is seen (engine.c: reads the OOM count,
 * removes the cgroup); pw_cg_sweep at start and every tick (worker.c:
 * removes what no live VM owns, level-triggered — after a crash too).
 *
 * Ownership: struct pw_cgroups is caller-embedded (one per pool-worker,
 * read-only after setup, shared with every VM); struct pw_cg_spec is a
 * self-contained value (copied into a spawn job). Nothing allocates.
 */
#ifndef PW_CGROUP_H
#define PW_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

enum pw_cg_mode { PW_CG_OFF, PW_CG_V1, PW_CG_V2 };
enum pw_cg_ctrl { PW_CG_CPU, PW_CG_MEMORY, PW_CG_PIDS, PW_CG_NCTRL };

#define PW_CG_PERIOD_US 100000
#define PW_CG_PARENT_SHARES 256     /* v1 cpu.shares of the VMs' parent (default 1024) */
#define PW_CG_PARENT_WEIGHT 25      /* v2 cpu.weight (default 100) */

struct pw_cgroups {
	enum pw_cg_mode mode;
	/* The VMs' parent: v1 one per controller, v2 parent[0] only. */
	char parent[PW_CG_NCTRL][PATH_MAX];
	/* Mount points we made (""), unmounted by pw_cg_fini. */
	char mounted[PW_CG_NCTRL][PATH_MAX];
	unsigned overhead_mib;      /* vmm.mem_overhead_mib */
	unsigned pids_max;          /* vmm.pids_max */
};

/* One VM's cgroup: directories and limits. */
struct pw_cg_spec {
	enum pw_cg_mode mode;       /* PW_CG_OFF: nothing to do */
	char dir[PW_CG_NCTRL][PATH_MAX];
	unsigned vcpus, limit_mib, pids_max;
};

/* Chooses and prepares the hierarchy per cfg (vmm.cgroup, vmm.cgroup_root):
 * finds the mounts, mounts what is missing under <run_dir>/cgroup/, creates
 * the VMs' parent. Logs the choice. auto with nothing usable: PW_CG_OFF and
 * 0 (logged why); v1/v2 or a cgroup_root asked for and not usable: -errno
 * + sentence. */
int pw_cg_setup(struct pw_cgroups *cg, const struct ui_config *cfg, char *err,
		size_t errlen);
/* The same on given bases (one per controller for v1, base[0] for v2) —
 * what pw_cg_setup does once it has found them; unit tests use a tmpdir. */
int pw_cg_setup_at(struct pw_cgroups *cg, enum pw_cg_mode mode,
		   const char *const base[PW_CG_NCTRL], const char *name,
		   const struct ui_config *cfg, char *err, size_t errlen);
/* Removes the parent when empty and unmounts what setup mounted. */
void pw_cg_fini(struct pw_cgroups *cg);

/* The cgroup of VM id with vcpus and mem_mib (cg NULL or off: mode OFF). */
void pw_cg_spec(const struct pw_cgroups *cg, const char *id, unsigned vcpus,
		unsigned mem_mib, struct pw_cg_spec *out);
/* Creates the VM's cgroup with its limits (an existing one is reused). */
int pw_cg_create(const struct pw_cg_spec *s, char *err, size_t errlen);
/* Moves pid into it. */
int pw_cg_attach(const struct pw_cg_spec *s, pid_t pid, char *err, size_t errlen);
/* Removes it (gone already: 0); -EBUSY while a process is in it. */
int pw_cg_remove(const struct pw_cg_spec *s);
/* How many processes its memory limit's OOM killer has killed (v1
 * memory.oom_control, v2 memory.events: oom_kill); -errno. */
int pw_cg_oom_kills(const struct pw_cg_spec *s);
/* Its memory limit in MiB as the kernel holds it; -errno. */
int pw_cg_limit_mib(const struct pw_cg_spec *s, unsigned *mib);

/* A VMM of VM id has exited: true when the OOM killer ended it (*limit_mib
 * then says at which limit); the cgroup is removed either way (a failure
 * is left to the sweep). */
bool pw_cg_end(const struct pw_cgroups *cg, const char *id, unsigned *limit_mib);

/* Removes every VM cgroup under the parent whose id live() refuses;
 * returns how many were removed (one still holding a process stays, for a
 * later pass). */
int pw_cg_sweep(const struct pw_cgroups *cg, bool (*live)(const char *id, void *arg),
		void *arg);

const char *pw_cg_mode_name(enum pw_cg_mode m);

#endif
