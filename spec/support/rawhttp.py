#!/usr/bin/env python3
"""Raw-socket HTTP client for server specs, driven over HTTP so that the spec never blocks its
loop: POST /run with a JSON scenario; it sends exactly the bytes given (malformed requests,
byte-by-byte trickles, idle connections) to 127.0.0.1:<port> and answers what happened as JSON.

  rawhttp.py --port 0 --ready FILE      (the control port goes to FILE, as testserver.serve does)

Scenario: {"port": P, "data": "raw bytes (latin-1)", "delay": S (sleep S between single bytes:
a slow client), "wait": S (how long to read the reply, default 5), "hold": S, "count": N}.
Answer: {"response": text received, "sent": bytes sent before the peer closed, "closed": bool,
"error": str | null}; with "hold": connect "count" sockets, send "data" on each (may be empty),
keep them open "hold" seconds reading, and answer {"conns": [...same...]}.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testserver  # noqa: E402


def read_all(s, until):
    data = b""
    closed = False
    while time.time() < until:
        s.settimeout(max(0.01, until - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    return data, closed


def one(port, data, delay, wait):
    out = {"response": "", "sent": 0, "closed": False, "error": None}
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as e:
        out["error"] = str(e)
        return out
    try:
        if delay > 0:
            for i in range(len(data)):
                try:
                    s.sendall(data[i:i + 1])
                except OSError:
                    out["closed"] = True
                    break
                out["sent"] = i + 1
                time.sleep(delay)
        else:
            s.sendall(data)
            out["sent"] = len(data)
        resp, closed = read_all(s, time.time() + wait)
        out["response"] = resp.decode("latin-1")
        out["closed"] = out["closed"] or closed
    except OSError as e:
        out["error"] = str(e)
    finally:
        s.close()
    return out


def hold(port, data, count, seconds):
    socks, conns = [], []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if data:
                s.sendall(data)
            socks.append(s)
        except OSError as e:
            conns.append({"error": str(e)})
    end = time.time() + seconds
    for s in socks:
        resp, closed = read_all(s, end)
        conns.append({"response": resp.decode("latin-1"), "closed": closed, "error": None})
        s.close()
    return {"conns": conns}


class Handler(testserver.Handler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        sc = json.loads(self.rfile.read(n).decode("latin-1"))  # raw bytes, not UTF-8
        data = sc.get("data", "").encode("latin-1")
        if sc.get("hold"):
            res = hold(sc["port"], data, sc.get("count", 1), sc["hold"])
        else:
            res = one(sc["port"], data, sc.get("delay", 0), sc.get("wait", 5))
        body = json.dumps(res).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def watch_parent(pid):
    """A spec process that died (an abort) leaves no server behind on its port."""
    while True:
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready", help="file that receives the port once listening")
    ap.add_argument("--parent", type=int, help="exit when this process is gone")
    a = ap.parse_args()
    if a.parent:
        threading.Thread(target=watch_parent, args=(a.parent,), daemon=True).start()
    return testserver.serve(testserver.Server(("127.0.0.1", a.port), Handler), a.ready)


if __name__ == "__main__":
    sys.exit(main())
