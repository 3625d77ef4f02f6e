#!/usr/bin/env python3
"""A local stand-in for the GitHub contents API listing of forge-tig configs (regression specs).

GET /contents           JSON array of {name, path, type, download_url} for every file of --dir,
                        plus a "dir" entry, a README.md and, with --missing NAME, a .cfg entry
                        whose download answers 404
GET /names              JSON array of plain file names (the other listing shape regression reads);
                        each is fetched as /names/<name>
GET /raw/<name>         the file's bytes (404 when absent)
GET /_requests          the requests seen so far: [{path, accept, user_agent}]
Binds 127.0.0.1 on an ephemeral port and writes it to --port-file.
"""
import argparse, json, os, threading
from urllib.parse import unquote

import testserver

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--missing", action="append", default=[])
a = ap.parse_args()

seen = []
lock = threading.Lock()


class H(testserver.Handler):

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def file(self, name):
        p = os.path.join(a.dir, os.path.basename(name))
        if not os.path.isfile(p):
            return self.send(404, b'{"message":"Not Found"}')
        with open(p, "rb") as f:
            return self.send(200, f.read(), "text/plain")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/_requests":
            with lock:
                return self.send(200, json.dumps(seen).encode())
        with lock:
            seen.append({"path": path, "accept": self.headers.get("Accept"),
                         "user_agent": self.headers.get("User-Agent")})
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        names = sorted(os.listdir(a.dir))
        if path == "/contents":
            entries = [{"name": n, "path": "config-files/" + n, "type": "file",
                        "download_url": base + "/raw/" + n} for n in names + a.missing]
            entries.append({"name": "old", "path": "config-files/old", "type": "dir", "download_url": None})
            entries.append({"name": "README.md", "path": "config-files/README.md", "type": "file",
                            "download_url": base + "/raw/README.md"})
            return self.send(200, json.dumps(entries).encode())
        if path == "/names":
            return self.send(200, json.dumps(names).encode())
        if path.startswith("/raw/"):
            return self.file(unquote(path[5:]))
        if path.startswith("/names/"):
            return self.file(unquote(path[7:]))
        return self.send(404, b'{"message":"Not Found"}')


testserver.serve(testserver.Server(("127.0.0.1", 0), H), a.port_file)
