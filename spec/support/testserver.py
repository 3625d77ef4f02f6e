"""What the local HTTP test servers in spec/support/ share (cmr_server, listing_server,
logs_server, faultserver): a quiet HTTP/1.1 handler base, a threading server that accepts many
concurrent connects, and serve() to bind 127.0.0.1 and publish the port in a file.

Two defaults of http.server cost the specs time: Nagle's algorithm (headers and body go out in
separate writes, so each response waited ~40 ms for the delayed ACK) and a listen backlog of 5
(more concurrent connects were dropped and retried by the client's SYN after 1 s).
"""
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def write_port(path, port):
    """Write the port to `path` atomically (a reader never sees a partial number)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def serve(srv, port_file=None):
    """Publish srv's port (in port_file and as "listening N" on stdout) and serve until killed."""
    port = srv.server_address[1]
    if port_file:
        write_port(port_file, port)
    print("listening %d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0
