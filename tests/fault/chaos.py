#!/usr/bin/python3
"""chaos.py — the crash-safety driver (issue: supervision, recovery,
re-adoption). Debian's python3, standard library only.

Several client threads run and stop VMs through the API (unix socket), each
run with its own Idempotency-Key, retrying on 503 / 504 / connection errors
until they get a definite answer, while a chaos thread kill -9s a random
daemon (netd, pool-worker, apid) every few hundred ms. A health thread
polls GET /healthz and records the longest gap without an answer.

Usage: chaos.py --sock PATH --uigniterd-pid PID --runs N --clients C
                --out RESULT.json [--chaos-ms MS] [--image NAME]

What it writes (for the shell test to check against the registry):
  {"vms": {id: {"key": k, "want": "running"|"stopped"}}, "runs_ok": n,
   "kills": {...}, "longest_health_gap_ms": x, "errors": [...]}
Every VM a client got a 2xx for is in "vms" with the state the client last
asked for. The script itself asserts only what a client sees (same id for
a retried key, state in each answer).
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("uigniter", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def call(sock, method, path, body=None, headers=None, timeout=90):
    """One request on a fresh connection → (status, json or None)."""
    conn = UnixHTTPConnection(sock, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, None
    finally:
        conn.close()


RETRYABLE = {503, 504}


def call_retrying(sock, method, path, body=None, headers=None, deadline_s=180):
    """Retries on connection errors and 503/504 until a definite answer."""
    end = time.monotonic() + deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            status, doc = call(sock, method, path, body, headers)
            if status not in RETRYABLE:
                return status, doc, attempt
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > end:
            raise TimeoutError(f"{method} {path}: no definite answer in {deadline_s} s")
        time.sleep(0.05 + random.random() * 0.15)


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.vms = {}
        self.errors = []
        self.runs_ok = 0
        self.stops_ok = 0
        self.retries = 0
        self.stop_chaos = threading.Event()

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)
        print("ERROR:", msg, file=sys.stderr, flush=True)


def client(sh, args, cid, nruns):
    rnd = random.Random(cid)
    mine = []
    for i in range(nruns):
        key = f"chaos-{os.getpid()}-{cid}-{i}"
        try:
            status, doc, attempts = call_retrying(
                args.sock, "POST", "/vm/run", {"image": args.image},
                {"Idempotency-Key": key, "Content-Type": "application/json"})
        except TimeoutError as e:
            sh.error(str(e))
            continue
        with sh.lock:
            sh.retries += attempts - 1
        if status not in (200, 201) or not doc or doc.get("state") not in ("running",):
            # A definite failure (e.g. the VMM died in a crash window) is
            # allowed if the VM says failed; anything else is a bug.
            if doc and doc.get("state") == "failed":
                with sh.lock:
                    sh.vms[doc["id"]] = {"key": key, "want": "failed"}
                continue
            sh.error(f"run {key}: HTTP {status} {doc}")
            continue
        vid = doc["id"]
        # A retry with the same key must give the same VM.
        st2, doc2 = None, None
        try:
            st2, doc2, _ = call_retrying(
                args.sock, "POST", "/vm/run", {"image": args.image},
                {"Idempotency-Key": key, "Content-Type": "application/json"})
        except TimeoutError as e:
            sh.error(str(e))
        if doc2 is None or doc2.get("id") != vid or st2 != 200:
            sh.error(f"replay of {key}: HTTP {st2} id {doc2 and doc2.get('id')} != {vid}")
        with sh.lock:
            sh.vms[vid] = {"key": key, "want": "running"}
            sh.runs_ok += 1
        mine.append(vid)
        # Stop about two VMs in three, some right away, some later.
        if rnd.random() < 0.66 and mine:
            victim = mine.pop(rnd.randrange(len(mine)))
            try:
                status, doc, attempts = call_retrying(
                    args.sock, "POST", f"/vm/{victim}/stop")
            except TimeoutError as e:
                sh.error(str(e))
                continue
            if status == 200 and doc and doc.get("state") in ("stopped", "failed"):
                with sh.lock:
                    sh.vms[victim]["want"] = doc["state"]
                    sh.stops_ok += 1
            else:
                sh.error(f"stop {victim}: HTTP {status} {doc}")


def children(ppid):
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            pp = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if pp == ppid and comm in ("netd", "pool-worker", "apid"):
            out[comm] = int(pid)
    return out


def chaos(sh, args, kills):
    rnd = random.Random()
    order = []
    while not sh.stop_chaos.wait(args.chaos_ms / 1000.0 * (0.5 + rnd.random())):
        kids = children(args.uigniterd_pid)
        if not order:  # each daemon once per cycle, in a random order
            order = ["netd", "pool-worker", "apid"]
            rnd.shuffle(order)
        name = order.pop()
        if name not in kids:
            continue
        try:
            os.kill(kids[name], signal.SIGKILL)
            kills[name] = kills.get(name, 0) + 1
        except ProcessLookupError:
            pass


def health(sh, args, gap):
    last_ok = time.monotonic()
    while not sh.stop_chaos.is_set():
        try:
            st, _ = call(args.sock, "GET", "/healthz", timeout=2)
            if st in (200, 503):  # 503: answered, runs not servable
                now = time.monotonic()
                gap[0] = max(gap[0], now - last_ok)
                last_ok = now
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sock", required=True)
    ap.add_argument("--uigniterd-pid", type=int, required=True)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--chaos-ms", type=int, default=300)
    ap.add_argument("--image", default="hello")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    sh = Shared()
    kills = {}
    gap = [0.0]
    per = [args.runs // args.clients + (1 if i < args.runs % args.clients else 0)
           for i in range(args.clients)]
    threads = [threading.Thread(target=client, args=(sh, args, i, n))
               for i, n in enumerate(per)]
    t_chaos = threading.Thread(target=chaos, args=(sh, args, kills))
    t_health = threading.Thread(target=health, args=(sh, args, gap))
    start = time.monotonic()
    for t in threads + [t_chaos, t_health]:
        t.start()
    for t in threads:
        t.join()
    sh.stop_chaos.set()
    t_chaos.join()
    t_health.join()
    res = {
        "vms": sh.vms, "runs_ok": sh.runs_ok, "stops_ok": sh.stops_ok,
        "retries": sh.retries, "kills": kills, "errors": sh.errors,
        "longest_health_gap_ms": round(gap[0] * 1000),
        "seconds": round(time.monotonic() - start, 1),
    }
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"chaos: {sh.runs_ok} runs, {sh.stops_ok} stops, {sh.retries} retries, "
          f"kills {kills}, longest /healthz gap {res['longest_health_gap_ms']} ms, "
          f"{len(sh.errors)} errors, {res['seconds']} s", flush=True)
    return 1 if sh.errors else 0


if __name__ == "__main__":
    sys.exit(main())
