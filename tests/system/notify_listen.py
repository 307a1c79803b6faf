#!/usr/bin/python3
"""notify_listen.py SOCKET API_SOCK LOG — a stand-in for systemd's end of
NOTIFY_SOCKET (test_notify.sh): binds a datagram socket at SOCKET and
appends each message to LOG, one a line ("\n" inside shown as "|"); on a
message with READY=1 it asks GET /healthz on API_SOCK right then and
appends " healthz=<HTTP status>", so the test sees whether the API was
already answering when readiness was announced."""
import socket
import subprocess
import sys

path, api, log = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(log, "a") as out:
    while True:
        msg = s.recv(4096).decode()
        line = msg.replace("\n", "|")
        if "READY=1" in msg.split("\n"):
            st = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--max-time", "5", "--unix-socket", api,
                                 "http://uigniter/healthz"],
                                capture_output=True, text=True).stdout
            line += " healthz=" + st
        out.write(line + "\n")
        out.flush()
