#!/usr/bin/python3
"""QMP and guest-agent helpers for test_snapshot_qemu.sh.

  qmp_snap.py qmp SOCK COMMAND [ARGUMENTS_JSON]  -> prints the "return" JSON
  qmp_snap.py agent SOCK LINE                     -> connects, writes LINE + "\\n",
                                                     holds the connection until killed
"""
import json
import socket
import sys
import time


def connect(path):
    for _ in range(400):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    sys.exit("cannot connect to " + path)


def qmp(path, cmd, args):
    f = connect(path).makefile("rw")
    json.loads(f.readline())  # greeting

    def call(c, a=None):
        m = {"execute": c}
        if a is not None:
            m["arguments"] = a
        f.write(json.dumps(m) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                sys.exit("qmp %s: connection closed" % c)
            r = json.loads(line)
            if "return" in r:
                return r["return"]
            if "error" in r:
                sys.exit("qmp %s: %s" % (c, r["error"]["desc"]))

    call("qmp_capabilities")
    print(json.dumps(call(cmd, args)))


def main():
    if sys.argv[1] == "qmp":
        qmp(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif sys.argv[1] == "agent":
        s = connect(sys.argv[2])
        s.sendall((sys.argv[3] + "\n").encode())
        time.sleep(3600)
    else:
        sys.exit("usage: qmp_snap.py qmp|agent ...")


main()
