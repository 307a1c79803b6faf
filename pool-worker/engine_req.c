/*
 * engine_req.c — what starts events (see engine.h): RUN and STOP requests,
 * the pool's slot operations, netd's tap notes. Each fills in what the VM
 * needs and fires one event; engine.c does the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "console.h"
#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "shm.h"
#include "vmid.h"
#include "cmdargs.h"

const struct ui_vmm_driver *pw_engine_driver(const struct pw_engine *e)
{
	return e->cfg->driver == UI_DRIVER_FIRECRACKER ? &pw_drv_firecracker : &pw_drv_qemu;
}

static void reply_now(struct pw_engine *e, const struct ui_msg *m, int status,
		      uint32_t flags, const char *vm_id, const char *err)
{
	struct pw_waiter w = { NULL, m->req_id, m->gen, m->op, false };

	e->hooks.reply(e, &w, status, flags, vm_id, err);
}

static int wait_on(struct pw_waiter **list, const struct ui_msg *m)
{
	int rc = pw_waiter_add(list, m->req_id, m->gen, m->op);
	struct pw_waiter *x = *list;

	while (rc == 0 && x->next)
		x = x->next;
	if (rc == 0)
		x->want_ready = m->op == UI_OP_RUN && (m->flags & UI_RUN_WAIT_READY);
	return rc;
}

/* ---- RUN ------------------------------------------------------------------ */

/* A replayed RUN of a final VM: a failed one is answered as the failure it
 * was (never as a success), a stopped one with the VM. */
void pw_engine_replay_final(struct pw_engine *e, const struct pw_waiter *w,
			    const struct ui_vm *row)
{
	char err[512]; /* the reply keeps what fits */

	if (strcmp(row->state, UI_VM_FAILED) != 0) {
		e->hooks.reply(e, w, 0, UI_REPLY_REPLAYED, row->id, NULL);
		return;
	}
	snprintf(err, sizeof(err), "%s %s: %.100s",
		 row->started_at[0] ? "the VM of this Idempotency-Key ran and failed" :
				      "the run of this Idempotency-Key failed",
		 row->id, row->error[0] ? row->error : "failed");
	e->hooks.reply(e, w, -EIO, 0, row->id, err);
}

/* Joins the run in progress, waits for the VM to settle, or answers now. */
static void replay(struct pw_engine *e, const struct ui_msg *m, const struct ui_vm *row)
{
	struct pw_vm *vm = pw_vm_find(e->vms, row->id);
	bool starting = vm && (vm->state == PW_S_CREATING || vm->state == PW_S_STARTING);
	/* running, pausing, paused, resuming: the run is done, answer now */
	bool settling = vm && !starting && !pw_state_is_live(vm->state);
	struct pw_waiter w = { NULL, m->req_id, m->gen, m->op, false };

	if (starting && wait_on(&vm->run_waiters, m) == 0)
		ui_info("%s: idempotent RUN joins the run in progress", row->id);
	else if (settling && wait_on(&vm->replay_waiters, m) == 0)
		ui_info("%s: idempotent RUN waits for the VM to settle", row->id);
	else if (vm)
		reply_now(e, m, 0, UI_REPLY_REPLAYED, row->id, NULL); /* live */
	else
		pw_engine_replay_final(e, &w, row);
}

/* A failed run that never had a VMM (it failed creating: no tap, netd
 * down, a pool-worker restart, a VMM that could not be spawned) produced
 * nothing the client could use: a retry with its key runs anew, and the
 * old row gives the key up in the same turn (a `retried` event names the
 * new VM). */
static bool never_ran(const struct pw_engine *e, const struct ui_vm *row)
{
	return strcmp(row->state, UI_VM_FAILED) == 0 && row->vmm_pid <= 0 &&
	       !row->started_at[0] && !pw_vm_find(e->vms, row->id);
}

bool pw_engine_replay(struct pw_engine *e, const struct ui_msg *m)
{
	char detail[96];
	struct ui_vm *row;
	int rc;

	if (!m->key[0])
		return false;
	if (!(row = malloc(sizeof(*row)))) {
		reply_now(e, m, -ENOMEM, 0, NULL, "out of memory");
		return true;
	}
	rc = ui_reg_vm_get_by_key(e->reg, m->key, row);
	if (rc == 0 && never_ran(e, row)) {
		snprintf(detail, sizeof(detail), "as %s", m->vm_id);
		rc = e->reg_down_until && ui_now_ms() < e->reg_down_until ? e->reg_down_rc :
		     ui_reg_vm_release_key(e->reg, row->id, detail);
		if (rc == 0)
			ui_info("%s: failed before it had a VMM; its Idempotency-Key runs anew as %s",
				row->id, m->vm_id);
		rc = rc == 0 ? -ENOENT : rc == -ESTALE ? -EBUSY : rc;
	} else if (rc == 0) {
		replay(e, m, row);
	}
	if (rc < 0 && rc != -ENOENT)
		reply_now(e, m, rc == -EBUSY ? -EAGAIN : rc == -ENOSPC ? -ENOSPC : -EIO, 0, NULL,
			  rc == -EBUSY ? "the registry is busy; try again" :
			  rc == -ENOSPC ? "the registry's disk is full (state_dir: no space left on device)" :
			  "registry error");
	free(row);
	return rc != -ENOENT;
}

/* Names are unique among live VMs: the holder, in a sentence, or NULL. */
static const char *name_taken(struct pw_engine *e, const char *name)
{
	static char msg[160];

	for (struct pw_vm *vm = e->vms; vm; vm = vm->next)
		if (!pw_state_is_slot(vm->state) && !pw_state_is_final(vm->state) &&
		    vm->state != PW_S_NEW && strcmp(vm->row.name, name) == 0) {
			snprintf(msg, sizeof(msg), "name %s is taken by VM %s (%s)", name,
				 vm->row.id, pw_state_name(vm->state));
			return msg;
		}
	return NULL;
}

int pw_engine_admit(struct pw_engine *e, const struct ui_msg *m,
		    const struct ui_image **img, const char **err)
{
	unsigned vcpus, mem;

	*img = ui_config_image(e->cfg, m->image);
	if (!m->vm_id[0])
		return *err = "missing VM id", -EINVAL;
	if (!*img)
		return *err = "unknown image", -ENOENT;
	vcpus = m->vcpus ? m->vcpus : (*img)->vcpus;
	mem = m->mem_mib ? m->mem_mib : (*img)->mem_mib;
	if (vcpus < 1 || vcpus > 32 || mem < 16 || mem > 65536)
		return *err = "vcpus or mem_mib out of range", -EINVAL;
	if (pw_engine_active(e) >= e->cfg->max_vms)
		return *err = "VM limit reached", -ENOSPC;
	if (pw_vm_find(e->vms, m->vm_id))
		return *err = "VM id already exists", -EEXIST;
	if (m->name[0] && (*err = name_taken(e, m->name)))
		return -EEXIST;
	return 0;
}

/* ---- DELETE ----------------------------------------------------------------- */

/* A stopped or failed VM's row goes, with its events. One still in memory
 * (live, or its final write pending) is not deleted. */
void pw_engine_delete(struct pw_engine *e, const struct ui_msg *m)
{
	struct pw_vm *vm = pw_vm_find(e->vms, m->vm_id);
	int rc;

	if (vm && !pw_state_is_slot(vm->state)) {
		reply_now(e, m, -EEXIST, 0, m->vm_id, pw_state_is_final(vm->state) ?
			  "VM is being recorded as stopped; try again" :
			  "VM is not stopped or failed: stop it first");
		return;
	}
	if (e->reg_down_until && ui_now_ms() < e->reg_down_until)
		rc = e->reg_down_rc;
	else
		rc = ui_reg_vm_remove(e->reg, m->vm_id);
	if (rc == 0) {
		ui_info("%s: deleted (DELETE /vm)", m->vm_id);
		pw_console_remove_id(e->cfg->state_dir, m->vm_id); /* its console log with it */
	}
	if (rc == 0 || rc == -ESTALE)
		reply_now(e, m, rc == 0 ? 0 : -EEXIST, 0, m->vm_id,
			  rc == 0 ? NULL : "VM is not stopped or failed: stop it first");
	else
		reply_now(e, m, rc == -EBUSY ? -EAGAIN : rc == -ENOSPC ? -ENOSPC : -EIO, 0,
			  m->vm_id, rc == -EBUSY ? REG_BUSY_MSG : rc == -ENOSPC ? REG_FULL_MSG :
			  "registry error");
}

static void fill_image(struct ui_vm *r, const struct ui_image *img)
{
	snprintf(r->image, sizeof(r->image), "%s", img->name);
	snprintf(r->kernel, sizeof(r->kernel), "%s", img->kernel);
	snprintf(r->initrd, sizeof(r->initrd), "%s", img->initrd);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s", pw_image_disk(img));
	snprintf(r->boot_args, sizeof(r->boot_args), "%s", img->boot_args);
}

/* The run's argv as the message carries it (apid checked it). */
static void msg_cmd(const struct ui_msg *m, struct ui_cmd *c)
{
	memset(c, 0, sizeof(*c));
	if (!(m->flags & UI_RUN_CMD) || m->cmd_len > sizeof(c->buf))
		return;
	memcpy(c->buf, m->cmd, m->cmd_len);
	c->len = m->cmd_len;
	c->argc = m->cmd_argc;
}

bool pw_engine_run_custom(const struct ui_msg *m, const struct ui_image *img)
{
	struct ui_cmd c;

	msg_cmd(m, &c);
	return m->boot_args[0] || ((m->flags & UI_RUN_CMD) && !ui_cmd_equal(&c, &img->cmd));
}

/* The run's cmd and boot_args, kept for its boot line (pw_engine_boot_args). */
static void fill_args(struct pw_vm *vm, const struct ui_msg *m)
{
	msg_cmd(m, &vm->run_cmd);
	vm->has_cmd = vm->run_cmd.argc > 0;
	snprintf(vm->run_args, sizeof(vm->run_args), "%.*s", (int)sizeof(m->boot_args) - 1,
		 m->boot_args);
}

/* What the request says of the VM: name, key, creation time. */
static void fill_request(struct ui_vm *r, const struct ui_msg *m)
{
	snprintf(r->name, sizeof(r->name), "%s", m->name);
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", m->key);
	ui_registry_now(r->created_at, sizeof(r->created_at));
}

/* A run on a warm slot: the VM is the slot (id, lease, VMM). */
static void run_on_slot(struct pw_engine *e, struct pw_vm *vm, const struct ui_msg *m,
			const struct ui_image *img)
{
	char detail[96];

	fill_request(&vm->row, m);
	fill_args(vm, m);
	vm->origin = PW_ORIGIN_SLOT;
	if (!vm->row.image[0]) { /* warmed without an image: the driver applies it */
		fill_image(&vm->row, img);
		if (pw_engine_boot_args(e, vm, img) < 0) {
			reply_now(e, m, -EINVAL, 0, vm->row.id, "kernel command line too long");
			pw_engine_retire(vm, "kernel command line too long");
			return;
		}
	}
	if (wait_on(&vm->run_waiters, m) < 0) {
		reply_now(e, m, -ENOMEM, 0, NULL, "out of memory");
		return;
	}
	ui_info("%s: RUN (proposed id %s) takes this warm slot", vm->row.id, m->vm_id);
	snprintf(detail, sizeof(detail), "%s (warm slot)", vm->row.image);
	pw_engine_fire(vm, PW_E_RUN, 0, detail);
}

static void run_cold(struct pw_engine *e, const struct ui_msg *m, const struct ui_image *img)
{
	struct pw_vm *vm = pw_vm_new(&e->vms, &e->env, m->vm_id, e);
	struct ui_vm *r;

	if (!vm) {
		reply_now(e, m, -ENOMEM, 0, m->vm_id, "out of memory");
		return;
	}
	pw_engine_attach(e, vm, pw_engine_driver(e));
	r = &vm->row;
	fill_image(r, img);
	fill_request(r, m);
	fill_args(vm, m);
	r->vcpus = m->vcpus ? m->vcpus : img->vcpus;
	r->mem_mib = m->mem_mib ? m->mem_mib : img->mem_mib;
	snprintf(r->driver, sizeof(r->driver), "%s", vm->vmm.drv->name);
	if (pw_vm_paths(e->cfg, r) < 0 || wait_on(&vm->run_waiters, m) < 0) {
		reply_now(e, m, -ENAMETOOLONG, 0, m->vm_id, "path too long or out of memory");
		pw_vm_free(&e->vms, vm);
		return;
	}
	pw_engine_fire(vm, PW_E_RUN, 0, img->name);
}

void pw_engine_run(struct pw_engine *e, const struct ui_msg *m, const struct ui_image *img,
		   struct pw_vm *slot)
{
	if (slot)
		run_on_slot(e, slot, m, img);
	else
		run_cold(e, m, img);
}

/* ---- STOP ------------------------------------------------------------------ */

/* A VM not in memory: final rows are fine, others are not ours. */
static void stop_unmanaged(struct pw_engine *e, const struct ui_msg *m)
{
	struct ui_vm *row = malloc(sizeof(*row));
	int rc = row ? ui_reg_vm_get(e->reg, m->vm_id, row) : -ENOMEM;

	if (rc == -ENOENT || (rc == 0 && ui_vm_state_is_slot(row->state)))
		reply_now(e, m, -ENOENT, 0, m->vm_id, "no such VM");
	else if (rc < 0)
		reply_now(e, m, rc == -EBUSY ? -EAGAIN : -EIO, 0, m->vm_id,
			  rc == -EBUSY ? "the registry is busy; try again" : "registry error");
	else if (ui_vm_state_is_final(row->state))
		reply_now(e, m, 0, 0, m->vm_id, NULL);
	else
		reply_now(e, m, -EIO, 0, m->vm_id, "VM is not managed by this pool-worker");
	free(row);
}

void pw_engine_stop(struct pw_engine *e, const struct ui_msg *m)
{
	struct pw_vm *vm = pw_vm_find(e->vms, m->vm_id);
	const char *detail = NULL;

	if (!vm || pw_state_is_slot(vm->state)) { /* a slot is nobody's VM */
		stop_unmanaged(e, m);
		return;
	}
	if (pw_state_is_final(vm->state) && !pw_eng_has_deferred(e, vm)) {
		/* final, its write retried by the tick: the registry says the
		 * last state it took (apid reads it) */
		reply_now(e, m, 0, 0, vm->row.id, NULL);
		return;
	}
	if (wait_on(&vm->stop_waiters, m) < 0) {
		reply_now(e, m, -ENOMEM, 0, m->vm_id, "out of memory");
		return;
	}
	if (pw_state_is_final(vm->state))
		return; /* final, its commit pending: answered once it is done */
	if (vm->state == PW_S_CREATING)
		detail = "while creating";
	else if (vm->state == PW_S_STARTING)
		detail = "while starting";
	pw_engine_fire(vm, PW_E_STOP, 0, detail);
}

void pw_engine_stop_vm(struct pw_vm *vm, const char *why)
{
	pw_engine_fire(vm, PW_E_STOP, 0, why);
}

/* ---- slots ----------------------------------------------------------------- */

int pw_engine_slot_new(struct pw_engine *e, const struct ui_vmm_driver *drv,
		       const struct ui_image *img)
{
	char id[UI_VM_ID_LEN + 1];
	struct pw_vm *vm;
	struct ui_vm *r;
	int rc = ui_vm_id_new(id);

	if (rc < 0)
		return rc;
	if (!(vm = pw_vm_new(&e->vms, &e->env, id, e)))
		return -ENOMEM;
	pw_engine_attach(e, vm, drv);
	r = &vm->row;
	r->vcpus = img ? img->vcpus : PW_SLOT_VCPUS;
	r->mem_mib = img ? img->mem_mib : PW_SLOT_MEM_MIB;
	if (img)
		fill_image(r, img);
	snprintf(r->driver, sizeof(r->driver), "%s", drv->name);
	ui_registry_now(r->created_at, sizeof(r->created_at));
	if ((rc = pw_vm_paths(e->cfg, r)) < 0) {
		pw_vm_free(&e->vms, vm);
		return rc;
	}
	ui_info("%s: warm slot (%s)", id, img ? img->name : "no image");
	pw_engine_fire(vm, PW_E_SLOT, 0, "warm slot"); /* its outcome: changed() */
	return 0;
}

void pw_engine_retire(struct pw_vm *vm, const char *why)
{
	pw_engine_fire(vm, PW_E_RETIRE, 0, why);
}

/* ---- netd's notes ------------------------------------------------------------- */

static struct pw_vm *waiting_for(struct pw_engine *e, const char *tap)
{
	for (struct pw_vm *vm = e->vms; vm; vm = vm->next)
		if ((vm->state == PW_S_CREATING || vm->state == PW_S_PENDING) &&
		    strcmp(vm->row.tap, tap) == 0)
			return vm;
	return NULL;
}

void pw_engine_tap_note(struct pw_engine *e, const struct ui_msg *note)
{
	struct pw_vm *vm = waiting_for(e, note->tap);
	char err[256];

	if (!vm)
		return; /* nobody waits for it (any more) */
	if (note->status == 0) {
		pw_engine_fire(vm, PW_E_TAP_READY, 0, NULL);
		return;
	}
	snprintf(err, sizeof(err), "network: %s",
		 note->error[0] ? note->error : strerror(-note->status));
	pw_engine_fire(vm, PW_E_ERROR, note->status, err);
}
