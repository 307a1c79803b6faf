/*
 * test_registry_list.c — the read side of the list (pages by id, per
 * state, warm slots hidden, *more) and limits.keep_stopped's prune: the
 * oldest final rows beyond keep go with their events; rows in any other
 * state, and their events, stay; a batch limit is honoured; a read-only
 * connection refuses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reg_helpers.h"

struct page {
	char ids[64][48];
	unsigned n;
};

static int collect(const struct ui_vm *vm, void *arg)
{
	struct page *p = arg;

	T_ASSERT(p->n < 64);
	snprintf(p->ids[p->n++], sizeof(p->ids[0]), "%s", vm->id);
	return 0;
}

/* vm-NN in state, inserted in a shuffled order (the page order is by id). */
static void add(struct ui_registry *reg, unsigned n, const char *state)
{
	struct ui_vm vm;
	char id[16];

	snprintf(id, sizeof(id), "vm-%02u", n);
	make_vm(&vm, id, state, "2026-01-01T00:00:00.000Z");
	T_EQ_INT(ui_reg_vm_insert(reg, &vm), 0);
	T_EQ_INT(ui_reg_event(reg, id, "created", NULL), 0);
}

static void page(struct ui_registry *reg, const char *state, const char *after,
		 unsigned limit, struct page *p, bool *more)
{
	memset(p, 0, sizeof(*p));
	T_EQ_INT(ui_reg_vm_page(reg, state, after, limit, collect, p, more), 0);
}

static void t_page(void)
{
	struct ui_registry *reg = open_ok(db_path(), UI_REG_CREATE);
	static const unsigned order[] = { 5, 1, 9, 3, 7, 2, 8, 4, 6, 0 };
	struct page p;
	bool more;

	for (unsigned i = 0; i < 10; i++)
		add(reg, order[i], order[i] == 4 ? UI_VM_WARM : order[i] % 2 ? UI_VM_STOPPED
								       : UI_VM_RUNNING);
	page(reg, NULL, NULL, 3, &p, &more);
	T_EQ_INT(p.n, 3);
	T_ASSERT(more);
	T_EQ_STR(p.ids[0], "vm-00");
	T_EQ_STR(p.ids[2], "vm-02");
	page(reg, NULL, "vm-02", 3, &p, &more);  /* vm-04 is a warm slot: hidden */
	T_EQ_INT(p.n, 3);
	T_EQ_STR(p.ids[0], "vm-03");
	T_EQ_STR(p.ids[1], "vm-05");
	T_ASSERT(more);
	page(reg, NULL, "vm-06", 3, &p, &more);  /* exactly the rest: no more */
	T_EQ_INT(p.n, 3);
	T_EQ_STR(p.ids[2], "vm-09");
	T_ASSERT(!more);
	page(reg, NULL, "vm-09", 3, &p, &more);
	T_EQ_INT(p.n, 0);
	T_ASSERT(!more);
	page(reg, UI_VM_STOPPED, "", 2, &p, &more);
	T_EQ_INT(p.n, 2);
	T_EQ_STR(p.ids[0], "vm-01");
	T_EQ_STR(p.ids[1], "vm-03");
	T_ASSERT(more);
	page(reg, UI_VM_WARM, NULL, 10, &p, &more);
	T_EQ_INT(p.n, 1);
	T_EQ_STR(p.ids[0], "vm-04");
	/* a cursor that names no row still pages (the row may have been pruned) */
	page(reg, UI_VM_RUNNING, "vm-05x", 10, &p, &more);
	T_EQ_INT(p.n, 2);
	T_EQ_STR(p.ids[0], "vm-06");
	ui_registry_close(reg);
}

static void t_prune(void)
{
	const char *path = db_path();
	struct ui_registry *reg = open_ok(path, UI_REG_CREATE);
	unsigned pruned = 99;

	/* 0..19: final (even stopped, odd failed) but 3, 10 and 15 running */
	for (unsigned i = 0; i < 20; i++)
		add(reg, i, i == 3 || i == 10 || i == 15 ? UI_VM_RUNNING
			    : i % 2 ? UI_VM_FAILED : UI_VM_STOPPED);
	/* 17 final rows; keep 5, at most 4 per call */
	T_EQ_INT(ui_reg_vm_prune(reg, 5, 4, &pruned), 0);
	T_EQ_INT(pruned, 4);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id IN "
			   "('vm-00', 'vm-01', 'vm-02', 'vm-04')"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id IN "
			   "('vm-00', 'vm-01', 'vm-02', 'vm-04')"), 0);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE id = 'vm-03'"), 1);
	for (unsigned k = 0; k < 3; k++)
		T_EQ_INT(ui_reg_vm_prune(reg, 5, 4, &pruned), 0);
	T_EQ_INT(pruned, 0); /* 4 + 4 + 4: 12 pruned, the last call had none */
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state IN ('stopped', 'failed')"), 5);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state IN ('stopped', 'failed') "
			   "AND id IN ('vm-14', 'vm-16', 'vm-17', 'vm-18', 'vm-19')"), 5);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms WHERE state = 'running'"), 3);
	/* the events left are exactly those of the rows left */
	T_EQ_INT(raw(path, "SELECT count(*) FROM events"), 8);
	T_EQ_INT(raw(path, "SELECT count(*) FROM events WHERE vm_id NOT IN "
			   "(SELECT id FROM vms)"), 0);
	T_EQ_INT(ui_reg_vm_prune(reg, 0, 100, &pruned), 0);
	T_EQ_INT(pruned, 5);
	T_EQ_INT(raw(path, "SELECT count(*) FROM vms"), 3);
	ui_registry_close(reg);
	reg = open_ok(path, UI_REG_RDONLY);
	T_EQ_INT(ui_reg_vm_prune(reg, 0, 100, &pruned), -EROFS);
	ui_registry_close(reg);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_page),
		T_CASE(t_prune),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}
