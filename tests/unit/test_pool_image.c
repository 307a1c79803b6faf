/*
 * test_pool_image.c — what a warm slot checks before a run takes it
 * (pool-worker/pool_image.c: its image files' stamp) and the memory paused
 * VMMs hold (pool_mem.c: VmRSS from /proc, read once per state, the
 * pool.max_mem_mib rule), on real files and processes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>

#include "../../pool-worker/pool.h"
#include "t.h"

static char dir[] = "/tmp/test_pool_image.XXXXXX";

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	T_ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void t_stamp(void)
{
	struct pw_vm slot = { 0 };
	char why[256], link_path[64];
	uint64_t a, b;

	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(slot.row.image, sizeof(slot.row.image), "hello");
	snprintf(slot.row.kernel, sizeof(slot.row.kernel), "%s/vmlinuz", dir);
	snprintf(slot.row.initrd, sizeof(slot.row.initrd), "%s/initrd", dir);
	put(slot.row.kernel, "kernel");
	put(slot.row.initrd, "initrd");
	T_EQ_INT(pw_image_stamp(&slot.row, &a, why, sizeof(why)), 0);
	T_EQ_INT(pw_image_stamp(&slot.row, &b, why, sizeof(why)), 0);
	T_ASSERT(a == b);
	slot.img_stamp = a;
	T_ASSERT(!pw_image_unchanged(&slot, why, sizeof(why))); /* never stamped */
	slot.img_stamped = true;
	T_ASSERT(pw_image_unchanged(&slot, why, sizeof(why)));
	/* our own hard link of a file into a VMM's directory or jail (it
	 * changes the inode's ctime and link count) is no change */
	snprintf(link_path, sizeof(link_path), "%s/kernel-link", dir);
	T_EQ_INT(link(slot.row.kernel, link_path), 0);
	T_ASSERT(pw_image_unchanged(&slot, why, sizeof(why)));
	T_EQ_INT(unlink(link_path), 0);
	T_ASSERT(pw_image_unchanged(&slot, why, sizeof(why)));
	put(slot.row.initrd, "a new initrd"); /* same name, new content */
	T_ASSERT(!pw_image_unchanged(&slot, why, sizeof(why)));
	T_ASSERT(strstr(why, "changed on disk") != NULL);
	unlink(slot.row.kernel);
	T_EQ_INT(pw_image_stamp(&slot.row, &b, why, sizeof(why)), -ENOENT);
	T_ASSERT(strstr(why, "vmlinuz") != NULL);
	T_ASSERT(!pw_image_unchanged(&slot, why, sizeof(why)));
	unlink(slot.row.initrd);
	rmdir(dir);
	slot.row.image[0] = '\0'; /* warmed without an image: nothing to check */
	T_ASSERT(pw_image_unchanged(&slot, why, sizeof(why)));
}

static void t_rss(void)
{
	uint64_t kib = 0;

	T_EQ_INT(pw_proc_rss_kib(getpid(), &kib), 0);
	T_ASSERT(kib > 0);
	T_EQ_INT(pw_proc_rss_kib(0x7ffffffe, &kib), -ENOENT);
}

/* A VMM's VmRSS is read once per state it enters, then kept for up to
 * 0.9 s: a take measures every slot, and must not read every slot's /proc
 * each time. Shown with real processes that exit between two measures. */
static void t_measure_reads_once(void)
{
	struct ui_config cfg = { 0 };
	struct pw_engine e = { 0 };
	struct pw_pool p = { 0 };
	struct pw_vm *vm[3];
	uint64_t first;

	e.cfg = &cfg;
	p.e = &e;
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();

		T_ASSERT(pid >= 0);
		if (pid == 0) {
			pause();
			_exit(0);
		}
		T_ASSERT((vm[i] = calloc(1, sizeof(*vm[i]))) != NULL);
		snprintf(vm[i]->row.id, sizeof(vm[i]->row.id), "vm-%d", i);
		vm[i]->state = PW_S_WARM;
		vm[i]->row.vmm_pid = pid;
		vm[i]->clk.phase_us = ui_now_us();
		vm[i]->next = e.vms;
		e.vms = vm[i];
	}
	pw_pool_measure(&p);
	T_EQ_INT(p.n_rss, 3);
	T_EQ_INT(p.n_slot_rss, 3);
	T_ASSERT((first = p.paused_rss_kib) > 0);
	for (int i = 0; i < 3; i++) {
		kill((pid_t)vm[i]->row.vmm_pid, SIGKILL);
		T_EQ_INT(waitpid((pid_t)vm[i]->row.vmm_pid, NULL, 0), vm[i]->row.vmm_pid);
	}
	for (int i = 0; i < 3; i++) /* however slow this host was meanwhile */
		vm[i]->rss.at_us = ui_now_us();
	pw_pool_measure(&p); /* the reads kept: no /proc entry was needed */
	T_EQ_INT(p.n_rss, 3);
	T_EQ_INT(p.paused_rss_kib, first);
	vm[0]->clk.phase_us = ui_now_us() + 1; /* it entered a state since */
	vm[1]->rss.at_us -= 1000 * 1000;       /* its read is a second old */
	vm[2]->rss.at_us = ui_now_us();
	pw_pool_measure(&p);                   /* both read again: gone */
	T_EQ_INT(p.n_rss, 1);
	T_EQ_INT(p.rss[0].id[3], '2');
	for (int i = 0; i < 3; i++)
		free(vm[i]);
}

/* pool.max_mem_mib: 0 no cap; else room for one more slot as big as the
 * ready ones on average. */
static void t_mem_cap(void)
{
	struct ui_config cfg = { 0 };
	struct pw_engine e = { 0 };
	struct pw_pool p = { 0 };

	e.cfg = &cfg;
	p.e = &e;
	p.paused_rss_kib = 500 * 1024;
	p.n_slot_rss = 2;
	p.slot_rss_kib = 400 * 1024;
	T_ASSERT(pw_pool_mem_allows(&p));          /* no cap */
	cfg.pool_max_mem_mib = 700;
	T_ASSERT(pw_pool_mem_allows(&p));          /* 500 + 200 = 700 */
	cfg.pool_max_mem_mib = 699;
	T_ASSERT(!pw_pool_mem_allows(&p));
	T_ASSERT(p.mem_capped);
	p.n_slot_rss = 0;                          /* no ready slot measured */
	p.slot_rss_kib = 0;
	T_ASSERT(pw_pool_mem_allows(&p));
	T_ASSERT(!p.mem_capped);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_stamp), T_CASE(t_rss), T_CASE(t_measure_reads_once), T_CASE(t_mem_cap),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
