#!/usr/bin/env python3
"""tests/registry-token-server.py KEY CERT USERS PORTFILE LOG: a token server
for the registry's token authentication, written for the tests.

docker-registry verifies bearer tokens (auth.token in its config) but does
not issue them; this server does, the way Docker Hub's auth service does:
GET /token?service=S&scope=repository:NAME:ACTIONS (any number of scopes)
with HTTP basic credentials answers {"token": JWT}. The JWT is signed RS256
by KEY (with `openssl dgst -sha256 -sign`: the Python standard library has
no RSA), and carries CERT in its x5c header, which the registry checks
against its rootcertbundle. Users are "name:password" lines in USERS;
anonymous and wrong credentials get 401. Every request is logged to LOG as
"user scope..." so that tests can check what was asked. It listens on
127.0.0.1 at a port the kernel picks and writes it to PORTFILE.
"""
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse

KEY, CERT, USERS, PORTFILE, LOG = sys.argv[1:6]
ISSUER = "cairn-test-issuer"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64():
    pem = open(CERT).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return body


def sign(data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=data,
                          capture_output=True, check=True).stdout


def make_token(user, service, scopes):
    access = []
    for s in scopes:
        parts = s.split(":")
        if len(parts) < 3:
            continue
        access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                       "actions": parts[-1].split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64()]}
    claims = {"iss": ISSUER, "sub": user, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": "%d-%s" % (now, user), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    return signing_input.decode() + "." + b64url(sign(signing_input))


def users():
    out = {}
    for line in open(USERS):
        line = line.strip()
        if ":" in line:
            u, p = line.split(":", 1)
            out[u] = p
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def deny(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="cairn-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        q = urllib.parse.parse_qs(url.query)
        scopes = q.get("scope", [])
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if users().get(u) == p:
                user = u
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (user or "-", " ".join(scopes)))
        if user is None:
            self.deny()
            return
        body = json.dumps({"token": make_token(user, q.get("service", [""])[0], scopes),
                           "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
