/*
 * vm.c — the VM object and its helpers: registry write-through, waiters,
 * the stop timer, /proc start times, paths, console tail (see vm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

struct pw_vm *pw_vm_new(struct pw_worker *w, const char *id)
{
	struct pw_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->w = w;
	snprintf(vm->row.id, sizeof(vm->row.id), "%s", id);
	vm->row.exit_status = -1;
	vm->next = w->vms;
	if (w->vms)
		w->vms->prev = vm;
	w->vms = vm;
	return vm;
}

static void waiters_free(struct pw_waiter **list)
{
	while (*list) {
		struct pw_waiter *x = *list;

		*list = x->next;
		free(x);
	}
}

void pw_vm_free(struct pw_vm *vm)
{
	struct pw_worker *w;

	if (!vm)
		return;
	w = vm->w;
	if (vm->drv && vm->drv_data)
		vm->drv->release(vm);
	pw_vm_stop_timer_cancel(vm);
	pw_net_forget(w, vm);
	waiters_free(&vm->run_waiters);
	waiters_free(&vm->stop_waiters);
	waiters_free(&vm->replay_waiters);
	if (vm->prev)
		vm->prev->next = vm->next;
	else
		w->vms = vm->next;
	if (vm->next)
		vm->next->prev = vm->prev;
	free(vm);
}

struct pw_vm *pw_vm_find(struct pw_worker *w, const char *id)
{
	for (struct pw_vm *vm = w->vms; vm; vm = vm->next)
		if (strcmp(vm->row.id, id) == 0)
			return vm;
	return NULL;
}

int pw_vm_save(struct pw_vm *vm, const char *state, const char *kind,
	       const char *detail)
{
	struct ui_registry *reg = vm->w->reg;
	int rc;

	if (state && strcmp(state, vm->row.state) != 0) {
		ui_info("%s: %s -> %s%s%s", vm->row.id,
			vm->row.state[0] ? vm->row.state : "(new)", state,
			detail && detail[0] ? ": " : "", detail ? detail : "");
		snprintf(vm->row.state, sizeof(vm->row.state), "%s", state);
	}
	rc = ui_reg_vm_update(reg, &vm->row);
	if (rc < 0)
		ui_error("%s: registry update failed: %s", vm->row.id, strerror(-rc));
	if (kind && ui_reg_event(reg, vm->row.id, kind, detail ? detail : "") < 0)
		ui_error("%s: registry event %s failed", vm->row.id, kind);
	return rc;
}

int pw_waiter_add(struct pw_waiter **list, const struct ui_msg *req)
{
	struct pw_waiter *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->req_id = req->req_id;
	x->gen = req->gen;
	x->op = req->op;
	x->next = *list;
	*list = x;
	return 0;
}

void pw_waiters_reply(struct pw_vm *vm, struct pw_waiter **list, int status,
		      const char *err)
{
	while (*list) {
		struct pw_waiter *x = *list;

		*list = x->next;
		pw_reply(vm->w, x->req_id, x->gen, x->op, status, vm->row.id, err);
		free(x);
	}
}

static void timer_free_cb(uv_handle_t *h)
{
	free(h);
}

void pw_vm_stop_timer_cancel(struct pw_vm *vm)
{
	if (!vm->stop_timer)
		return;
	uv_close((uv_handle_t *)vm->stop_timer, timer_free_cb);
	vm->stop_timer = NULL;
}

int pw_vm_stop_timer_start(struct pw_vm *vm, unsigned ms, uv_timer_cb cb)
{
	pw_vm_stop_timer_cancel(vm);
	vm->stop_timer = calloc(1, sizeof(*vm->stop_timer));
	if (!vm->stop_timer)
		return -ENOMEM;
	uv_timer_init(&vm->w->loop, vm->stop_timer);
	vm->stop_timer->data = vm;
	return uv_timer_start(vm->stop_timer, cb, ms, ms);
}

int pw_proc_start_time(int64_t pid, int64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and ')': fields 3.. follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	/* After ") ", field 3 is the state; starttime is field 22. */
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	if (sscanf(p, "%llu", &start) != 1)
		return -EIO;
	*out = (int64_t)start;
	return 0;
}

void pw_file_last_line(const char *path, char *buf, size_t len)
{
	char tail[2048];
	off_t size;
	ssize_t n;
	char *end, *start;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(tail) - 1)
		lseek(fd, size - (off_t)sizeof(tail) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, tail, sizeof(tail) - 1);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	end = tail + n;
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	start = end;
	while (start > tail && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%s", start);
}

int pw_vm_paths(const struct ui_config *cfg, struct ui_vm *row)
{
	struct sockaddr_un sun;
	int n;

	n = snprintf(row->console_log, sizeof(row->console_log),
		     "%s/vms/%s.console.log", cfg->state_dir, row->id);
	if (n < 0 || (size_t)n >= sizeof(row->console_log))
		return -ENAMETOOLONG;
	n = snprintf(row->api_socket, sizeof(row->api_socket), "%s/vms/%s.qmp",
		     cfg->run_dir, row->id);
	if (n < 0 || (size_t)n >= sizeof(row->api_socket) ||
	    (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}
