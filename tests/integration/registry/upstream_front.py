#!/usr/bin/env python3
"""An HTTP front for docker-registry, for the registry integration tests.

  upstream_front.py --backend PORT --port-file F [--rate BYTES_PER_S] [--token USER:PASS]
                    [--redirect-blobs]

--rate      throttles response bodies (so a test can kill the upstream mid-blob).
--token     demands a bearer token (distribution token.md flow): 401 with a Bearer challenge,
            a token endpoint at /token that checks basic credentials and returns
            {"token":..,"expires_in":300}. Every token grant is logged as "TOKEN scope=..".
--redirect-blobs  answers blob GETs with 307 to http://localhost:<port>/_cdn/... (another
            origin than 127.0.0.1), which serves the blob only if no Authorization header
            came along; a leaked header is logged as "LEAKED-AUTH" and answered 400.
Every request is logged to stdout as "REQ <method> <path> <status>".
"""
import argparse, http.client, http.server, json, secrets, socketserver, sys, time, base64

ap = argparse.ArgumentParser()
ap.add_argument("--backend", type=int, required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--rate", type=int, default=0)
ap.add_argument("--token", default="")
ap.add_argument("--redirect-blobs", action="store_true")
args = ap.parse_args()
TOKENS = set()


def log(*a):
    print(*a, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log("REQ", self.command, self.path, status)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(args.token.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
            tok = secrets.token_hex(16)
            TOKENS.add(tok)
            q = self.path.split("?", 1)[1] if "?" in self.path else ""
            log("TOKEN", q)
            return self.reply(200, json.dumps({"token": tok, "expires_in": 300}).encode(),
                              [("Content-Type", "application/json")])
        if self.path.startswith("/_cdn/"):
            if "Authorization" in self.headers:
                log("LEAKED-AUTH", self.path)
                return self.reply(400, b"authorization leaked to the CDN")
            return self.forward("/v2/" + self.path[len("/_cdn/"):], cdn=True)
        if args.token and self.path.startswith("/v2/"):
            auth = self.headers.get("Authorization", "")
            if not (auth.startswith("Bearer ") and auth[7:] in TOKENS):
                repo = self.path[4:].split("/manifests/")[0].split("/blobs/")[0]
                chal = ('Bearer realm="http://127.0.0.1:%d/token",service="front",'
                        'scope="repository:%s:pull"' % (port, repo))
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                                  [("WWW-Authenticate", chal)])
        if args.redirect_blobs and "/blobs/sha256:" in self.path and self.command == "GET":
            return self.reply(307, b"", [("Location", "http://localhost:%d/_cdn/%s" %
                                          (port, self.path[len("/v2/"):]))])
        return self.forward(self.path)

    def forward(self, path, cdn=False):
        conn = http.client.HTTPConnection("127.0.0.1", args.backend, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "authorization", "connection")}
        conn.request(self.command, path, headers=headers)
        resp = conn.getresponse()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        log("REQ", self.command, path, resp.status, "cdn" if cdn else "")
        if self.command == "HEAD":
            return
        chunk = 16384
        start, sent = time.time(), 0
        while True:
            data = resp.read(chunk)
            if not data:
                break
            self.wfile.write(data)
            sent += len(data)
            if args.rate:
                ahead = sent / args.rate - (time.time() - start)
                if ahead > 0:
                    time.sleep(ahead)
        conn.close()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server.allow_reuse_address = True
srv = Server(("127.0.0.1", args.port), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
