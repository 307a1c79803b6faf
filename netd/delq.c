/*
 * delq.c — one tap deletion per loop turn (see delq.h).
 */
#include <errno.h>
#include <string.h>

#include "delq.h"
#include "log.h"

/* Device, then row: a crash in between leaves a 'deleting' row whose
 * device is gone, which the next pass queues and this finishes. */
static void delete_one(struct delq *q, const char *name)
{
	int rc = netlink_delete_link(q->nl, name);

	if (rc < 0 && rc != -ENODEV) {
		ui_warn("cannot delete tap %s: %s (retried by a later pass)", name,
			strerror(-rc));
		return;
	}
	rc = ui_reg_tap_delete(q->reg, name);
	if (rc < 0 && rc != -ENOENT) {
		ui_warn("tap %s deleted, but not its row: %s (retried by a later pass)", name,
			strerror(-rc));
		return;
	}
	ui_info("tap %s deleted", name);
}

static void on_idle(uv_idle_t *h)
{
	struct delq *q = h->data;
	char name[UI_IPAM_TAP_LEN];

	memcpy(name, names_at(&q->names, 0), sizeof(name));
	vec_remove(&q->names, 0);
	if (q->names.n == 0)
		uv_idle_stop(h);
	delete_one(q, name);
}

int delq_init(struct delq *q, uv_loop_t *loop, struct netlink *nl,
	      struct ui_registry *reg)
{
	int rc;

	memset(q, 0, sizeof(*q));
	q->nl = nl;
	q->reg = reg;
	q->names = (struct vec)NAMES_INIT;
	rc = uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	q->ok = rc == 0;
	return rc;
}

int delq_push(struct delq *q, const char *name)
{
	int rc;

	if (names_has(&q->names, name))
		return 0;
	rc = names_add(&q->names, name);
	if (rc == 0 && q->names.n == 1 && (rc = uv_idle_start(&q->idle, on_idle)) < 0)
		vec_remove(&q->names, 0);
	if (rc < 0)
		ui_warn("cannot queue the deletion of tap %s: %s", name, strerror(-rc));
	return rc;
}

bool delq_has(const struct delq *q, const char *name)
{
	return names_has(&q->names, name);
}

void delq_close(struct delq *q)
{
	if (q->names.n)
		ui_info("%zu tap deletion(s) left to the next start", q->names.n);
	vec_free(&q->names);
	if (q->ok && !uv_is_closing((uv_handle_t *)&q->idle))
		uv_close((uv_handle_t *)&q->idle, NULL);
	q->ok = false;
}
