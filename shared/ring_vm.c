/*
 * ring_vm.c — a reply's copy of its VM's row (ring_vm.h).
 */
#include <errno.h>
#include <string.h>

#include "ring_vm.h"

#define FITS(field, src) (strlen(src) < sizeof(field))
#define PUT(field, src) memcpy((field), (src), strlen(src) + 1)
/* From the ring: at most the field, terminated in out. */
#define GET(dst, field)                                                      \
	do {                                                                 \
		_Static_assert(sizeof(dst) >= sizeof(field), "dst too small"); \
		memcpy((dst), (field), sizeof(field));                       \
		(dst)[sizeof(field) - 1] = '\0';                             \
	} while (0)

bool ui_reply_put_vm(struct ui_msg *m, const struct ui_vm *row)
{
	struct ui_msg_vm *v = &m->vm;

	if (!FITS(m->vm_id, row->id) || !FITS(m->name, row->name) ||
	    !FITS(m->image, row->image) || !FITS(m->ip, row->ip) || !FITS(m->tap, row->tap) ||
	    !FITS(m->error, row->error) || !FITS(v->state, row->state) ||
	    !FITS(v->mac, row->mac) || !FITS(v->driver, row->driver) ||
	    !FITS(v->created_at, row->created_at) || !FITS(v->started_at, row->started_at) ||
	    !FITS(v->stopped_at, row->stopped_at) || !FITS(v->ready_at, row->ready_at) ||
	    !FITS(v->console_log, row->console_log))
		return false;
	PUT(m->vm_id, row->id);
	PUT(m->name, row->name);
	PUT(m->image, row->image);
	PUT(m->ip, row->ip);
	PUT(m->tap, row->tap);
	PUT(m->error, row->error);
	m->vcpus = row->vcpus;
	m->mem_mib = row->mem_mib;
	memset(v, 0, sizeof(*v));
	PUT(v->state, row->state);
	PUT(v->mac, row->mac);
	PUT(v->driver, row->driver);
	PUT(v->created_at, row->created_at);
	PUT(v->started_at, row->started_at);
	PUT(v->stopped_at, row->stopped_at);
	PUT(v->ready_at, row->ready_at);
	PUT(v->console_log, row->console_log);
	v->vmm_pid = row->vmm_pid;
	v->exit_status = row->exit_status;
	m->flags |= UI_REPLY_VM;
	return true;
}

int ui_reply_get_vm(const struct ui_msg *m, struct ui_vm *out)
{
	const struct ui_msg_vm *v = &m->vm;

	memset(out, 0, sizeof(*out));
	if (!(m->flags & UI_REPLY_VM))
		return -EINVAL;
	GET(out->id, m->vm_id);
	GET(out->name, m->name);
	GET(out->image, m->image);
	GET(out->ip, m->ip);
	GET(out->tap, m->tap);
	GET(out->error, m->error);
	out->vcpus = m->vcpus;
	out->mem_mib = m->mem_mib;
	GET(out->state, v->state);
	GET(out->mac, v->mac);
	GET(out->driver, v->driver);
	GET(out->created_at, v->created_at);
	GET(out->started_at, v->started_at);
	GET(out->stopped_at, v->stopped_at);
	GET(out->ready_at, v->ready_at);
	GET(out->console_log, v->console_log);
	out->vmm_pid = v->vmm_pid;
	out->exit_status = v->exit_status;
	return out->id[0] && out->state[0] ? 0 : -EINVAL;
}
