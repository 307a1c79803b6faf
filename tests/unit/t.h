/*
 * t.h — the unit-test harness: each case runs in its own forked process with
 * a timeout (libuv runner / Check fork mode), so a crash or hang fails that
 * case only. A case skips by exiting 77 (T_SKIP). Output, one line a case:
 * "ok <name>", "FAIL <name>: <why>", "skip <name>"; last line
 * "<N> passed, <N> failed, <N> skipped". Exit: 0 all passed (or skipped),
 * 1 any failed.
 *
 * Usage:
 *   static void t_ring_empty(void) { T_ASSERT(x == 1); T_EQ_INT(a, b); }
 *   int main(int argc, char **argv) {
 *       static const struct t_case cases[] = { T_CASE(t_ring_empty), {0} };
 *       return t_run(argc, argv, cases);
 *   }
 * `test_x NAME` runs only the case NAME (in-process: easy to debug).
 */
#ifndef UI_T_H
#define UI_T_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct t_case {
	const char *name;
	void (*fn)(void);
	unsigned timeout_s; /* 0 = 60 */
};

#define T_CASE(f) { #f, f, 0 }
#define T_CASE_TIMEOUT(f, s) { #f, f, s }

#define T_FAIL(...)                                                        \
	do {                                                               \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                              \
		fprintf(stderr, "\n");                                     \
		exit(1);                                                   \
	} while (0)
#define T_ASSERT(c)                                                        \
	do {                                                               \
		if (!(c))                                                  \
			T_FAIL("assertion failed: %s", #c);                \
	} while (0)
#define T_EQ_INT(a, b)                                                     \
	do {                                                               \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);    \
		if (t_a_ != t_b_)                                          \
			T_FAIL("%s == %lld, expected %s == %lld", #a, t_a_, \
			       #b, t_b_);                                  \
	} while (0)
#define T_EQ_STR(a, b)                                                     \
	do {                                                               \
		const char *t_a_ = (a), *t_b_ = (b);                       \
		if (strcmp(t_a_, t_b_) != 0)                               \
			T_FAIL("%s == \"%s\", expected \"%s\"", #a, t_a_, t_b_); \
	} while (0)
#define T_SKIP(why)                                                        \
	do {                                                               \
		fprintf(stderr, "  skip: %s\n", why);                      \
		exit(77);                                                  \
	} while (0)

/* How many fds this process has open (a leak check: compare before and
 * after). */
static inline int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	T_ASSERT(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static inline int t_run(int argc, char **argv, const struct t_case *cases)
{
	int passed = 0, failed = 0, skipped = 0;

	if (argc > 1) {
		for (const struct t_case *c = cases; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0) {
				c->fn();
				return 0;
			}
		fprintf(stderr, "no case %s\n", argv[1]);
		return 2;
	}
	for (const struct t_case *c = cases; c->name; c++) {
		int st = 0;
		pid_t pid;

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0) {
			alarm(c->timeout_s ? c->timeout_s : 60);
			c->fn();
			exit(0);
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok %s\n", c->name);
			passed++;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			printf("skip %s\n", c->name);
			skipped++;
		} else {
			if (WIFSIGNALED(st))
				printf("FAIL %s: signal %d%s\n", c->name, WTERMSIG(st),
				       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
			else
				printf("FAIL %s: exit %d\n", c->name, WEXITSTATUS(st));
			failed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}

#endif
