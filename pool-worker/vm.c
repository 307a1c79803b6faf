/*
 * vm.c — the VM record (see vm.h): allocation and the list, waiters, the
 * per-VM timer, paths, the console's last line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

struct pw_vm *pw_vm_new(struct pw_vm **list, const struct pw_vmm_env *env,
			const char *id, void *owner)
{
	struct pw_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	snprintf(vm->row.id, sizeof(vm->row.id), "%s", id);
	vm->row.exit_status = -1;
	vm->vmm.row = &vm->row;
	vm->vmm.env = env;
	vm->owner = owner;
	vm->state = vm->stored = PW_S_NEW;
	vm->next = *list;
	if (*list)
		(*list)->prev = vm;
	*list = vm;
	return vm;
}

static void waiters_free(struct pw_waiter **list)
{
	struct pw_waiter *x;

	while ((x = pw_waiter_pop(list)))
		free(x);
}

void pw_vm_free(struct pw_vm **list, struct pw_vm *vm)
{
	if (!vm)
		return;
	if (vm->vmm.drv && vm->vmm.data)
		vm->vmm.drv->release(&vm->vmm);
	pw_vm_timer_stop(vm);
	pw_ready_stop(vm->ready);
	waiters_free(&vm->run_waiters);
	waiters_free(&vm->stop_waiters);
	waiters_free(&vm->pause_waiters);
	waiters_free(&vm->replay_waiters);
	while (vm->held) {
		struct pw_held *h = vm->held;

		vm->held = h->next;
		free(h);
	}
	if (vm->prev)
		vm->prev->next = vm->next;
	else
		*list = vm->next;
	if (vm->next)
		vm->next->prev = vm->prev;
	free(vm);
}

struct pw_vm *pw_vm_find(struct pw_vm *list, const char *id)
{
	for (struct pw_vm *vm = list; vm; vm = vm->next)
		if (strcmp(vm->row.id, id) == 0)
			return vm;
	return NULL;
}

/* Appended at the tail: waiters are answered in the order they came. */
int pw_waiter_add(struct pw_waiter **list, uint64_t req_id, uint32_t gen, uint16_t op)
{
	struct pw_waiter *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->req_id = req_id;
	x->gen = gen;
	x->op = op;
	while (*list)
		list = &(*list)->next;
	*list = x;
	return 0;
}

struct pw_waiter *pw_waiter_pop(struct pw_waiter **list)
{
	struct pw_waiter *x = *list;

	if (x)
		*list = x->next;
	return x;
}

static void timer_free_cb(uv_handle_t *h)
{
	free(h);
}

void pw_vm_timer_stop(struct pw_vm *vm)
{
	if (!vm->timer)
		return;
	uv_close((uv_handle_t *)vm->timer, timer_free_cb);
	vm->timer = NULL;
}

int pw_vm_timer_start(struct pw_vm *vm, uv_loop_t *loop, unsigned ms, unsigned repeat,
		      uv_timer_cb cb)
{
	int rc;

	pw_vm_timer_stop(vm);
	if (!(vm->timer = calloc(1, sizeof(*vm->timer))))
		return -ENOMEM;
	if ((rc = uv_timer_init(loop, vm->timer)) < 0) {
		free(vm->timer);
		vm->timer = NULL;
		return rc;
	}
	vm->timer->data = vm;
	rc = uv_timer_start(vm->timer, cb, ms, repeat);
	if (rc < 0)
		pw_vm_timer_stop(vm);
	return rc;
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
	n = size < 0 ? -1 : pread(fd, tail, sizeof(tail) - 1,
				  size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0);
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
	n = snprintf(row->api_socket, sizeof(row->api_socket), "%s/vms/%s/qmp",
		     cfg->run_dir, row->id);
	if (n < 0 || (size_t)n >= sizeof(row->api_socket) ||
	    (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}
