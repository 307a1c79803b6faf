/*
 * server.c — listeners, request dispatch and ring replies.
 *
 * Dispatch: routes.c turns a request into an action; reads (GET) are
 * answered at once from the registry/shm; RUN and STOP go to pool-worker on
 * ring 0 and leave the connection BUSY with req_id recorded in the conn.
 * A ring reply is matched to the one connection waiting for that req_id
 * (each connection has at most one outstanding request, so a linear search
 * over at most max_conns is enough); if that client has gone, or timed out,
 * nobody waits for the id and the reply is dropped.
 * apid never writes the registry: a successful reply carries its VM's row
 * as committed (UI_REPLY_VM, ring_vm.h) and is answered from it, or apid
 * reads the row.
 *
 * A GET /vm page (up to ROUTE_LIST_MAX rows) is built in slices of
 * LIST_SLICE rows, one slice per job per loop turn (an idle handle), each
 * its own keyset query after the last id so far: other connections are
 * served between slices, and no read snapshot is held across turns. The
 * connection stays BUSY meanwhile; closing it cancels its job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmid.h"
#include "auth.h"
#include "conn.h"
#include "events.h"
#include "console.h"
#include "json.h"
#include "log.h"
#include "metrics_text.h"
#include "routes.h"
#include "server.h"
#include "images.h"
#include "ring_vm.h"
#include "shm.h"

void apid_server_opts_from_config(struct apid_server_opts *o, const struct ui_config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->max_header_bytes = cfg->max_header_bytes;
	o->max_body_bytes = cfg->max_body_bytes;
	o->request_timeout_ms = cfg->request_timeout_ms;
	o->run_timeout_ms = cfg->run_timeout_ms;
	o->ready_timeout_ms = cfg->ready_timeout_ms;
	o->idle_timeout_ms = cfg->idle_timeout_ms;
	o->linger_ms = 2000;
	o->max_conns_tcp = cfg->max_conns_tcp;
	o->max_conns_unix = cfg->max_conns_unix;
}

/* fds apid needs besides its connections: registry (db, wal, shm), the shm
 * segment, doorbells, listeners, log, a rejected connection's moment. */
#define APID_FD_RESERVE 64

void apid_server_fit_fds(struct apid_server_opts *o)
{
	rlim_t want = (rlim_t)o->max_conns_tcp + o->max_conns_unix + APID_FD_RESERVE;
	struct rlimit rl;
	rlim_t budget;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		ui_warn("getrlimit(RLIMIT_NOFILE): %s; connection limits not checked",
			strerror(errno));
		return;
	}
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { want < rl.rlim_max ? want : rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = up.rlim_cur;
		else
			ui_warn("raising RLIMIT_NOFILE to %llu: %s",
				(unsigned long long)up.rlim_cur, strerror(errno));
	}
	o->fd_ceiling = (unsigned long long)rl.rlim_cur;
	budget = rl.rlim_cur > APID_FD_RESERVE + 2 ? rl.rlim_cur - APID_FD_RESERVE : 2;
	if (want - APID_FD_RESERVE > budget) {
		/* the unix socket (the operator's way in) keeps its share first */
		if (o->max_conns_unix > budget / 4)
			o->max_conns_unix = budget / 4 ? (unsigned)(budget / 4) : 1;
		o->max_conns_tcp = (unsigned)(budget - o->max_conns_unix);
		ui_warn("fd ceiling %llu (RLIMIT_NOFILE) is below limits.max_conns_tcp + "
			"max_conns_unix + %u: connections capped", o->fd_ceiling,
			APID_FD_RESERVE);
	}
	ui_info("connections: at most %u TCP and %u on the unix socket (fd ceiling %llu)",
		o->max_conns_tcp, o->max_conns_unix, o->fd_ceiling);
}

/*
 * A request waiting on a pool-worker that died (down, or respawned: another
 * generation) will never get its reply: answer it 503 now instead of
 * letting it run into the 504 deadline. A retry with the same
 * Idempotency-Key then returns the VM if the run had been done.
 */
static void on_pool_watch(uv_timer_t *t)
{
	struct apid_server *s = t->data;
	uint32_t gen = backend_pool_generation(s->be);
	bool up = backend_pool_ready(s->be);
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		struct http_response r = { 0 };

		next = c->next;
		if (c->req_id == 0 || (up && c->pool_gen == gen))
			continue;
		c->req_id = 0; /* a late reply is dropped */
		api_error(&r, 503, "unavailable",
			  "pool-worker restarted while handling this request; its "
			  "outcome is unknown: retry with the same Idempotency-Key");
		r.retry_after = 1;
		conn_respond(c, &r);
		conn_resume(c);
	}
}

#define APID_POOL_WATCH_MS 200
#define LIST_SLICE 100

struct list_job {
	struct list_job *next;
	struct conn *c;
	char state[16];
	char after[48];              /* the last id appended so far */
	unsigned left;               /* rows still wanted */
	json_t *arr;
};

static void list_job_free(struct apid_server *s, struct list_job *j)
{
	struct list_job **pp;

	for (pp = &s->list_jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = j->next;
	j->c->list = NULL;
	json_decref(j->arr);
	free(j);
	if (!s->list_jobs)
		uv_idle_stop(&s->list_idle);
}

void server_list_cancel(struct conn *c)
{
	list_job_free(c->srv, c->list);
}

/* One slice of j; answers the request when the page is complete. */
static void list_step(struct apid_server *s, struct list_job *j)
{
	struct http_response r = { 0 };
	unsigned n = j->left < LIST_SLICE ? j->left : LIST_SLICE;
	size_t before = json_array_size(j->arr);
	struct conn *c = j->c;
	bool more = false;
	int rc = backend_list_slice(s->be, j->state, j->after, n, j->arr, &more);
	size_t got = json_array_size(j->arr) - before;

	if (rc == 0 && got) {
		json_t *last = json_array_get(j->arr, json_array_size(j->arr) - 1);

		last = json_object_get(last, "id");
		snprintf(j->after, sizeof(j->after), "%s", json_string_value(last));
		j->left -= (unsigned)got;
	}
	if (rc == 0 && more && j->left)
		return;
	backend_list_answer(rc, json_incref(j->arr), more, &r);
	list_job_free(s, j);
	conn_respond(c, &r);
	conn_resume(c);
}

static void on_list_idle(uv_idle_t *h)
{
	struct apid_server *s = h->data;
	struct list_job *j, *next;

	for (j = s->list_jobs; j; j = next) {
		next = j->next;
		list_step(s, j);
	}
}

/* Starts building the page of rt for c; else fills r. 0 = building. */
static int dispatch_list(struct conn *c, const struct route *rt, struct http_response *r)
{
	struct apid_server *s = c->srv;
	struct list_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->arr = json_array())) {
		free(j);
		api_error(r, 500, "internal", "out of memory");
		return -ENOMEM;
	}
	j->c = c;
	snprintf(j->state, sizeof(j->state), "%s", rt->state);
	snprintf(j->after, sizeof(j->after), "%s", rt->after);
	j->left = rt->limit;
	j->next = s->list_jobs;
	s->list_jobs = j;
	c->list = j;
	uv_idle_start(&s->list_idle, on_list_idle);
	return 0;
}

void apid_server_init(struct apid_server *s, uv_loop_t *loop, const struct ui_config *cfg,
		      const struct apid_server_opts *o, struct backend *be)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->cfg = cfg;
	s->be = be;
	s->opt = *o;
	uv_timer_init(loop, &s->pool_watch);
	s->pool_watch.data = s;
	uv_timer_start(&s->pool_watch, on_pool_watch, APID_POOL_WATCH_MS,
		       APID_POOL_WATCH_MS);
	uv_unref((uv_handle_t *)&s->pool_watch);
	uv_idle_init(loop, &s->list_idle);
	s->list_idle.data = s;
	if (events_hub_init(s) < 0)
		ui_error("GET /events: cannot set up long-polls (out of memory)");
	console_init(s);
}

static void unavailable(struct http_response *r, const char *msg)
{
	api_error(r, 503, "unavailable", "%s", msg);
	r->retry_after = 1;
}

/* Sends m on ring 0 and leaves c waiting; else fills r. 0 = waiting. */
static int send_and_wait(struct conn *c, struct ui_msg *m, struct http_response *r)
{
	struct apid_server *s = c->srv;
	int rc;

	if (!backend_pool_ready(s->be)) {
		unavailable(r, "pool-worker is not ready; retry shortly");
		return -EAGAIN;
	}
	rc = backend_send(s->be, m);
	if (rc == -EAGAIN) {
		unavailable(r, "too many requests in flight; retry shortly");
		return rc;
	}
	if (rc < 0) {
		api_error(r, 500, "internal", "cannot reach pool-worker: %s", strerror(-rc));
		return rc;
	}
	/* pool-worker answers a run that waits for ready at the ready
	 * deadline itself (504, the VM left running): wait past it */
	conn_wait(c, m->req_id, m->op, s->opt.run_timeout_ms +
		  (m->flags & UI_RUN_WAIT_READY ? s->opt.ready_timeout_ms : 0));
	c->pool_gen = backend_pool_generation(s->be);
	return 0;
}

static int dispatch_run(struct conn *c, const struct route *rt, struct http_response *r)
{
	struct ui_msg m = { .op = UI_OP_RUN };
	int rc = ui_vm_id_new(m.vm_id);

	if (rc < 0) {
		api_error(r, 500, "internal", "cannot make a VM id: %s", strerror(-rc));
		return rc;
	}
	memcpy(m.image, rt->run.image, sizeof(m.image));
	memcpy(m.name, rt->run.name, sizeof(m.name));
	memcpy(m.key, rt->run.key, sizeof(m.key));
	m.vcpus = rt->run.vcpus;
	m.mem_mib = rt->run.mem_mib;
	m.flags = rt->run.wait_ready ? UI_RUN_WAIT_READY : 0;
	if (rt->run.cmd_set) {
		m.flags |= UI_RUN_CMD;
		memcpy(m.cmd, rt->run.cmd.buf, rt->run.cmd.len);
		m.cmd_len = (uint16_t)rt->run.cmd.len;
		m.cmd_argc = (uint16_t)rt->run.cmd.argc;
	}
	memcpy(m.boot_args, rt->run.boot_args, sizeof(m.boot_args));
	return send_and_wait(c, &m, r);
}

static bool vm_is_down(const struct ui_vm *vm)
{
	return strcmp(vm->state, UI_VM_STOPPED) == 0 || strcmp(vm->state, UI_VM_FAILED) == 0;
}

/* Stop, pause, resume and DELETE of the VM {id} names (an id or a name):
 * 404 without a row; a stop of a stopped/failed VM is answered as is, a
 * DELETE of a live one is 409, a pause of a VM not running or a resume of
 * one not paused is 409 (pool-worker checks again); else pool-worker acts (DELETE: the registry's writer
 * removes the row and its events). */
static int dispatch_vm_op(struct conn *c, const struct route *rt, struct http_response *r,
			  uint16_t op)
{
	struct ui_msg m = { .op = op };
	struct ui_vm *vm = malloc(sizeof(*vm)); /* ~20 KiB */
	int rc = vm ? backend_read_vm(c->srv->be, rt->vm_id, vm) : -ENOMEM;

	if (rc == -ENOENT) {
		api_error(r, 404, "not_found", "no VM with id %s", rt->vm_id);
	} else if (rc < 0) {
		api_error(r, 500, "internal", "registry read failed: %s", strerror(-rc));
	} else if (op == UI_OP_STOP && vm_is_down(vm)) {
		api_json(r, 200, vm_to_json(vm));
		rc = -EALREADY;
	} else if ((op == UI_OP_PAUSE || op == UI_OP_RESUME) &&
		   strcmp(vm->state, op == UI_OP_PAUSE ? UI_VM_RUNNING : UI_VM_PAUSED) != 0) {
		api_error(r, 409, "conflict", "VM %s is %s: only a %s VM can be %s", vm->id,
			  vm->state, op == UI_OP_PAUSE ? "running" : "paused",
			  op == UI_OP_PAUSE ? "paused" : "resumed");
		rc = -EEXIST;
	} else if (op == UI_OP_DELETE && !vm_is_down(vm)) {
		api_error(r, 409, "conflict", "VM %s is %s: stop it first", vm->id, vm->state);
		rc = -EEXIST;
	} else {
		memcpy(m.vm_id, vm->id, sizeof(m.vm_id)); /* rt's may be its name */
		rc = send_and_wait(c, &m, r);
	}
	free(vm);
	return rc;
}

void server_dispatch(struct conn *c, const struct http_req *req)
{
	struct apid_server *s = c->srv;
	struct http_response r = { 0 };
	struct route rt;

	if (!c->is_unix && s->token[0] && !auth_exempt(req)) {
		enum auth_result a = auth_check(req, s->token);

		if (a != AUTH_OK) {
			auth_deny(a, &r);
			conn_respond(c, &r);
			return;
		}
	}
	route_request(req, s->cfg, &rt);
	switch (rt.action) {
	case RA_RESPOND:
		r = rt.resp;
		break;
	case RA_RUN:
		if (dispatch_run(c, &rt, &r) == 0)
			return;
		break;
	case RA_STOP:
		if (dispatch_vm_op(c, &rt, &r, UI_OP_STOP) == 0)
			return;
		break;
	case RA_GET_VM:
		backend_get_vm(s->be, rt.vm_id, 200, &r);
		break;
	case RA_DELETE:
		if (dispatch_vm_op(c, &rt, &r, UI_OP_DELETE) == 0)
			return;
		break;
	case RA_PAUSE:
	case RA_RESUME:
		if (dispatch_vm_op(c, &rt, &r, rt.action == RA_PAUSE ? UI_OP_PAUSE :
				   UI_OP_RESUME) == 0)
			return;
		break;
	case RA_LIST_VMS:
		if (dispatch_list(c, &rt, &r) == 0)
			return;
		break;
	case RA_HEALTH:
		backend_health(s->be, &r);
		break;
	case RA_POOL:
		backend_pool(s->be, &r);
		break;
	case RA_IMAGES:
		apid_images(s->cfg, &r);
		break;
	case RA_EVENTS:
		if (events_dispatch(c, &rt, &r) == 0)
			return;
		break;
	case RA_METRICS:
		metrics_answer(s, &r);
		break;
	case RA_CONSOLE:
		if (console_dispatch(c, &rt, &r) == 0)
			return;
		break;
	}
	conn_respond(c, &r);
}

/* A successful reply's VM: the one it carries (UI_REPLY_VM: its row as
 * committed, ring_vm.h), else the row of the reply's id — a warm slot or
 * a replay names its own. */
static void answer_vm(struct apid_server *s, const struct ui_msg *m, int status,
		      struct http_response *r)
{
	struct ui_vm *vm = malloc(sizeof(*vm)); /* ~20 KiB */
	char id[sizeof(m->vm_id)];

	if (vm && ui_reply_get_vm(m, vm) == 0 && !ui_vm_state_is_slot(vm->state)) {
		api_json(r, status, vm_to_json(vm));
		s->answered_from[1]++;
		free(vm);
		return;
	}
	free(vm);
	memcpy(id, m->vm_id, sizeof(id));
	id[sizeof(id) - 1] = '\0';
	backend_get_vm(s->be, id, status, r);
	s->answered_from[0]++;
	/* The row must exist after a successful reply. */
	if (r->status == 404)
		api_error(r, 500, "internal", "VM %s missing from the registry", id);
}

void apid_server_on_reply(void *arg, const struct ui_msg *m)
{
	struct apid_server *s = arg;
	struct http_response r = { 0 };
	char id[sizeof(m->vm_id)];
	struct conn *c;

	for (c = s->conns; c && c->req_id != m->req_id; c = c->next)
		;
	if (!c || m->req_id == 0) {
		ui_debug("reply for request %llu: nobody is waiting",
			 (unsigned long long)m->req_id);
		return;
	}
	c->req_id = 0;
	if (m->status == 0 && c->req_op == UI_OP_DELETE) {
		memcpy(id, m->vm_id, sizeof(id));
		id[sizeof(id) - 1] = '\0';
		api_json(&r, 200, json_pack("{s:s,s:b}", "id", id, "deleted", 1));
	} else if (m->status == 0) {
		answer_vm(s, m, c->req_op == UI_OP_RUN && !(m->flags & UI_REPLY_REPLAYED) ?
			  201 : 200, &r);
	} else {
		backend_reply_error(m, &r);
	}
	conn_respond(c, &r);
	conn_resume(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct apid_server *s = listener->data;

	if (status < 0) {
		uint64_t now = ui_now_ms();

		if (!s->accept_err_ms || now - s->accept_err_ms >= 10000) {
			ui_warn("accept: %s (%u TCP and %u unix connections open, fd ceiling %llu)",
				uv_strerror(status), s->n_conns[0], s->n_conns[1],
				s->opt.fd_ceiling);
			s->accept_err_ms = now;
		}
		return;
	}
	conn_accept(s, listener, listener == (uv_stream_t *)&s->pipe);
}

/* "host:port" or "[v6]:port" → address. */
static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(hp, ':');
	const char *h = hp;
	size_t hlen;
	char *end;
	unsigned long port;

	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - hp);
	if (hlen >= 2 && hp[0] == '[' && hp[hlen - 1] == ']')
		h++, hlen -= 2;
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

static int bound_port(uv_tcp_t *tcp)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int apid_server_listen_tcp(struct apid_server *s, const char *hostport, int *port)
{
	struct sockaddr_storage ss;
	int rc = parse_hostport(hostport, &ss);

	if (rc < 0)
		return rc;
	uv_tcp_init(s->loop, &s->tcp);
	s->tcp.data = s;
	s->tcp_open = true;
	rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->tcp, 511, on_connection);
	if (rc < 0)
		return rc;
	if (port)
		*port = bound_port(&s->tcp);
	return 0;
}

/* Removes a leftover socket file; refuses to remove anything else. */
static int unlink_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

void apid_server_set_token(struct apid_server *s, const char *token)
{
	snprintf(s->token, sizeof(s->token), "%s", token);
}

int apid_server_listen_unix(struct apid_server *s, const char *path)
{
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	rc = unlink_stale_socket(path);
	if (rc < 0)
		return rc;
	uv_pipe_init(s->loop, &s->pipe, 0);
	s->pipe.data = s;
	s->pipe_open = true;
	/* Born 0600, then its group, then 0660: no window in which others
	 * may connect. Single-threaded. */
	old = umask(0177);
	rc = uv_pipe_bind(&s->pipe, path);
	umask(old);
	if (rc < 0)
		return rc;
	snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	if ((s->cfg->api_group[0] && chown(path, (uid_t)-1, s->cfg->api_gid) < 0) ||
	    chmod(path, s->cfg->api_group[0] ? 0660 : 0600) < 0)
		return -errno;
	return uv_listen((uv_stream_t *)&s->pipe, 511, on_connection);
}

void apid_server_close(struct apid_server *s)
{
	s->stopping = true;
	if (!uv_is_closing((uv_handle_t *)&s->pool_watch))
		uv_close((uv_handle_t *)&s->pool_watch, NULL);
	if (s->tcp_open && !uv_is_closing((uv_handle_t *)&s->tcp))
		uv_close((uv_handle_t *)&s->tcp, NULL);
	if (s->pipe_open && !uv_is_closing((uv_handle_t *)&s->pipe))
		uv_close((uv_handle_t *)&s->pipe, NULL);
	if (s->unix_path[0]) {
		unlink(s->unix_path);
		s->unix_path[0] = '\0';
	}
	while (s->conns)
		conn_close(s->conns); /* cancels their list jobs, long-polls and followers */
	events_hub_close(s);
	console_close(s);
	if (!uv_is_closing((uv_handle_t *)&s->list_idle))
		uv_close((uv_handle_t *)&s->list_idle, NULL);
}
