/*
 * fc_vsock.c — the vsock device's host side and PUT /vsock (see
 * fc_vsock.h for the rules and where they come from).
 *
 * Owns the listening socket and up to FC_VSOCK_MAX_CONNS host connections,
 * each in one state: CONNECT (accepted, its CONNECT line not read yet),
 * PENDING (a valid CONNECT, the paused guest has not answered), GUEST (the
 * host was told OK: the connection is in the guest program's backlog). A
 * connection is closed by closing its fd; nothing is ever written to one
 * but `OK <port>\n` and the agent's `OK\n`.
 *
 * The guest program is uigniter-agent (s5-guest: tools/guest/agent.c,
 * agent_line.h): it serves one connection at a time, in the order they
 * came (the others wait, already told OK by the vsock transport), each for
 * at most AGENT_CONN_TIMEOUT_MS of guest time (not counted while Paused).
 * A line is at most FC_VSOCK_LINE_MAX bytes with its '\n'; an empty one, a
 * NUL byte, a longer one, a close before the '\n' or the timeout drop the
 * connection without an answer, and the next one is served. The first good
 * line is answered OK and taken; the agent then exits: the connections
 * still waiting are closed, later CONNECTs refused (fc_guest_listens).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fc_calllog.h"
#include "fc_log.h"
#include "fc_vsock.h"

#define CONNECT_MIN_READ 10 /* strlen("connect 0\n"), the muxer's MIN_READ_LEN */
#define CONNECT_MAX_READ 32 /* the muxer's buffer */
#define REQUEST_TIMEOUT_MS 2000 /* csm CONN_REQUEST_TIMEOUT_MS */
#define FIRST_HOST_PORT (1u << 30)
#define AGENT_CONN_TIMEOUT_MS 10000 /* uigniter-agent's CONN_TIMEOUT_MS */

enum vc_state { VC_FREE, VC_CONNECT, VC_PENDING, VC_GUEST };

struct vconn {
	int fd;
	enum vc_state st;
	uint32_t port, host_port;
	int64_t deadline_ms; /* PENDING: closed if the guest has not answered by then */
	uint64_t order;      /* GUEST: served in this order */
	int64_t budget_ms;   /* GUEST: guest time left to send the line */
	char line[FC_VSOCK_LINE_MAX + 1];
	size_t len;
};

struct fc_vsock {
	int lfd;
	char *path; /* owned, as given */
	uint32_t host_port_last;
	int64_t request_timeout_ms; /* FC_FAKE_VSOCK_REQUEST_TIMEOUT_MS, else 2000 */
	uint64_t guest_order;  /* the next GUEST connection's order */
	int64_t clock_ms;      /* guest time is accounted up to here */
	struct vconn conns[FC_VSOCK_MAX_CONNS];
};

const char *fc_vsock_bind_error(int r, char *buf, size_t n)
{
	if (r == -ENAMETOOLONG) /* Rust's SocketAddr check */
		snprintf(buf, n, "Error binding to the host-side Unix socket: path must be "
			 "shorter than SUN_LEN");
	else
		snprintf(buf, n, "Error binding to the host-side Unix socket: %s (os error %d)",
			 strerror(-r), -r);
	return buf;
}

/* How long a paused guest may leave a CONNECT unanswered. */
static int64_t request_timeout(void)
{
	const char *s = getenv("FC_FAKE_VSOCK_REQUEST_TIMEOUT_MS");
	char *end = NULL;
	long long v = s && *s ? strtoll(s, &end, 10) : -1;

	return end && *end == '\0' && v > 0 ? v : REQUEST_TIMEOUT_MS;
}

int fc_vsock_open(struct fc_vsock **out, const char *uds_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fc_vsock *vs;
	int fd, e;

	if (strlen(uds_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
		goto fail;
	vs = calloc(1, sizeof(*vs));
	if (!vs || !(vs->path = strdup(uds_path))) {
		free(vs);
		errno = ENOMEM;
		goto fail;
	}
	vs->lfd = fd;
	vs->host_port_last = FIRST_HOST_PORT - 1;
	vs->clock_ms = fc_now_ms();
	vs->request_timeout_ms = request_timeout();
	*out = vs;
	return 0;
fail:
	e = errno;
	close(fd);
	return -e;
}

static void vc_close(struct vconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = VC_FREE;
	c->len = 0;
}

void fc_vsock_free(struct fc_vsock *vs)
{
	if (!vs)
		return;
	for (size_t i = 0; i < FC_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].st != VC_FREE)
			vc_close(&vs->conns[i]);
	close(vs->lfd);
	free(vs->path);
	free(vs);
}

const char *fc_vsock_path(const struct fc_vsock *vs)
{
	return vs->path;
}

static void log_connect(uint32_t port, int64_t host_port, const char *result)
{
	fc_calllog_event("vsock", json_pack("{s:I, s:o, s:s}", "port", (json_int_t)port,
					    "host_port", host_port < 0 ? json_null() :
					    json_integer(host_port), "result", result));
}

/* The muxer's allocate_local_port: the next port in [2^30, 2^31). */
static uint32_t next_host_port(struct fc_vsock *vs)
{
	vs->host_port_last = ((vs->host_port_last + 1) & ~(1u << 31)) | (1u << 30);
	return vs->host_port_last;
}

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	/* a few bytes on a fresh unix socket: the buffer has room */
	return send(fd, s, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

/* The guest answers a request: OK (the connection is the guest's) or RST. */
static void answer(struct fc_vmm *v, struct vconn *c)
{
	char ok[32];

	if (!fc_guest_listens(v, c->port)) {
		fc_info("fake vsock: nothing listens on guest port %u: host connection closed",
			c->port);
		log_connect(c->port, c->host_port, "refused");
		vc_close(c);
		return;
	}
	snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	if (send_all(c->fd, ok) < 0) {
		vc_close(c);
		return;
	}
	log_connect(c->port, c->host_port, "connected");
	c->st = VC_GUEST;
	c->len = 0;
	c->order = v->vsock->guest_order++;
	c->budget_ms = AGENT_CONN_TIMEOUT_MS;
}

/* The GUEST connection the agent serves now (the oldest), or NULL. */
static struct vconn *served(struct fc_vsock *vs)
{
	struct vconn *best = NULL;

	for (size_t i = 0; vs && i < FC_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].st == VC_GUEST && (!best || vs->conns[i].order < best->order))
			best = &vs->conns[i];
	return best;
}

static void drop_guest_conn(struct vconn *c, const char *why)
{
	fc_info("fake guest: the agent dropped a connection: %s", why);
	fc_calllog_event("agent_dropped", json_pack("{s:I, s:s}", "port", (json_int_t)c->port,
						    "why", why));
	vc_close(c);
}

void fc_vsock_clock(struct fc_vmm *v)
{
	struct fc_vsock *vs = v->vsock;
	struct vconn *c = served(vs);
	int64_t now = fc_now_ms();

	if (!vs)
		return;
	if (c && v->state == FC_RUNNING)
		c->budget_ms -= now - vs->clock_ms;
	vs->clock_ms = now;
}

/* The muxer's read_local_stream_port: 0 and *port, or -EINVAL (closed). */
static int parse_connect(const char *buf, uint32_t *port)
{
	char word[16], num[24], *end;
	unsigned long long p;

	if (sscanf(buf, "%15s %23s", word, num) != 2 || strcasecmp(word, "connect") != 0)
		return -EINVAL;
	errno = 0;
	p = strtoull(num, &end, 10);
	if (*end || errno || p > UINT32_MAX || num[0] == '-')
		return -EINVAL;
	*port = (uint32_t)p;
	return 0;
}

/* Reads the CONNECT line as the muxer does: MIN_READ bytes must be there at
 * once, then byte by byte to '\n' or 32 bytes; bytes after '\n' are left. */
static int read_connect(struct vconn *c, uint32_t *port)
{
	char buf[CONNECT_MAX_READ + 1];
	ssize_t n = recv(c->fd, buf, CONNECT_MAX_READ, MSG_PEEK);
	char *nl;
	size_t take;

	if (n < CONNECT_MIN_READ)
		return -EINVAL;
	nl = memchr(buf, '\n', (size_t)n);
	if (!nl && n < CONNECT_MAX_READ)
		return -EINVAL; /* the muxer's next read would block: dropped */
	take = nl ? (size_t)(nl - buf) + 1 : CONNECT_MAX_READ;
	if (recv(c->fd, buf, take, 0) != (ssize_t)take)
		return -EIO;
	buf[take] = '\0';
	for (size_t i = 0; i < take; i++)
		if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
			return -EINVAL; /* not UTF-8 text, as far as we care */
	return parse_connect(buf, port);
}

static void on_connect_line(struct fc_vmm *v, struct fc_vsock *vs, struct vconn *c)
{
	if (read_connect(c, &c->port) < 0) {
		fc_info("fake vsock: invalid CONNECT request: host connection closed");
		log_connect(0, -1, "invalid");
		vc_close(c);
		return;
	}
	c->host_port = next_host_port(vs);
	if (v->state == FC_RUNNING) {
		answer(v, c);
		return;
	}
	c->st = VC_PENDING; /* the paused guest answers when resumed */
	c->deadline_ms = fc_now_ms() + vs->request_timeout_ms;
}

/* The guest's agent took a line: it exits, the connections still waiting
 * in its backlog are closed with it. */
static void agent_done(struct fc_vsock *vs)
{
	for (size_t i = 0; i < FC_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].st == VC_GUEST)
			vc_close(&vs->conns[i]);
}

/* NULL if buf[0, n) holds a good line (ended by its '\n'), else why not. */
static const char *bad_line(const char *buf, size_t n)
{
	if (n == 1)
		return "an empty line";
	if (memchr(buf, '\0', n))
		return "a NUL byte";
	return NULL;
}

/* Bytes for the agent, on the connection it serves: its one line. */
static void on_guest_bytes(struct fc_vmm *v, struct vconn *c)
{
	ssize_t n = recv(c->fd, c->line + c->len, FC_VSOCK_LINE_MAX - c->len, 0);
	const char *why;
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_guest_conn(c, "closed before a full line");
		return;
	}
	c->len += (size_t)n;
	nl = memchr(c->line, '\n', c->len);
	if (!nl) {
		if (c->len == FC_VSOCK_LINE_MAX)
			drop_guest_conn(c, "line longer than 4095 bytes");
		return;
	}
	if ((why = bad_line(c->line, (size_t)(nl - c->line) + 1))) {
		drop_guest_conn(c, why);
		return;
	}
	*nl = '\0';
	if (send_all(c->fd, "OK\n") < 0) { /* not taken: the host sends it again */
		drop_guest_conn(c, "the answer could not be written");
		return;
	}
	fc_guest_agent_line(v, c->port, c->line);
	agent_done(v->vsock);
}

static void accept_all(struct fc_vsock *vs)
{
	for (;;) {
		int fd = accept4(vs->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		size_t i;

		if (fd < 0)
			return;
		for (i = 0; i < FC_VSOCK_MAX_CONNS && vs->conns[i].st != VC_FREE; i++)
			;
		if (i == FC_VSOCK_MAX_CONNS) {
			fc_warn("fake vsock: connection limit reached; refusing new host connection");
			close(fd);
			continue;
		}
		vs->conns[i] = (struct vconn){ .fd = fd, .st = VC_CONNECT };
	}
}

size_t fc_vsock_pollfds(struct fc_vmm *v, struct pollfd *p, size_t max)
{
	struct fc_vsock *vs = v->vsock;
	size_t n = 0;

	if (!vs || v->state == FC_NOT_STARTED || max == 0)
		return 0; /* before boot, host connections wait in the backlog */
	p[n++] = (struct pollfd){ .fd = vs->lfd, .events = POLLIN };
	/* CONNECT lines are the muxer's (read even while paused); the agent
	 * reads one connection at a time, and nothing while paused */
	for (size_t i = 0; i < FC_VSOCK_MAX_CONNS && n < max; i++)
		if (vs->conns[i].st == VC_CONNECT)
			p[n++] = (struct pollfd){ .fd = vs->conns[i].fd, .events = POLLIN };
	if (v->state == FC_RUNNING && served(vs) && n < max)
		p[n++] = (struct pollfd){ .fd = served(vs)->fd, .events = POLLIN };
	return n;
}

static struct vconn *conn_of_fd(struct fc_vsock *vs, int fd)
{
	for (size_t i = 0; i < FC_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].st != VC_FREE && vs->conns[i].fd == fd)
			return &vs->conns[i];
	return NULL;
}

void fc_vsock_on_poll(struct fc_vmm *v, const struct pollfd *p, size_t n)
{
	struct fc_vsock *vs = v->vsock;

	for (size_t i = 0; vs && i < n; i++) {
		struct vconn *c;

		if (!p[i].revents)
			continue;
		if (p[i].fd == vs->lfd) {
			accept_all(vs);
			continue;
		}
		c = conn_of_fd(vs, p[i].fd);
		if (c && c->st == VC_CONNECT)
			on_connect_line(v, vs, c);
		else if (c && c->st == VC_GUEST)
			on_guest_bytes(v, c);
	}
}

void fc_vsock_tick(struct fc_vmm *v)
{
	struct fc_vsock *vs = v->vsock;
	int64_t now = fc_now_ms();
	struct vconn *c;

	fc_vsock_clock(v);
	while ((c = served(vs)) && c->budget_ms <= 0)
		drop_guest_conn(c, "no line in 10 s");

	for (size_t i = 0; vs && i < FC_VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &vs->conns[i];

		if (c->st != VC_PENDING)
			continue;
		if (v->state == FC_RUNNING) {
			answer(v, c);
		} else if (now >= c->deadline_ms) {
			fc_info("fake vsock: guest port %u did not answer in %lld ms (paused): "
				"host connection closed", c->port, (long long)vs->request_timeout_ms);
			log_connect(c->port, c->host_port, "timeout");
			vc_close(c);
		}
	}
}

int64_t fc_vsock_due(const struct fc_vmm *v)
{
	struct fc_vsock *vs = v->vsock;
	struct vconn *g = served(vs);
	int64_t due = -1, now = fc_now_ms();

	if (g && v->state == FC_RUNNING) {
		due = g->budget_ms - (now - vs->clock_ms);
		due = due < 0 ? 0 : due;
	}
	for (size_t i = 0; vs && i < FC_VSOCK_MAX_CONNS; i++) {
		const struct vconn *c = &vs->conns[i];
		int64_t left;

		if (c->st != VC_PENDING)
			continue;
		left = v->state == FC_RUNNING ? 0 : c->deadline_ms - now;
		left = left < 0 ? 0 : left;
		if (due < 0 || left < due)
			due = left;
	}
	return due;
}

int fc_parse_put_vsock(const struct fc_call *call, struct fc_reply *rep)
{
	if (json_object_get(call->body, "vsock_id"))
		return fc_deprecated(rep, "PUT /vsock: vsock_id field is deprecated.");
	return 0;
}

/* PUT /vsock: Firecracker's VsockBuilder::insert — the old device is
 * dropped and its socket file removed first, then the new uds is bound. */
void fc_op_put_vsock(struct fc_vmm *v, const struct fc_call *call, struct fc_reply *rep)
{
	const char *path = json_string_value(json_object_get(call->body, "uds_path"));
	char why[512];
	int r;

	if (v->vsock) {
		char *old = strdup(fc_vsock_path(v->vsock));

		fc_vsock_free(v->vsock);
		v->vsock = NULL;
		json_object_del(v->resources, "vsock");
		r = old && unlink(old) == 0 ? 0 : old ? -errno : -ENOMEM;
		free(old);
		if (r < 0) {
			fc_reply_fault(rep, 400, "Vsock config error: Cannot create backend for "
				       "vsock device: %s", fc_vsock_bind_error(r, why, sizeof(why)));
			return;
		}
	}
	r = fc_vsock_open(&v->vsock, path);
	if (r < 0) {
		fc_reply_fault(rep, 400, "Vsock config error: Cannot create backend for vsock "
			       "device: %s", fc_vsock_bind_error(r, why, sizeof(why)));
		return;
	}
	fc_info("fake vsock: listening on %s", path);
	fc_op_put_resource(v, call, rep);
}
