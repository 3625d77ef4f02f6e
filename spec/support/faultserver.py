#!/usr/bin/env python3
"""faultserver.py — a local HTTP/1.1 server that misbehaves on demand, for gf.http specs.

Binds 127.0.0.1 only. `--port 0` picks a free port. Once listening it writes "<port>\n" to
--ready FILE (atomically) and prints "listening <port>" on stdout.

Every endpoint counts its hits per `id` query parameter (default: the path); GET /_hits?id=K
answers with the count and /_last?id=K with the last request's headers as "name: value" lines.

  /echo                 body = request body; X-Echo-Method, X-Echo-Path, X-Echo-Body-Length,
                        X-Echo-H-<name> for each request header (raw values)
  /dup                  two X-Dup headers (a, b) and a Set-Cookie
  /status/<code>        respond <code>; ?body=text, ?header=Name:Value
  /fail?n=N&code=C      first N hits (per id) get status C (default 503), then 200 "ok";
                        ?retry_after=S adds Retry-After: S; ?retry_date=S as an HTTP date S s ahead
  /throttle?n=N&aws=Code&fmt=xml|json&status=400   first N hits get an AWS error body, then 200
  /reset?n=N            first N hits: Content-Length 1000, 100 bytes, then a TCP reset
  /truncate?len=L&send=S   Content-Length L, only S bytes sent, then a clean close
  /slow?secs=S          wait S seconds, then 200 "slow"
  /stall?secs=S         headers and 10 body bytes of 20, then silence for S seconds
  /notyet?n=N           404 for the first N hits, then 200 "here"
  /redirect?n=N&code=302&to=/echo   N redirects (to /redirect?n=N-1...), then to `to`
  /bytes?n=N            N deterministic bytes (byte i = (i*31+7) & 255), Range supported (206/416);
                        ?fail_at=K&fail_times=T: the first T hits reset after K bytes;
                        ?ignore_range=1 always answers 200 with everything
  /_hits?id=K, /_last?id=K, /_reset
"""
import argparse
import email.utils
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import testserver

LOCK = threading.Lock()
HITS = {}
LAST = {}


def pattern(start, end):
    return bytes(((i * 31 + 7) & 255) for i in range(start, end))


class Handler(testserver.Handler):
    server_version = "faultserver/1"

    # {====== helpers ======

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def qi(self, name, default):
        return int(self.q(name, default))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def send(self, status, body=b"", headers=None, ctype="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if status in (204, 304):  # no body, no length
            for k, v in (headers or []):
                self.send_header(k, v)
            return self.end_headers()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self):
        """Close with RST (SO_LINGER 0) instead of FIN, once the client had time to read what was
        sent (a reset discards data still unread in the client's socket buffer)."""
        self.wfile.flush()
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def hit(self):
        key = self.q("id", self.path_only)
        with LOCK:
            HITS[key] = HITS.get(key, 0) + 1
            LAST[key] = list(self.headers.items())
            return HITS[key]

    # }======

    def handle_any(self):
        u = urlsplit(self.path)
        self.path_only = u.path
        self.query = parse_qs(u.query, keep_blank_values=True)
        body = self.read_body()
        p = u.path
        if p == "/_hits":
            with LOCK:
                return self.send(200, str(HITS.get(self.q("id"), 0)))
        if p == "/_last":
            with LOCK:
                h = LAST.get(self.q("id"), [])
            return self.send(200, "".join("%s: %s\n" % (k, v) for k, v in h))
        if p == "/_reset":
            with LOCK:
                HITS.clear()
                LAST.clear()
            return self.send(200, "reset")
        n = self.hit()
        route = getattr(self, "r_" + p.strip("/").split("/")[0], None)
        if not route:
            return self.send(404, "no such endpoint")
        return route(n, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = handle_any

    # {====== endpoints ======

    def r_echo(self, n, body):
        hs = [("X-Echo-Method", self.command), ("X-Echo-Path", self.path),
              ("X-Echo-Body-Length", str(len(body)))]
        for k, v in self.headers.items():
            hs.append(("X-Echo-H-" + k, v))
        self.send(200, body, hs, "application/octet-stream")

    def r_dup(self, n, body):
        self.send(200, "dup", [("X-Dup", "a"), ("X-Dup", "b"), ("Set-Cookie", "c=1")])

    def r_status(self, n, body):
        code = int(self.path_only.split("/")[2])
        hs = []
        if self.q("header"):
            k, v = self.q("header").split(":", 1)
            hs.append((k, v))
        self.send(code, self.q("body", ""), hs)

    def r_fail(self, n, body):
        if n <= self.qi("n", 1):
            hs = []
            if self.q("retry_after"):
                hs.append(("Retry-After", self.q("retry_after")))
            if self.q("retry_date"):
                when = time.time() + float(self.q("retry_date"))
                hs.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
            return self.send(self.qi("code", 503), "failure %d" % n, hs)
        self.send(200, "ok after %d" % n)

    def r_throttle(self, n, body):
        if n <= self.qi("n", 1):
            code = self.q("aws", "ThrottlingException")
            if self.q("fmt", "xml") == "json":
                return self.send(self.qi("status", 400),
                                 '{"__type":"com.amazonaws#%s","message":"slow down"}' % code,
                                 ctype="application/x-amz-json-1.0")
            return self.send(self.qi("status", 400),
                             "<Error><Code>%s</Code><Message>slow down</Message></Error>" % code,
                             ctype="application/xml")
        self.send(200, "ok after %d" % n)

    def r_reset(self, n, body):
        if n <= self.qi("n", 1):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            return self.reset()
        self.send(200, "ok after %d" % n)

    def r_truncate(self, n, body):
        self.send_response(200)
        self.send_header("Content-Length", str(self.qi("len", 1000)))
        self.end_headers()
        self.wfile.write(b"y" * self.qi("send", 100))
        self.wfile.flush()
        self.close_connection = True

    def r_slow(self, n, body):
        time.sleep(float(self.q("secs", "0.5")))
        self.send(200, "slow")

    def r_stall(self, n, body):
        self.send_response(200)
        self.send_header("Content-Length", "20")
        self.end_headers()
        self.wfile.write(b"z" * 10)
        self.wfile.flush()
        time.sleep(float(self.q("secs", "5")))
        self.close_connection = True

    def r_notyet(self, n, body):
        if n <= self.qi("n", 1):
            return self.send(404, "not yet")
        self.send(200, "here")

    def r_redirect(self, n, body):
        left = self.qi("n", 1)
        to = self.q("to", "/echo")
        code = self.qi("code", 302)
        if left > 1:
            loc = "/redirect?n=%d&code=%d&to=%s&id=%s" % (left - 1, code, to, self.q("id", "r"))
        else:
            loc = to
        self.send(code, "", [("Location", loc)])

    def r_bytes(self, n, body):
        size = self.qi("n", 1024)
        start, end, status = 0, size, 200
        rng = self.headers.get("Range")
        hs = [("Accept-Ranges", "bytes")]
        if rng and not self.q("ignore_range") and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else max(0, size - int(b))
            end = min(size, int(b) + 1) if (a and b) else size
            if start >= size:
                return self.send(416, "", [("Content-Range", "bytes */%d" % size)])
            status = 206
            hs.append(("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size)))
        data = pattern(start, end)
        fail_at = self.q("fail_at")
        if fail_at is not None and n <= self.qi("fail_times", 1):
            self.send_response(status)
            for k, v in hs:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: int(fail_at)])
            return self.reset()
        self.send(status, data, hs, "application/octet-stream")

    # }======


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready", help="file that receives the port once listening")
    a = ap.parse_args()
    return testserver.serve(testserver.Server(("127.0.0.1", a.port), Handler), a.ready)


if __name__ == "__main__":
    sys.exit(main())
