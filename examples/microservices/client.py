#!/usr/bin/python3
"""client.py — the batch side of the microservice example, talking to master.

  client.py batch MASTER N [--seed S] [--timeout SEC] [--vms FILE] [--json]
      makes N deterministic PPM images (sizes and pixels from the seed),
      uploads each to storage and queues a "gray" task for it (through
      master), waits until every task is done, then checks every output
      against a grayscale computed here, independently of the workers, and
      prints one row per task: id, state, attempts, worker, its VM, output
      bytes, time queued → done (ms) and its worker's time (work). Exit 0 when every task is done exactly once with a
      correct output; 1 otherwise (what is wrong is printed).
  client.py status MASTER      the tasks as db holds them

MASTER is ip:port. --vms FILE maps a worker address to its VM id (lines
"<ip> <vm id>"), for the table. Only Python's standard library.
"""
import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request


def call(master, method, path, body=None, timeout=10):
    req = urllib.request.Request(f"http://{master}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def make_ppm(rng):
    w, h = rng.randint(8, 64), rng.randint(8, 64)
    px = bytes(rng.randrange(256) for _ in range(w * h * 3))
    return w, h, b"P6\n%d %d\n255\n" % (w, h) + px


def gray(w, h, ppm):
    px = ppm[len(b"P6\n%d %d\n255\n" % (w, h)):]
    out = bytearray(w * h)
    for i in range(w * h):
        r, g, b = px[3 * i], px[3 * i + 1], px[3 * i + 2]
        out[i] = (299 * r + 587 * g + 114 * b + 500) // 1000
    return b"P5\n%d %d\n255\n" % (w, h) + bytes(out)


def tasks(master):
    st, body = call(master, "GET", "/call/db/tasks")
    if st != 200:
        raise RuntimeError(f"db: GET /tasks → {st}: {body[:200]!r}")
    rows = []
    for line in body.decode().splitlines():
        tid, state, worker, attempts, output, ms, work = line.split()
        rows.append(dict(id=tid, state=state, worker=worker, attempts=int(attempts),
                         output=output, ms=int(ms), work_ms=int(work)))
    return rows


def batch(a):
    rng = random.Random(a.seed)
    images, ids = [], []
    t0 = time.monotonic()
    for i in range(a.n):
        w, h, ppm = make_ppm(rng)
        key = f"in/{a.seed}-{i}.ppm"
        st, body = call(a.master, "PUT", f"/call/storage/obj/{key}", ppm)
        if st != 201:
            print(f"upload {key}: {st} {body[:200]!r}", file=sys.stderr)
            return 1
        images.append((key, w, h, ppm))
    st, body = call(a.master, "POST", "/call/db/tasks",
                    "".join(f"gray {k}\n" for k, _, _, _ in images).encode())
    if st != 201:
        print(f"queue: {st} {body[:200]!r}", file=sys.stderr)
        return 1
    ids = body.decode().split()
    by_id = dict(zip(ids, images))
    deadline = time.monotonic() + a.timeout
    while True:
        rows = [r for r in tasks(a.master) if r["id"] in by_id]
        left = [r for r in rows if r["state"] != "done"]
        if not left:
            break
        if time.monotonic() > deadline:
            print(f"{len(left)} of {len(ids)} tasks not done after {a.timeout} s: "
                  + ", ".join(f"{r['id'][:8]} {r['state']}" for r in left[:5]), file=sys.stderr)
            return 1
        time.sleep(0.2)
    wall = time.monotonic() - t0
    vms, by_vm = {}, {}  # address → its latest VM; VM id → address
    if a.vms:
        with open(a.vms) as f:
            for line in f:
                if line.strip():
                    ip, vm = line.split()[:2]
                    vms[ip] = vm
                    by_vm[vm] = ip
    bad = []
    st, rq = call(a.master, "GET", "/requeued")
    requeued = rq.decode().split("\n") if st == 200 else []
    out = []
    for r in rows:
        key, w, h, ppm = by_id[r["id"]]
        st, got = call(a.master, "GET", f"/call/storage/obj/{r['output']}")
        ok = st == 200 and got == gray(w, h, ppm)
        if not ok:
            bad.append(f"task {r['id']}: output {r['output']} {'wrong' if st == 200 else st}")
        # the map is "<address> <vm id>"; a worker's id is its VM id (or address)
        vm = r["worker"] if r["worker"] in by_vm else vms.get(r["worker"], "-")
        addr = by_vm.get(r["worker"], r["worker"] if r["worker"] in vms else "-")
        out.append(dict(r, vm=vm, address=addr, bytes=len(got) if st == 200 else 0,
                        correct=ok, input=key))
    if len(rows) != len(ids):
        bad.append(f"db holds {len(rows)} of the {len(ids)} tasks queued")
    if a.json:
        print(json.dumps(dict(tasks=out, wall_s=round(wall, 3),
                              requeued=[l for l in requeued if l], bad=bad)))
    else:
        print(f"{'task':<12} {'state':<6} {'try':>3} {'worker vm':<24} {'address':<15} {'bytes':>6} {'ms':>6} {'work':>5} ok")
        for r in out:
            print(f"{r['id'][:12]:<12} {r['state']:<6} {r['attempts']:>3} {r['vm']:<24} "
                  f"{r['address']:<15} {r['bytes']:>6} {r['ms']:>6} {r['work_ms']:>5} "
                  f"{'yes' if r['correct'] else 'NO'}")
        print(f"{len(out)} tasks done in {wall:.2f} s; "
              f"{sum(1 for l in requeued if l)} taken back from a worker that timed out")
        for b in bad:
            print("WRONG: " + b)
    return 1 if bad else 0


def status(a):
    for r in tasks(a.master):
        print(r["id"], r["state"], r["worker"], r["attempts"], r["output"], r["ms"], r["work_ms"])
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("batch")
    b.add_argument("master")
    b.add_argument("n", type=int)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--timeout", type=float, default=300)
    b.add_argument("--vms")
    b.add_argument("--json", action="store_true")
    s = sub.add_parser("status")
    s.add_argument("master")
    a = p.parse_args()
    return batch(a) if a.cmd == "batch" else status(a)


if __name__ == "__main__":
    sys.exit(main())
