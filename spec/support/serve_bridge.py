#!/usr/bin/python3
"""HTTP on 127.0.0.1:PORT in front of spec/support/serve_stdio.lua (the real serve.app handler
in one gfhost process, one JSON request per line): the transport for the browser specs and the
bench where gf.server is not built yet.

  serve_bridge.py PORT GFHOST STATE [TOKEN [allow-actions]]
"""
import json
import os
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, gfhost, state = int(sys.argv[1]), sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
child = subprocess.Popen([gfhost, "run", os.path.join(root, "spec/support/serve_stdio.lua"), state] + extra,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        req = {"method": self.command, "path": u.path, "query": query, "body": body,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "remote": self.client_address[0]}
        with lock:
            child.stdin.write(json.dumps(req) + "\n")
            child.stdin.flush()
            ans = json.loads(child.stdout.readline())
        data = ans["body"].encode("utf-8")
        self.send_response(ans["status"])
        for k, v in (ans.get("headers") or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any


srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"serve_bridge: http://127.0.0.1:{port}/", flush=True)
try:
    srv.serve_forever()
finally:
    child.stdin.close()
    child.wait()
