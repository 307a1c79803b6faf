/*
 * ms.c — HTTP/1.0 server and client, memcached client, registration (ms.h).
 *
 * Deliberately small: one request per connection (Connection: close), a
 * thread per connection, blocking sockets with SO_RCVTIMEO/SO_SNDTIMEO so a
 * dead peer costs a timeout, never a hang.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ms.h"

uint64_t ms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vlog(const char *who, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, who);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void ms_log(const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(who, fmt, ap);
	va_end(ap);
}

void ms_die(const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(who, fmt, ap);
	va_end(ap);
	exit(1);
}

void ms_reply(struct ms_resp *resp, int status, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	free(resp->body);
	resp->status = n < 0 ? 500 : status;
	resp->body = n < 0 ? NULL : s;
	resp->len = n < 0 ? 0 : (size_t)n;
}

void ms_reply_take(struct ms_resp *resp, int status, char *body, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->len = len;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	/* best effort: a socket without them still works, only slower to give up */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads a whole HTTP message (headers + Content-Length body, or until EOF
 * when there is none and until_eof is set). *hdr_end = offset of the body. */
static int read_message(int fd, bool until_eof, char **out, size_t *outlen, size_t *hdr_end)
{
	size_t cap = 4096, len = 0, want = SIZE_MAX;
	char *buf = malloc(cap + 1);

	*hdr_end = 0;
	if (!buf)
		return -1;
	for (;;) {
		ssize_t n;

		if (*hdr_end && want != SIZE_MAX && len >= *hdr_end + want)
			break;
		if (len == cap) {
			char *nb;

			if (cap >= MS_MAX_BODY + 65536)
				goto fail;
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				goto fail;
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0) {
			if (*hdr_end && (want == SIZE_MAX ? until_eof : len >= *hdr_end + want))
				break;
			goto fail;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (!*hdr_end) {
			char *e = strstr(buf, "\r\n\r\n");

			if (!e) {
				if (len > 65536)
					goto fail;
				continue;
			}
			*hdr_end = (size_t)(e - buf) + 4;
			for (char *l = buf; l < e;) {
				char *nl = strstr(l, "\r\n");

				if (!strncasecmp(l, "Content-Length:", 15)) {
					unsigned long long v = strtoull(l + 15, NULL, 10);

					if (v > MS_MAX_BODY)
						goto fail;
					want = (size_t)v;
				}
				if (!nl)
					break;
				l = nl + 2;
			}
			if (want == SIZE_MAX && !until_eof)
				want = 0;
		}
	}
	if (want != SIZE_MAX)
		len = *hdr_end + want;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

struct conn {
	int fd;
	ms_handler h;
	void *arg;
};

static void *serve_conn(void *p)
{
	struct conn *c = p;
	struct ms_req req = { 0 };
	struct ms_resp resp = { 0 };
	char *msg = NULL, head[256];
	size_t len, hdr;
	int n;

	set_timeouts(c->fd, 10000);
	if (read_message(c->fd, false, &msg, &len, &hdr) < 0)
		goto out;
	{
		char target[1024], *q;

		if (sscanf(msg, "%7s %1023s", req.method, target) != 2)
			goto out;
		q = strchr(target, '?');
		if (q)
			*q++ = '\0';
		if (strlen(target) >= sizeof(req.path) || (q && strlen(q) >= sizeof(req.query)))
			goto out; /* longer than any of our routes */
		memcpy(req.path, target, strlen(target) + 1);
		if (q)
			memcpy(req.query, q, strlen(q) + 1);
	}
	req.body = msg + hdr;
	req.len = len - hdr;
	resp.status = 500;
	c->h(&req, &resp, c->arg);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     resp.status, reason(resp.status), resp.ctype ? resp.ctype : "text/plain",
		     resp.len);
	if (n > 0 && (size_t)n < sizeof(head) && write_all(c->fd, head, (size_t)n) == 0 &&
	    resp.len)
		(void)write_all(c->fd, resp.body, resp.len); /* the peer may be gone */
out:
	free(resp.body);
	free(msg);
	close(c->fd);
	free(c);
	return NULL;
}

int ms_serve(uint16_t port, ms_handler h, void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	pthread_attr_t attr;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		ms_log("http", "cannot listen on port %u: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (pthread_attr_init(&attr) || pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED))
		return -1;
	for (;;) {
		struct conn *c;
		pthread_t t;
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(10000);
				continue;
			}
			ms_log("http", "accept: %s", strerror(errno));
			close(fd);
			return -1;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		*c = (struct conn){ cfd, h, arg };
		if (pthread_create(&t, &attr, serve_conn, c) != 0) {
			close(cfd);
			free(c);
		}
	}
}

struct serve_args {
	uint16_t port;
	ms_handler h;
	void *arg;
};

static void *serve_main(void *p)
{
	struct serve_args a = *(struct serve_args *)p;

	free(p);
	if (ms_serve(a.port, a.h, a.arg) < 0)
		ms_die("http", "server on port %u ended", a.port);
	return NULL;
}

int ms_serve_thread(uint16_t port, ms_handler h, void *arg)
{
	struct serve_args *a = malloc(sizeof(*a));
	pthread_t t;

	if (!a)
		return -1;
	*a = (struct serve_args){ port, h, arg };
	if (pthread_create(&t, NULL, serve_main, a) != 0) {
		free(a);
		return -1;
	}
	return pthread_detach(t) ? -1 : 0;
}

static int dial(const char *addr, int timeout_ms)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&pfd, 1, timeout_ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err)
		goto fail;
	{
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			goto fail;
	}
	set_timeouts(fd, timeout_ms);
	return fd;
fail:
	close(fd);
	return -1;
}

int ms_call(const char *addr, const char *method, const char *path,
	    const char *body, size_t len, int timeout_ms, int *status,
	    char **out, size_t *outlen)
{
	char head[768], *msg = NULL;
	size_t mlen, hdr;
	int fd = dial(addr, timeout_ms), n;

	if (fd < 0)
		return -1;
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.0\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n",
		     method, path, addr, body ? len : 0);
	if (n < 0 || (size_t)n >= sizeof(head) || write_all(fd, head, (size_t)n) < 0 ||
	    (body && len && write_all(fd, body, len) < 0) ||
	    read_message(fd, true, &msg, &mlen, &hdr) < 0 ||
	    sscanf(msg, "HTTP/1.%*d %d", status) != 1) {
		free(msg);
		close(fd);
		return -1;
	}
	close(fd);
	memmove(msg, msg + hdr, mlen - hdr + 1);
	*out = msg;
	if (outlen)
		*outlen = mlen - hdr;
	return 0;
}

/* One memcached command; its first answer line in line. */
static int mc_cmd(const char *mc, const char *cmd, size_t cmdlen, char *line, size_t llen,
		  char *val, size_t vlen, int *found)
{
	char buf[4096];
	size_t have = 0;
	int fd = dial(mc, 2000);

	if (fd < 0)
		return -1;
	if (write_all(fd, cmd, cmdlen) < 0)
		goto fail;
	/* read until "END\r\n" (get) or one line (set/append/add) */
	for (;;) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		have += (size_t)n;
		buf[have] = '\0';
		if (!val && strstr(buf, "\r\n"))
			break;
		if (val && (!strncmp(buf, "END\r\n", 5) || strstr(buf, "\r\nEND\r\n")))
			break;
		if (have == sizeof(buf) - 1)
			goto fail;
	}
	close(fd);
	snprintf(line, llen, "%.*s", (int)strcspn(buf, "\r\n"), buf);
	if (val) {
		unsigned flags, bytes;
		char *data;

		*found = 0;
		if (sscanf(buf, "VALUE %*s %u %u", &flags, &bytes) == 2) {
			data = strstr(buf, "\r\n");
			if (!data || bytes >= vlen || (size_t)(data + 2 - buf) + bytes > have)
				return -1;
			memcpy(val, data + 2, bytes);
			val[bytes] = '\0';
			*found = 1;
		}
	}
	return 0;
fail:
	close(fd);
	return -1;
}

static int mc_store(const char *mc, const char *verb, const char *key, const char *val,
		    char *line, size_t llen)
{
	char cmd[1024];
	int n = snprintf(cmd, sizeof(cmd), "%s %s 0 0 %zu\r\n%s\r\n", verb, key, strlen(val), val);

	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return mc_cmd(mc, cmd, (size_t)n, line, llen, NULL, 0, NULL);
}

int ms_mc_set(const char *mc, const char *key, const char *val)
{
	char line[128];

	if (mc_store(mc, "set", key, val, line, sizeof(line)) < 0)
		return -1;
	return strcmp(line, "STORED") ? -1 : 0;
}

int ms_mc_get(const char *mc, const char *key, char *val, size_t vlen)
{
	char cmd[300], line[128];
	int found = 0, n = snprintf(cmd, sizeof(cmd), "get %s\r\n", key);

	if (n < 0 || (size_t)n >= sizeof(cmd) ||
	    mc_cmd(mc, cmd, (size_t)n, line, sizeof(line), val, vlen, &found) < 0)
		return -1;
	return found;
}

int ms_mc_add_word(const char *mc, const char *key, const char *word)
{
	char line[128], w[300];

	snprintf(w, sizeof(w), " %s", word);
	for (int i = 0; i < 10; i++) {
		if (mc_store(mc, "append", key, w, line, sizeof(line)) < 0)
			return -1;
		if (!strcmp(line, "STORED"))
			return 0;
		/* NOT_STORED: no such key yet; "add" is atomic, a race retries */
		if (mc_store(mc, "add", key, w, line, sizeof(line)) < 0)
			return -1;
		if (!strcmp(line, "STORED"))
			return 0;
	}
	return -1;
}

void ms_own_ip(char *buf, size_t len)
{
	struct ifaddrs *ifa, *i;

	snprintf(buf, len, "127.0.0.1");
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, (socklen_t)len);
		break;
	}
	freeifaddrs(ifa);
}

int ms_register(const char *mc, const char *type, const char *id, uint16_t port,
		char *addr, size_t alen)
{
	char ip[64], key[200];
	unsigned delay = 100;

	ms_own_ip(ip, sizeof(ip));
	snprintf(addr, alen, "%s:%u", ip, port);
	if (!strcmp(type, "worker"))
		snprintf(key, sizeof(key), "svc:worker:%s", id);
	else
		snprintf(key, sizeof(key), "svc:%s", type);
	for (unsigned attempt = 1;; attempt++) {
		if (ms_mc_set(mc, key, addr) == 0 &&
		    (strcmp(type, "worker") || ms_mc_add_word(mc, "svc:workers", id) == 0)) {
			ms_log(type, "registered %s = %s in memcached %s", key, addr, mc);
			return 0;
		}
		if (attempt == 1 || attempt % 10 == 0)
			ms_log(type, "memcached %s does not answer yet; retrying", mc);
		usleep(delay * 1000);
		if (delay < 1000)
			delay *= 2;
	}
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool ms_query(const char *query, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		size_t o = 0;

		if (strncmp(p, key, klen) || p[klen] != '=')
			continue;
		for (p += klen + 1; *p && *p != '&' && o + 1 < len; p++) {
			if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				buf[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
				p += 2;
			} else {
				buf[o++] = *p == '+' ? ' ' : *p;
			}
		}
		buf[o] = '\0';
		return true;
	}
	return false;
}

/* PPM header number, skipping whitespace and comments. */
static int ppm_num(const unsigned char *in, size_t len, size_t *pos, unsigned *v)
{
	unsigned long n = 0;
	size_t d = 0;

	for (;;) {
		while (*pos < len && strchr(" \t\r\n", in[*pos]))
			(*pos)++;
		if (*pos < len && in[*pos] == '#') {
			while (*pos < len && in[*pos] != '\n')
				(*pos)++;
			continue;
		}
		break;
	}
	while (*pos < len && in[*pos] >= '0' && in[*pos] <= '9' && d < 6) {
		n = n * 10 + (in[*pos] - '0');
		(*pos)++;
		d++;
	}
	if (!d || n == 0 || n > 65535)
		return -1;
	*v = (unsigned)n;
	return 0;
}

int ms_ppm_to_pgm(const unsigned char *in, size_t len, unsigned char **out,
		  size_t *outlen, char *err, size_t errlen)
{
	unsigned w, h, max;
	size_t pos = 2, px, hl;
	unsigned char *o;
	char head[64];

	if (len < 2 || in[0] != 'P' || in[1] != '6') {
		snprintf(err, errlen, "not a binary PPM (P6)");
		return -1;
	}
	if (ppm_num(in, len, &pos, &w) < 0 || ppm_num(in, len, &pos, &h) < 0 ||
	    ppm_num(in, len, &pos, &max) < 0 || max != 255 || pos >= len ||
	    !strchr(" \t\r\n", in[pos])) {
		snprintf(err, errlen, "bad PPM header (width, height, maxval 255)");
		return -1;
	}
	pos++;
	px = (size_t)w * h;
	if (len - pos < px * 3) {
		snprintf(err, errlen, "PPM truncated: %zu bytes of pixels, %zu needed", len - pos,
			 px * 3);
		return -1;
	}
	hl = (size_t)snprintf(head, sizeof(head), "P5\n%u %u\n255\n", w, h);
	o = malloc(hl + px);
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(o, head, hl);
	for (size_t i = 0; i < px; i++) {
		const unsigned char *p = in + pos + 3 * i;

		o[hl + i] = (unsigned char)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
	}
	*out = o;
	*outlen = hl + px;
	return 0;
}

/* In a uigniter guest: its VM id (uigniter.id= on the kernel command line),
 * unique for ever, where an address is reused by the next VM. */
bool ms_vm_id(char *buf, size_t len)
{
	char line[4096], *p;
	FILE *f = fopen("/proc/cmdline", "r");
	bool found = false;

	if (!f)
		return false;
	if (fgets(line, sizeof(line), f) && (p = strstr(line, "uigniter.id="))) {
		p += strlen("uigniter.id=");
		p[strcspn(p, " \n")] = '\0';
		if (*p && strlen(p) < len) {
			memcpy(buf, p, strlen(p) + 1);
			found = true;
		}
	}
	fclose(f);
	return found;
}

uint64_t ms_epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ms_service_main(int argc, char **argv, const char *who, unsigned port,
		    int (*start)(const char *mc, unsigned port))
{
	static const struct option opts[] = {
		{ "mc", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ 0 },
	};
	const char *mc = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm')
			mc = optarg;
		else if (c == 'p')
			port = (unsigned)atoi(optarg);
		else
			ms_die(who, "usage: ms-%s --mc IP:PORT [--port N]", who);
	}
	if (!mc || !port || port > 65535)
		ms_die(who, "usage: ms-%s --mc IP:PORT [--port N]", who);
	if (start(mc, port) < 0)
		ms_die(who, "cannot serve on port %u", port);
	for (;;)
		pause();
}
