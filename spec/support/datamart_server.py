"""Local stand-ins for the datamart specs (127.0.0.1 only):

* an MSC datamart: GET <path> serves <root>/<path> once the path has been asked for more than
  --not-found times (404 with an HTML body before), so a client must retry until the file exists;
* a GitHub API: POST .../dispatches is recorded (one JSON line per request in --dispatch-log:
  path, headers, body) and answered with the next status of --dispatch-status (comma-separated;
  the last one repeats), 204 by default.

GET /_hits?path=P -> number of requests for P.
"""
import argparse
import json
import os
import sys
import threading
from urllib.parse import urlsplit, parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testserver import Handler, Server, serve  # noqa: E402

lock = threading.Lock()
hits = {}
dispatch_n = [0]


def make_handler(args):
    statuses = [int(s) for s in args.dispatch_status.split(",") if s]

    class H(Handler):
        def _send(self, code, body, ctype="text/html"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            u = urlsplit(self.path)
            if u.path == "/_hits":
                p = parse_qs(u.query).get("path", [""])[0]
                with lock:
                    n = hits.get(p, 0)
                return self._send(200, str(n).encode(), "text/plain")
            with lock:
                n = hits.get(u.path, 0) + 1
                hits[u.path] = n
            full = os.path.normpath(os.path.join(args.root, u.path.lstrip("/")))
            if not full.startswith(os.path.abspath(args.root)) or not os.path.isfile(full) or n <= args.not_found:
                return self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>\n")
            with open(full, "rb") as f:
                data = f.read()
            self._send(200, data, "application/octet-stream")

        do_HEAD = do_GET

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with lock:
                i = dispatch_n[0]
                dispatch_n[0] = i + 1
                code = statuses[min(i, len(statuses) - 1)] if statuses else 204
                rec = {"path": self.path, "status": code,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body.decode("utf-8", "replace")}
                with open(args.dispatch_log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self._send(code, b"" if code == 204 else b'{"message":"stand-in"}', "application/json")

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready")
    ap.add_argument("--root", default=".")
    ap.add_argument("--not-found", type=int, default=0)
    ap.add_argument("--dispatch-log", default="/dev/null")
    ap.add_argument("--dispatch-status", default="204")
    args = ap.parse_args()
    args.root = os.path.abspath(args.root)
    srv = Server(("127.0.0.1", args.port), make_handler(args))
    serve(srv, args.ready)


if __name__ == "__main__":
    main()
