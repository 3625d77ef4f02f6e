#!/usr/bin/env python3
"""A local VIIRS provider for the viirs specs and bench: serves --dir as an Apache-like mirror.

GET <dir>/      an HTML directory listing (<a href="name">), as data.ngdc.noaa.gov served
GET <file>      the file, with Content-Length, Range (206) and keep-alive; --rate B/s throttles
                .tgz bodies (the kill-and-resume spec)
GET /_hits      JSON {path: count} of the requests so far
Binds 127.0.0.1 on the first free port of --ports (default 19110-19119) and writes it to
--port-file; with --parent PID it exits once that process is gone (a crashed spec run leaves no
server holding a port).
"""
import argparse, html, json, os, threading, time, urllib.parse
from http.server import ThreadingHTTPServer

import testserver

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--ports", default="19110-19119")
ap.add_argument("--rate", type=float, default=0)
ap.add_argument("--parent", type=int, default=0, help="exit when this process is gone")
a = ap.parse_args()
root = os.path.realpath(a.dir)
hits, lock = {}, threading.Lock()


class H(testserver.Handler):
    def send(self, code, body, ctype="text/html", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.unquote(self.path.split("?")[0])
        with lock:
            hits[path] = hits.get(path, 0) + 1
        if path == "/_hits":
            with lock:
                return self.send(200, json.dumps(hits).encode(), "application/json")
        p = os.path.realpath(os.path.join(root, path.lstrip("/")))
        if not (p == root or p.startswith(root + "/")) or not os.path.exists(p):
            return self.send(404, b"<html><body>404 Not Found</body></html>")
        if os.path.isdir(p):
            if not path.endswith("/"):
                return self.send(301, b"", extra={"Location": path + "/"})
            rows = ['<tr><td><a href="../">Parent Directory</a></td></tr>']
            for n in sorted(os.listdir(p)):
                full = os.path.join(p, n)
                href = urllib.parse.quote(n) + ("/" if os.path.isdir(full) else "")
                size = os.path.getsize(full) if os.path.exists(full) else 0  # a dangling link: 404
                rows.append('<tr><td><a href="%s">%s</a></td><td align="right">%d</td></tr>'
                            % (href, html.escape(n), size))
            body = ("<html><head><title>Index of %s</title></head><body><h1>Index of %s</h1>"
                    "<table><tr><th><a href=\"?C=N;O=D\">Name</a></th></tr>%s</table></body></html>"
                    % (html.escape(path), html.escape(path), "\n".join(rows))).encode()
            return self.send(200, body)
        size = os.path.getsize(p)
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            s, _, e = rng[6:].partition("-")
            start = int(s) if s else 0
            end = int(e) if e else size - 1
            if start >= size:
                return self.send(416, b"", extra={"Content-Range": "bytes */%d" % size})
            code = 206
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(p, "rb") as f:
            f.seek(start)
            left = end - start + 1
            chunk = 16384
            while left > 0:
                b = f.read(min(chunk, left))
                if not b:
                    break
                try:
                    self.wfile.write(b)
                except (BrokenPipeError, ConnectionResetError):
                    return
                left -= len(b)
                if a.rate > 0 and p.endswith(".tgz"):
                    time.sleep(len(b) / a.rate)


lo, hi = (int(x) for x in a.ports.split("-"))
srv = None
for port in range(lo, hi + 1):
    try:
        srv = testserver.Server(("127.0.0.1", port), H)
        break
    except OSError:
        continue
if srv is None:
    raise SystemExit("viirs_server: no free port in %s" % a.ports)
if a.parent:
    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(a.parent, 0)
            except OSError:
                os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
testserver.serve(srv, a.port_file)
