/*
 * console.c — GET /vm/{id}/console: the tail and the follow (console.h).
 *
 * The tail is read at once on the loop (at most limits.console_bytes from
 * two local files). A follower keeps its fd on <log>, its offset, and the
 * identity of <log>.1 it last saw; every CONSOLE_POLL_MS the one timer
 * looks at each: client gone → close; client slow → skip; the VM's row
 * (final or gone?) first, then <log>.1 if it changed (the rest of the old
 * log), then <log> from the offset; final and read to the end → the last
 * chunk, and the connection goes on like any answered request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "conn.h"
#include "console.h"
#include "json.h"
#include "log.h"
#include "routes.h"
#include "server.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* Which <log>.1 a follower saw: a rotation renames a new file over it. */
struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	struct timespec ctim;
};

struct console_follower {
	struct console_follower *next;
	struct conn *c;
	char vm_id[48];
	char path[sizeof(((struct ui_vm *)0)->console_log)];
	int fd;                  /* <log>; -1 until it exists */
	uint64_t off;            /* in <log>: what was sent */
	int fd1;                 /* a rotated <log>.1 still being sent, or -1 */
	uint64_t off1, end1;     /* … from off1 to end1 */
	struct file_id old;      /* <log>.1 as last seen */
	bool chunked, keep;
};

struct apid_console {
	uv_timer_t timer;
	struct apid_server *s;
	struct console_follower *list;
	unsigned n[2];           /* followers, [is_unix] */
	struct ui_vm row;        /* scratch for the state reads (one loop thread) */
	char buf[CONSOLE_READ_MAX];
};

/* ---- reading the files ---------------------------------------------------- */

static void rotated_path(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s.1", path);
}

static struct file_id file_id_of(const char *path)
{
	struct file_id id = { 0 };
	struct stat st;

	if (stat(path, &st) == 0)
		id = (struct file_id){ true, st.st_dev, st.st_ino, st.st_ctim };
	return id;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->exists == b->exists &&
	       (!a->exists || (a->dev == b->dev && a->ino == b->ino &&
			       a->ctim.tv_sec == b->ctim.tv_sec &&
			       a->ctim.tv_nsec == b->ctim.tv_nsec));
}

/* pread of up to n bytes at off into buf; the count or negative errno. */
static ssize_t read_at(int fd, char *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* The last want bytes of the console into a new buffer (*out, *len): the
 * end of <log>.1, then <log>. *fd: <log> (or -1), *log_size: where a
 * follow goes on, *old: <log>.1's identity. */
static int read_tail(const char *path, size_t want, char **out, size_t *len, int *fd,
		     uint64_t *log_size, struct file_id *old)
{
	char p1[sizeof(((struct ui_vm *)0)->console_log) + 4];
	struct stat st;
	uint64_t size = 0, from_old = 0, size1 = 0;
	int fd1 = -1, rc = 0;
	bool locked;
	ssize_t k;
	char *buf;

	rotated_path(path, p1, sizeof(p1));
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0 && errno != ENOENT)
		return -errno;
	/* not half-way through a rotation (if one holds it now, read anyway:
	 * at worst some lines twice or missing in this one answer) */
	locked = *fd >= 0 && flock(*fd, LOCK_SH | LOCK_NB) == 0;
	*old = file_id_of(p1);
	if (*fd >= 0 && fstat(*fd, &st) == 0)
		size = (uint64_t)st.st_size;
	if (size < want && (fd1 = open(p1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0 &&
	    fstat(fd1, &st) == 0) {
		size1 = (uint64_t)st.st_size;
		from_old = want - size < size1 ? want - size : size1;
	}
	*log_size = size;
	if (size > want)
		size = want;
	if (!(buf = malloc(from_old + size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	*len = 0;
	if (from_old && (k = read_at(fd1, buf, from_old, size1 - from_old)) > 0)
		*len += (size_t)k;
	if (size && (k = read_at(*fd, buf + *len, size, *log_size - size)) > 0)
		*len += (size_t)k;
	*out = buf;
out:
	if (locked)
		(void)flock(*fd, LOCK_UN);
	if (fd1 >= 0)
		close(fd1);
	if (rc < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* ---- following ------------------------------------------------------------ */

/* Queues data as one chunk (or raw for HTTP/1.0); false if the conn is gone. */
static bool send_data(struct console_follower *f, const char *data, size_t n)
{
	char *buf;
	int h = 0;

	if (n == 0)
		return true;
	if (!(buf = malloc(n + 24)))
		return false;
	if (f->chunked)
		h = snprintf(buf, 24, "%zx\r\n", n);
	memcpy(buf + h, data, n);
	if (f->chunked)
		memcpy(buf + h + n, "\r\n", 2);
	return conn_send(f->c, buf, (size_t)h + n + (f->chunked ? 2 : 0)) == 0;
}

static void follower_free(struct apid_console *k, struct console_follower *f)
{
	struct console_follower **pp;

	for (pp = &k->list; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	k->n[f->c->is_unix]--;
	f->c->follow = NULL;
	if (f->fd >= 0)
		close(f->fd);
	if (f->fd1 >= 0)
		close(f->fd1);
	free(f);
	if (!k->list)
		uv_timer_stop(&k->timer);
}

void console_follow_cancel(struct conn *c)
{
	follower_free(c->srv->console, c->follow);
}

/* The stream is complete: the last chunk, then the next request. */
static void follow_end(struct apid_console *k, struct console_follower *f)
{
	struct conn *c = f->c;
	bool keep = f->keep, ok = true;
	char *last;

	if (f->chunked)
		ok = (last = strdup("0\r\n\r\n")) && conn_send(c, last, 5) == 0;
	follower_free(k, f);
	if (!ok) {
		conn_close(c);
		return;
	}
	conn_stream_end(c, 200, keep);
	conn_resume(c);
}

/* Reads what fd holds from *off into buf, at most max bytes, and moves
 * *off on; the count, or negative errno. */
static ssize_t take(int fd, uint64_t *off, char *buf, size_t max)
{
	ssize_t n = read_at(fd, buf, max, *off);

	if (n > 0)
		*off += (uint64_t)n;
	return n;
}

/* Where the bytes of <log>.1 (fd1, size len1) ended in the old log: its
 * xattr, else (a file system without user xattrs) its size — then it is
 * a whole copy. */
static uint64_t rotated_end(int fd1, uint64_t len1)
{
	char val[32];
	ssize_t n = fgetxattr(fd1, CONSOLE_END_XATTR, val, sizeof(val) - 1);
	unsigned long long end;

	if (n <= 0)
		return len1;
	val[n] = '\0';
	return sscanf(val, "%llu", &end) == 1 && end >= len1 ? end : len1;
}

/* <log>.1 changed: a rotation moved the head of the log there. What we
 * had not sent of it is read from <log>.1 (fd1, off1..end1) before the
 * log goes on at our offset moved down by where <log>.1 ends. A new
 * rotation is looked for only once the last one's bytes are sent. */
static void follow_rotation(struct console_follower *f)
{
	char p1[sizeof(f->path) + 4];
	struct file_id now;
	struct stat st;
	uint64_t end, start1;
	int fd1;

	if (f->fd1 >= 0)
		return;
	rotated_path(f->path, p1, sizeof(p1));
	now = file_id_of(p1);
	if (file_id_eq(&now, &f->old))
		return;
	f->old = now;
	if (!now.exists || (fd1 = open(p1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd1, &st) < 0) {
		close(fd1);
		return;
	}
	end = rotated_end(fd1, (uint64_t)st.st_size);
	start1 = end - (uint64_t)st.st_size; /* > 0: only the tail was kept */
	if (f->off < end) {
		f->off1 = f->off > start1 ? f->off - start1 : 0; /* below start1: lost */
		f->end1 = (uint64_t)st.st_size;
		f->fd1 = fd1;
	} else {
		close(fd1);
	}
	f->off = f->off > end ? f->off - end : 0;
}

/* The VM is stopped, failed or gone; a registry error counts as live. */
static bool vm_done(struct apid_console *k, const struct console_follower *f)
{
	int rc = backend_read_vm(k->s->be, f->vm_id, &k->row);

	return rc == -ENOENT || (rc == 0 && (!strcmp(k->row.state, UI_VM_STOPPED) ||
					     !strcmp(k->row.state, UI_VM_FAILED)));
}

static void follow_step(struct apid_console *k, struct console_follower *f)
{
	size_t budget = CONSOLE_READ_MAX;
	ssize_t n = 0, n1 = 0;
	bool done;

	if (f->c->peer_eof) { /* the client left */
		conn_close(f->c);
		return;
	}
	if (conn_send_blocked(f->c))
		return;
	done = vm_done(k, f); /* before reading: its output is all written */
	if (f->fd < 0)
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd < 0) { /* no log (yet): nothing to rotate either */
		if (done)
			follow_end(k, f);
		return;
	}
	/* the lock only while reading (a rotation waits for no client) */
	if (flock(f->fd, LOCK_SH | LOCK_NB) < 0)
		return; /* a rotation is under way: the next poll */
	follow_rotation(f);
	if (f->fd1 >= 0) {
		uint64_t left = f->end1 - f->off1;

		n1 = take(f->fd1, &f->off1, k->buf, left < budget ? (size_t)left : budget);
		if (n1 > 0)
			budget -= (size_t)n1;
		if (n1 <= 0 || f->off1 >= f->end1) {
			close(f->fd1);
			f->fd1 = -1;
		}
	}
	if (f->fd1 < 0 && budget)
		n = take(f->fd, &f->off, k->buf + (n1 > 0 ? n1 : 0), budget);
	(void)flock(f->fd, LOCK_UN);
	if (!send_data(f, k->buf, (size_t)(n1 > 0 ? n1 : 0) + (size_t)(n > 0 ? n : 0))) {
		conn_close(f->c); /* the conn refused the bytes */
		return;
	}
	if (done && f->fd1 < 0 && (size_t)(n < 0 ? 0 : n) < budget)
		follow_end(k, f);
}

static void on_poll(uv_timer_t *t)
{
	struct apid_console *k = t->data;
	struct console_follower *f, *next;

	for (f = k->list; f; f = next) {
		next = f->next;
		follow_step(k, f);
	}
}

/* ---- the route ------------------------------------------------------------ */

static unsigned follower_max(const struct apid_server *s, bool is_unix)
{
	unsigned lim = is_unix ? s->opt.max_conns_unix : s->opt.max_conns_tcp;

	return lim / 4 ? lim / 4 : 1;
}

/* Headers of the streamed answer; false if the conn is gone. */
static bool follow_headers(struct console_follower *f)
{
	char *h = malloc(256);
	int n;

	if (!h)
		return false;
	n = snprintf(h, 256, "HTTP/1.1 200 OK\r\nServer: uigniter\r\nContent-Type: " TEXT_PLAIN
		     "\r\nCache-Control: no-cache\r\n%s%s\r\n",
		     f->chunked ? "Transfer-Encoding: chunked\r\n" : "",
		     !f->keep ? "Connection: close\r\n" : "");
	return conn_send(f->c, h, (size_t)n) == 0;
}

static int follow_start(struct conn *c, const struct ui_vm *vm, char *tail, size_t len, int fd,
			uint64_t off, const struct file_id *old, struct http_response *r)
{
	struct apid_console *k = c->srv->console;
	struct console_follower *f;

	if (!k || k->n[c->is_unix] >= follower_max(c->srv, c->is_unix)) {
		api_error(r, 503, "unavailable", "too many console followers on this listener "
			  "(%u); try again later", follower_max(c->srv, c->is_unix));
		r->retry_after = 1;
		return -EAGAIN;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		api_error(r, 500, "internal", "out of memory");
		return -ENOMEM;
	}
	f->c = c;
	snprintf(f->vm_id, sizeof(f->vm_id), "%s", vm->id);
	snprintf(f->path, sizeof(f->path), "%s", vm->console_log);
	f->fd = fd;
	f->fd1 = -1;
	f->off = off;
	f->old = *old;
	f->chunked = !c->http10;
	f->keep = f->chunked && conn_may_keep(c);
	f->next = k->list;
	k->list = f;
	k->n[c->is_unix]++;
	c->follow = f;
	if (!follow_headers(f) || !send_data(f, tail, len)) {
		conn_close(c); /* frees f */
	} else if (!uv_is_active((uv_handle_t *)&k->timer)) {
		uv_timer_start(&k->timer, on_poll, CONSOLE_POLL_MS, CONSOLE_POLL_MS);
	}
	free(tail);
	return 0;
}

static bool is_final(const struct ui_vm *vm)
{
	return !strcmp(vm->state, UI_VM_STOPPED) || !strcmp(vm->state, UI_VM_FAILED);
}

int console_dispatch(struct conn *c, const struct route *rt, struct http_response *r)
{
	struct ui_vm *vm = malloc(sizeof(*vm)); /* ~20 KiB */
	int rc = vm ? backend_read_vm(c->srv->be, rt->vm_id, vm) : -ENOMEM;
	struct file_id old = { 0 };
	uint64_t off = 0;
	char *tail = NULL;
	size_t len = 0;
	int fd = -1;

	if (rc == -ENOENT) {
		api_error(r, 404, "not_found", "no VM with id %s", rt->vm_id);
		goto out;
	}
	if (rc < 0) {
		api_error(r, 500, "internal", "registry read failed: %s", strerror(-rc));
		goto out;
	}
	if (vm->console_log[0] &&
	    (rc = read_tail(vm->console_log, rt->console_bytes, &tail, &len, &fd, &off, &old)) < 0) {
		api_error(r, 500, "internal", "cannot read the console log of %s: %s", vm->id,
			  strerror(-rc));
		goto out;
	}
	if (rt->console_follow && !is_final(vm) && vm->console_log[0] && !c->head) {
		rc = follow_start(c, vm, tail, len, fd, off, &old, r);
		if (rc == 0) {
			free(vm);
			return 0; /* the follower owns fd and the conn */
		}
		goto out;
	}
	r->status = 200;
	r->content_type = TEXT_PLAIN;
	r->body = tail;
	r->body_len = len;
	tail = NULL;
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(tail);
	free(vm);
	return rc == 0 ? 1 : rc;
}

/* ---- set-up --------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void console_init(struct apid_server *s)
{
	struct apid_console *k = calloc(1, sizeof(*k));

	s->console = k;
	if (!k) {
		ui_warn("console: out of memory; follows are refused");
		return;
	}
	k->s = s;
	uv_timer_init(s->loop, &k->timer);
	k->timer.data = k;
}

void console_close(struct apid_server *s)
{
	struct apid_console *k = s->console;

	s->console = NULL;
	if (k && !uv_is_closing((uv_handle_t *)&k->timer))
		uv_close((uv_handle_t *)&k->timer, on_timer_closed);
}
