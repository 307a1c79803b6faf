/*
 * ms.h — what the example microservices share: a small HTTP/1.0 server
 * (a thread per connection) and client, and a memcached text-protocol
 * client for the service registry.
 *
 * The system (examples/microservices/README.md): memcached is the registry
 * (key "svc:<type>" = "ip:port"; workers under "svc:worker:<id>" and the
 * list "svc:workers"); master forwards "/call/<type>/<path>" to the
 * service registered as <type>; db is the task queue; storage holds the
 * inputs and outputs; workers take tasks from db through master.
 *
 * Every call that can fail returns -1 (or NULL) and says why on stderr;
 * nothing here exits the process except ms_die.
 */
#ifndef MS_H
#define MS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_MAX_BODY (16u << 20) /* 16 MiB: the largest image or answer */

struct ms_req {
	char method[8];
	char path[512];  /* without the query */
	char query[512]; /* after '?', or "" */
	char *body;      /* NUL-terminated, len bytes */
	size_t len;
};

struct ms_resp {
	int status;
	const char *ctype; /* default text/plain */
	char *body;        /* malloc'd, freed by the server */
	size_t len;
};

typedef void (*ms_handler)(const struct ms_req *req, struct ms_resp *resp, void *arg);

/* Sets resp to status + printf text (malloc'd). */
void ms_reply(struct ms_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes body (malloc'd) as the answer. */
void ms_reply_take(struct ms_resp *resp, int status, char *body, size_t len);

/* Serves HTTP/1.0 on 0.0.0.0:port until the process ends. */
int ms_serve(uint16_t port, ms_handler h, void *arg);
/* Starts ms_serve on a thread (for processes that serve more than one). */
int ms_serve_thread(uint16_t port, ms_handler h, void *arg);

/* One HTTP/1.0 call to "ip:port": *status and the body (malloc'd,
 * NUL-terminated) on success (any status), -1 when the peer could not be
 * reached or answered garbage within timeout_ms. */
int ms_call(const char *addr, const char *method, const char *path,
	    const char *body, size_t len, int timeout_ms, int *status,
	    char **out, size_t *outlen);

/* memcached (text protocol) at "ip:port". get: 1 found (value copied),
 * 0 absent, -1 error. */
int ms_mc_set(const char *mc, const char *key, const char *val);
int ms_mc_get(const char *mc, const char *key, char *val, size_t vlen);
/* Appends " word" to key's value (creating the key when absent). */
int ms_mc_add_word(const char *mc, const char *key, const char *word);

/* Registers this process as <type> at <own ip>:port, retrying until
 * memcached answers. For type "worker", under svc:worker:<id> and in the
 * svc:workers list. Writes the address registered into addr. */
int ms_register(const char *mc, const char *type, const char *id, uint16_t port,
		char *addr, size_t alen);

/* The first non-loopback IPv4 address of this host, "127.0.0.1" if none. */
void ms_own_ip(char *buf, size_t len);

/* A query parameter's value (URL-decoded into buf); false when absent. */
bool ms_query(const char *query, const char *key, char *buf, size_t len);

uint64_t ms_now_ms(void);   /* CLOCK_MONOTONIC */
uint64_t ms_epoch_ms(void); /* CLOCK_REALTIME */
/* In a uigniter guest: its VM id (uigniter.id= on the kernel command line). */
bool ms_vm_id(char *buf, size_t len);
int ms_fetch_main(int argc, char **argv);
/* The main of a service whose options are --mc and --port only: parses
 * them, calls start, then serves for ever (usage errors exit 1). */
_Noreturn int ms_service_main(int argc, char **argv, const char *who, unsigned port,
			      int (*start)(const char *mc, unsigned port));
void ms_log(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void ms_die(const char *who, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The services (each a main of its own; ms-core runs db, storage and master
 * in one process on their default ports). */
int ms_db_main(int argc, char **argv);
int ms_db_start(const char *mc, unsigned port, unsigned lease_ms);
int ms_storage_start(const char *mc, unsigned port);
int ms_master_start(const char *mc, unsigned port);
int ms_storage_main(int argc, char **argv);
int ms_master_main(int argc, char **argv);
int ms_worker_main(int argc, char **argv);

/* Default ports */
#define MS_PORT_MASTER 8080
#define MS_PORT_DB 8081
#define MS_PORT_STORAGE 8082
#define MS_PORT_WORKER 8083

/* The work: a binary PPM (P6, maxval 255) to a PGM (P5) with
 * gray = (299 R + 587 G + 114 B + 500) / 1000. 0 on success (*out malloc'd),
 * -1 for input that is not such a PPM (reason in err). */
int ms_ppm_to_pgm(const unsigned char *in, size_t len, unsigned char **out,
		  size_t *outlen, char *err, size_t errlen);

#endif
