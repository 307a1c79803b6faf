/*
 * main.c — netd, the only uigniter process that touches host networking: a
 * reconciler that makes the kernel's bridge and tap devices match the
 * registry (reconcile.h). The daemon contract — argv, fds, exit codes,
 * heartbeat, signals, readiness — is the skeleton's (daemon.h).
 *
 * Start-up, in order: config, shm + registry + loop (skeleton), netlink,
 * network config + bridge (a config error exits 100, anything else 111),
 * the rings (ring 2 read, gated on the ring 3 writer: no kick is taken
 * while a note waits for room), the start-up pass, then ready and the loop.
 * Bridge and taps are left in place on exit: VMs outlive manager restarts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "netlink.h"
#include "reconcile.h"
#include "ringio.h"
#include "vmm_user.h"

struct netd {
	struct ui_daemon_ctx d;
	struct netlink *nl;
	struct reconciler rec;
	struct ui_ring_reader in;      /* ring 2: kicks */
	struct ui_ring_writer out;     /* ring 3: tap notes */
	bool rings_ok;                 /* in and out initialised */
};

/* Everything main set up on the loop; the skeleton's exit closes the rest. */
static void netd_close(struct netd *n)
{
	if (n->rings_ok) {
		ui_ring_reader_close(&n->in);
		ui_ring_writer_close(&n->out);
		n->rings_ok = false;
	}
	reconcile_close(&n->rec);
}

static void on_stop(struct ui_daemon_ctx *d, int signum)
{
	ui_info("%s: stopping", strsignal(signum));
	netd_close(d->data);
	ui_daemon_exit(d);
}

/* SIGHUP: the stock's policy (network.tap_stock, pool.size) from the config
 * file; the network itself (bridge, subnet) changes at the next start. */
static void on_reload(struct ui_daemon_ctx *d)
{
	struct netd *n = d->data;
	struct ui_config *nc;
	char err[1024];

	if (!d->cfg.path[0]) {
		ui_warn("SIGHUP: running on built-in defaults, nothing to reload");
		return;
	}
	if (!(nc = malloc(sizeof(*nc)))) {
		ui_error("SIGHUP: out of memory; configuration unchanged");
		return;
	}
	if (ui_config_load(d->cfg.path, nc, err, sizeof(err)) < 0) {
		ui_error("SIGHUP: %s; configuration unchanged", err);
	} else {
		ui_info("SIGHUP: network.tap_stock %u -> %u, pool.size %u -> %u (the network "
			"itself changes at the next start)", d->cfg.tap_stock, nc->tap_stock,
			d->cfg.pool_size, nc->pool_size);
		d->cfg.tap_stock = nc->tap_stock;
		d->cfg.pool_size = nc->pool_size;
		ui_config_free(nc);
		reconcile_kick(&n->rec);
	}
	free(nc);
}

static int rings_init(struct netd *n)
{
	struct ui_shm *shm = n->d.shm;
	int rc = ui_ring_writer_init(&n->out, &n->d.loop, &shm->ring[UI_RING_NET_TO_POOL],
				     UI_DOORBELL_FD(UI_RING_NET_TO_POOL));

	if (rc == 0)
		rc = ui_ring_reader_init(&n->in, &n->d.loop, &shm->ring[UI_RING_POOL_TO_NET],
					 UI_DOORBELL_FD(UI_RING_POOL_TO_NET), reconcile_on_msg,
					 &n->rec);
	n->rings_ok = rc == 0;
	if (rc == 0)
		rc = ui_ring_reader_gate(&n->in, &n->out);
	if (rc < 0)
		ui_error("rings: %s", strerror(-rc));
	return rc;
}

/* Everything up to the loop; an exit code (0 = go on). */
static int netd_open(struct netd *n)
{
	char err[256];
	int rc = netlink_open(&n->nl);
	uid_t uid;
	gid_t gid;

	if (rc < 0) {
		ui_error("netlink: %s", strerror(-rc));
		return UI_EXIT_TEMPORARY;
	}
	/* Every tap, spare stock included, belongs to the VMM user. */
	if (strcmp(n->d.cfg.vmm_user, "root") != 0) {
		if ((rc = ui_vmm_user(n->d.cfg.vmm_user, &uid, &gid, err, sizeof(err))) < 0) {
			ui_error("%s", err);
			return UI_EXIT_PERMANENT;
		}
		netlink_set_tap_owner(n->nl, uid, gid);
	}
	rc = reconcile_init(&n->rec, &n->d, n->nl, &n->out);
	if (rc == -EINVAL || rc == -EEXIST)
		return UI_EXIT_PERMANENT; /* the network config cannot work */
	if (rc < 0 || rings_init(n) < 0 || reconcile_start(&n->rec) < 0)
		return UI_EXIT_TEMPORARY;
	rc = ui_ring_reader_start(&n->in);
	if (rc < 0) {
		ui_error("ring %d: %s", UI_RING_POOL_TO_NET, uv_strerror(rc));
		return UI_EXIT_TEMPORARY;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct netd n; /* the config is large: not on the stack */
	int code = ui_daemon_init(&n.d, UI_D_NETD, argc, argv);

	if (code == 0)
		code = ui_daemon_attach(&n.d, 0);
	if (code == 0)
		code = netd_open(&n);
	if (code == 0) {
		n.d.data = &n;
		n.d.on_stop = on_stop;
		n.d.on_reload = on_reload;
		code = ui_daemon_run(&n.d);
	}
	netd_close(&n);
	ui_daemon_fini(&n.d);
	netlink_close(n.nl);
	return code;
}
