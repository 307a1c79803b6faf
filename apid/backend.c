/*
 * backend.c — apid's side of the system contract (see backend.h and
 * docs/ARCHITECTURE.md "Rings"): registry reads, shm status, ring 0
 * producer, ring 1 consumer.
 *
 * Ring 1 is consumed with a ring reader (ringio.h: one fairness rule for
 * every daemon). Ring 0 is produced directly: a full ring is answered 503
 * to the HTTP client (backpressure to the caller), never held. apid is
 * ring 0's only producer and ring 1's only consumer, both on the loop
 * thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <jansson.h>

#include "backend.h"
#include "json.h"
#include "log.h"
#include "routes.h"

static void on_reply(struct ui_ring_reader *r, struct ui_msg *m)
{
	struct backend *b = r->data;

	if (m->op != UI_OP_REPLY || m->gen != b->gen) {
		ui_debug("dropping ring message op %u gen %u req %llu (our gen %u)",
			 m->op, m->gen, (unsigned long long)m->req_id, b->gen);
		return;
	}
	b->on_reply(b->arg, m);
}

int backend_init(struct backend *b, uv_loop_t *loop, const struct backend_deps *d,
		 backend_reply_cb on_reply_cb, void *arg)
{
	struct ui_ring *ring = &d->shm->ring[UI_RING_POOL_TO_API];
	int rc;

	memset(b, 0, sizeof(*b));
	b->cfg = d->cfg;
	b->reg = d->reg;
	b->shm = d->shm;
	b->req_doorbell = d->req_doorbell;
	b->on_reply = on_reply_cb;
	b->arg = arg;
	b->next_req_id = 1;
	b->gen = atomic_load(&b->shm->daemon[UI_D_APID].generation);
	/* Replies still queued were meant for a previous apid. */
	ui_ring_discard(ring);
	if ((rc = ui_ring_reader_init(&b->replies, loop, ring, d->reply_doorbell, on_reply,
				      b)) < 0)
		return rc;
	return ui_ring_reader_start(&b->replies);
}

void backend_close(struct backend *b)
{
	ui_ring_reader_close(&b->replies);
}

uint32_t backend_pool_generation(const struct backend *b)
{
	return atomic_load(&b->shm->daemon[UI_D_POOL].generation);
}

bool backend_pool_ready(const struct backend *b)
{
	const struct ui_daemon_status *st = &b->shm->daemon[UI_D_POOL];

	return atomic_load(&st->up) && atomic_load(&st->ready);
}

int backend_send(struct backend *b, struct ui_msg *m)
{
	int rc;

	m->req_id = b->next_req_id;
	m->gen = b->gen;
	rc = ui_ring_send(&b->shm->ring[UI_RING_API_TO_POOL], b->req_doorbell, m);
	if (rc == 0)
		b->next_req_id++;
	return rc;
}

/* A warm slot (pool-worker's pool) is not a user's VM: not found. */
int backend_read_vm(struct backend *b, const char *id, struct ui_vm *vm)
{
	int rc = ui_reg_vm_get(b->reg, id, vm);

	if (rc == -ENOENT) /* not an id: a name (GET /vm/{name}) */
		rc = ui_reg_vm_get_by_name(b->reg, id, vm);
	if (rc == 0 && ui_vm_state_is_slot(vm->state))
		return -ENOENT;
	return rc;
}

static void registry_error(struct http_response *r, int rc)
{
	ui_error("registry read: %s", strerror(-rc));
	api_error(r, 500, "internal", "registry read failed: %s", strerror(-rc));
}

void backend_get_vm(struct backend *b, const char *id, int ok_status,
		    struct http_response *r)
{
	struct ui_vm *vm = malloc(sizeof(*vm)); /* ~20 KiB */
	int rc = vm ? backend_read_vm(b, id, vm) : -ENOMEM;

	if (rc == -ENOENT)
		api_error(r, 404, "not_found", "no VM with id %s", id);
	else if (rc < 0)
		registry_error(r, rc);
	else
		api_json(r, ok_status, vm_to_json(vm));
	free(vm);
}

static int list_one(const struct ui_vm *vm, void *arg)
{
	json_t *j = vm_to_json(vm);

	return json_array_append_new(arg, j) < 0 ? -ENOMEM : 0;
}

/* A slice goes through the (state, id) or the id index: a bounded piece
 * of work, whatever the table holds. */
int backend_list_slice(struct backend *b, const char *state, const char *after,
		       unsigned limit, json_t *arr, bool *more)
{
	return ui_reg_vm_page(b->reg, state && state[0] ? state : NULL, after, limit,
			      list_one, arr, more);
}

void backend_list_answer(int rc, json_t *arr, bool more, struct http_response *r)
{
	json_t *next = NULL;

	if (rc < 0) {
		json_decref(arr);
		registry_error(r, rc);
		return;
	}
	if (more && json_array_size(arr))
		next = json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id");
	api_json(r, 200, json_pack("{s:o,s:O?}", "vms", arr, "next", next));
}

static const char *daemon_state(struct backend *b, enum ui_daemon d)
{
	const struct ui_daemon_status *st = &b->shm->daemon[d];

	if (!atomic_load(&st->up))
		return "down";
	return atomic_load(&st->ready) ? "up" : "starting";
}

static json_int_t commits(struct backend *b, enum ui_daemon d)
{
	return (json_int_t)atomic_load(&b->shm->daemon[d].reg_commits);
}

static json_int_t restarts(struct backend *b, enum ui_daemon d)
{
	return (json_int_t)atomic_load(&b->shm->daemon[d].restarts);
}

/* ---- /healthz: what is true now -------------------------------------------- */

struct health {
	json_t *problems;  /* sentences */
	bool runs;         /* a run can be served now */
};

static void problem(struct health *h, bool blocks_runs, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct health *h, bool blocks_runs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	safe_echo(msg, msg, sizeof(msg));
	json_array_append_new(h->problems, json_string(msg));
	if (blocks_runs)
		h->runs = false;
}

/* A daemon's registry write error and fault (shm; 0 when none). */
static bool check_daemon(struct backend *b, struct health *h, enum ui_daemon d,
			 bool blocks_runs, bool *fault_out)
{
	const char *name = ui_daemon_name(d);
	int werr = atomic_load(&b->shm->daemon[d].reg_error);
	char msg[sizeof(b->shm->daemon[d].fault_msg)];
	int fault = ui_daemon_fault_read(b->shm, d, msg, sizeof(msg));

	*fault_out = fault != 0;
	if (strcmp(daemon_state(b, d), "up")) {
		problem(h, blocks_runs || !strcmp(daemon_state(b, d), "down"), "%s is %s", name,
			daemon_state(b, d));
		return true; /* what shm says was a previous instance's */
	}
	if (werr)
		problem(h, blocks_runs, "%s cannot write the registry: %s", name, strerror(-werr));
	if (fault)
		problem(h, blocks_runs, "%s: %s", name, msg[0] ? msg : strerror(-fault));
	return werr == 0;
}

/* The answer: 200 when runs can be served ("ok", or "degraded" with the
 * problems that do not stop runs), else 503 "unavailable". Checked: each
 * daemon up (pool-worker ready; netd not down — a starting netd makes runs
 * wait, not fail), the registry's schema as read through apid's own
 * connection, the registry write errors the writers publish, netd's last
 * pass (netd_reconciled) and the VMM binary (pool-worker's fault). */
static json_t *health_json(struct backend *b, struct health *h)
{
	char why[512];
	bool writable, fault_net = false, fault_pool = false, schema_ok;

	schema_ok = ui_registry_verify(b->reg, why, sizeof(why)) == 0;
	if (!schema_ok)
		problem(h, true, "registry: %s", why);
	writable = check_daemon(b, h, UI_D_POOL, true, &fault_pool);
	writable = check_daemon(b, h, UI_D_NETD, false, &fault_net) && writable;
	return json_pack("{s:s,s:b,s:o,s:{s:s,s:s,s:s},s:{s:b,s:b},s:b,s:b,"
			 "s:{s:I,s:I,s:I},s:{s:I,s:I}}",
			 "status", !h->runs ? "unavailable" : json_array_size(h->problems) ?
				   "degraded" : "ok",
			 "runs", h->runs, "problems", h->problems,
			 "daemons",
			 ui_daemon_name(UI_D_NETD), daemon_state(b, UI_D_NETD),
			 ui_daemon_name(UI_D_POOL), daemon_state(b, UI_D_POOL),
			 ui_daemon_name(UI_D_APID), "up",
			 "registry", "schema", schema_ok, "writable", writable,
			 "netd_reconciled", !strcmp(daemon_state(b, UI_D_NETD), "up") && !fault_net,
			 "vmm_available", !strcmp(daemon_state(b, UI_D_POOL), "up") && !fault_pool,
			 "restarts",
			 ui_daemon_name(UI_D_NETD), restarts(b, UI_D_NETD),
			 ui_daemon_name(UI_D_POOL), restarts(b, UI_D_POOL),
			 ui_daemon_name(UI_D_APID), restarts(b, UI_D_APID),
			 "registry_commits",
			 ui_daemon_name(UI_D_NETD), commits(b, UI_D_NETD),
			 ui_daemon_name(UI_D_POOL), commits(b, UI_D_POOL));
}

void backend_health(struct backend *b, struct http_response *r)
{
	struct health h = { json_array(), true };
	json_t *j;

	if (!h.problems) {
		api_json(r, 500, NULL);
		return;
	}
	j = health_json(b, &h); /* takes h.problems */
	api_json(r, h.runs ? 200 : 503, j);
}

/* The paused VMMs one by one: a ready slot or a paused VM, its VmRSS. */
static json_t *paused_list(const struct ui_pool_table *t)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a && i < t->n_rss; i++) {
		char id[sizeof(t->rss[i].id)];

		safe_echo(t->rss[i].id, id, sizeof(id));
		json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "id", id, "kind",
						   t->rss[i].slot ? "slot" : "vm", "rss_kib",
						   (json_int_t)t->rss[i].rss_kib));
	}
	return a;
}

/* pool.boot snapshot's template, or null (another pool.boot). */
static json_t *template_obj(struct ui_pool_table *t)
{
	static const char *const states[] = { "none", "building", "ready", "failed" };
	char image[sizeof(t->tmpl_image) + 1], err[sizeof(t->tmpl_error) + 1];

	if (t->tmpl_state == 0 || t->tmpl_state > 4)
		return json_null();
	t->tmpl_built_at[sizeof(t->tmpl_built_at) - 1] = '\0';
	memcpy(image, t->tmpl_image, sizeof(t->tmpl_image));
	image[sizeof(t->tmpl_image)] = '\0';
	memcpy(err, t->tmpl_error, sizeof(t->tmpl_error));
	err[sizeof(t->tmpl_error)] = '\0';
	safe_echo(image, image, sizeof(image));
	safe_echo(err, err, sizeof(err));
	safe_echo(t->tmpl_built_at, t->tmpl_built_at, sizeof(t->tmpl_built_at));
	return json_pack("{s:s,s:s,s:o,s:I,s:o}", "state", states[t->tmpl_state - 1],
			 "image", image, "built_at",
			 t->tmpl_built_at[0] ? json_string(t->tmpl_built_at) : json_null(),
			 "bytes", (json_int_t)t->tmpl_bytes,
			 "error", err[0] ? json_string(err) : json_null());
}

void backend_pool(struct backend *b, struct http_response *r)
{
	struct ui_pool_table t;

	ui_pool_table_read(b->shm, &t);
	api_json(r, 200, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}",
				   "size", (json_int_t)t.size,
				   "ready", (json_int_t)t.ready,
				   "in_use", (json_int_t)t.in_use,
				   "hits", (json_int_t)t.hits,
				   "misses", (json_int_t)t.misses,
				   "refill_errors", (json_int_t)t.refill_errors,
				   "retired_image_changed", (json_int_t)t.retired_image_changed,
				   "vms_running", (json_int_t)t.vms_running,
				   "vms_paused", (json_int_t)t.vms_paused,
				   "paused_rss_kib", (json_int_t)t.paused_rss_kib,
				   "paused", paused_list(&t),
				   "template", template_obj(&t)));
}

void backend_reply_error(const struct ui_msg *m, struct http_response *r)
{
	char msg[sizeof(m->error) + 1];
	int st = m->status;

	/* The ring field is not trusted to be terminated or printable. */
	memcpy(msg, m->error, sizeof(m->error));
	msg[sizeof(m->error)] = '\0';
	safe_echo(msg, msg, sizeof(msg));
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", strerror(st < 0 ? -st : EIO));
	if (st == -EINVAL)
		api_error(r, 400, "invalid_argument", "%s", msg);
	else if (st == -ENOENT)
		api_error(r, 404, "not_found", "%s", msg);
	else if (st == -EEXIST || st == -EALREADY)
		api_error(r, 409, "conflict", "%s", msg);
	else if (st == -ENOSPC || st == -EAGAIN) {
		api_error(r, 503, "unavailable", "%s", msg);
		r->retry_after = 1;
	} else if (st == -ETIMEDOUT)
		api_error(r, 504, "timeout", "%s", msg);
	else if (st == -EPIPE) /* "wait": "ready": the guest ended before it was */
		api_error(r, 502, "guest_stopped", "%s", msg);
	else
		api_error(r, 500, "internal", "%s", msg);
}

