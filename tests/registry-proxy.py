#!/usr/bin/env python3
"""tests/registry-proxy.py UPSTREAM PORTFILE LOG [RULES...]: a misbehaving
front for a real registry, written for the tests.

Every request is forwarded to http://UPSTREAM and logged to LOG as
"METHOD PATH RANGE" (RANGE is the Range header or "-"). RULES change what
the client sees of blob downloads (GET …/blobs/sha256:…) and manifests:
  cut=N[xK]     send the headers and N bytes of a blob longer than N, then
                close the connection (the first K such answers; default all)
  hang=N        send N bytes of a blob, then nothing, holding the connection
  slow=BPS      send blobs at about BPS bytes per second
  bigmanifest=TAG  GET manifests/TAG answers a 5 MiB manifest
It listens on 127.0.0.1 at a port the kernel picks and writes it to PORTFILE.
"""
import http.client
import http.server
import os
import sys
import threading
import time

UPSTREAM, PORTFILE, LOG = sys.argv[1:4]
RULES = dict(r.split("=", 1) for r in sys.argv[4:])
lock = threading.Lock()
cut_left = [None]
if "cut" in RULES and "x" in RULES["cut"]:
    n, k = RULES["cut"].split("x")
    RULES["cut"] = n
    cut_left[0] = int(k)


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def forward(self):
        log("%s %s %s" % (self.command, self.path, self.headers.get("Range", "-")))
        if "bigmanifest" in RULES and self.path.endswith("/manifests/" + RULES["bigmanifest"]):
            body = b'{"schemaVersion":2,"pad":"' + b"x" * (5 << 20) + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        is_blob = self.command == "GET" and "/blobs/sha256:" in self.path and resp.status in (200, 206)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        data = resp.read()
        if is_blob:
            self.blob(data)
        else:
            self.wfile.write(data)
        self.close_connection = True

    def blob(self, data):
        if "cut" in RULES and len(data) > int(RULES["cut"]):
            with lock:
                cut = cut_left[0] is None or cut_left[0] > 0
                if cut_left[0] is not None and cut_left[0] > 0:
                    cut_left[0] -= 1
            if cut:
                self.wfile.write(data[: int(RULES["cut"])])
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        if "hang" in RULES:
            self.wfile.write(data[: int(RULES["hang"])])
            self.wfile.flush()
            time.sleep(3600)
            return
        if "slow" in RULES:
            bps = int(RULES["slow"])
            step = max(1, bps // 20)
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
