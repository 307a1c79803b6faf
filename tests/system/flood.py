# flood.py N MODE READY_FILE — holds N TCP connections to apid
# (127.0.0.1:6666) until killed. MODE idle: connect and send nothing.
# MODE slow (slowloris): send an unfinished request, then a header line
# every second on each; a connection the server closes is reopened.
# Writes the number of connections to READY_FILE once all are open.
import socket
import sys
import time

ADDR = ("127.0.0.1", 6666)
n, mode, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def opened():
    s = socket.create_connection(ADDR, timeout=60)
    if mode == "slow":
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: flood\r\n")
    return s


socks = [opened() for _ in range(n)]
with open(ready, "w") as f:
    f.write("%d\n" % len(socks))
reopened = 0
while True:
    time.sleep(1)
    if mode != "slow":
        continue
    for i, s in enumerate(socks):
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            s.close()
            try:
                socks[i] = opened()
                reopened += 1
            except OSError:
                pass
