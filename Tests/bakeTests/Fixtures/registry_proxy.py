#!/usr/bin/env python3
"""A loopback proxy in front of a registry, for bake's registry tests.

It forwards every request to UPSTREAM and appends one JSON line per request to LOG
({"method", "path", "status", "bytes": the body bytes sent back}), so tests can count what a push sent. Faults, each optional:

  --fail-status CODE --fail-every N   answer CODE (without forwarding) to every Nth request
                                      that is not a probe of /v2/
  --fail-patch K                      answer 503 to the Kth PATCH (the first chunk of an upload
                                      when K is 1: the registry then holds no byte of it)
  --reset-patch K                     on the Kth PATCH, forward half of its body, then reset
                                      both connections (a connection dropped mid-upload)
  --wrong-digest blobs|manifests      replace Docker-Content-Digest in answers to PUT of blobs
                                      (or of manifests) with another digest (a registry that
                                      stores other bytes)
  --tamper-blobs                      flip one byte of every blob body sent to GET
  --refuse-artifacts                  answer 400 MANIFEST_INVALID to a PUT of a manifest with an
                                      artifactType (a registry older than OCI 1.1's artifacts)
  --bearer USER:PASS                  demand bearer tokens: answer 401 with a Bearer challenge
                                      whose realm is this proxy's /token, which hands out a
                                      token for basic USER:PASS granting exactly the scopes
                                      asked for (the token server flow); a request needs a
                                      token whose scopes cover its repository and action

Usage: registry_proxy.py PORTFILE LOG UPSTREAM_PORT [faults]
It listens on an ephemeral port of 127.0.0.1 and writes that port to PORTFILE when ready.
"""
import argparse
import base64
import http.client
import http.server
import json
import re
import socket
import urllib.parse
import socketserver
import struct
import threading

parser = argparse.ArgumentParser()
parser.add_argument("portfile")
parser.add_argument("log")
parser.add_argument("upstream", type=int)
parser.add_argument("--fail-status", type=int)
parser.add_argument("--fail-every", type=int, default=0)
parser.add_argument("--reset-patch", type=int, default=0)
parser.add_argument("--fail-patch", type=int, default=0)
parser.add_argument("--wrong-digest", choices=["blobs", "manifests"])
parser.add_argument("--tamper-blobs", action="store_true")
parser.add_argument("--refuse-artifacts", action="store_true")
parser.add_argument("--bearer")
args = parser.parse_args()

lock = threading.Lock()
counters = {"requests": 0, "patches": 0, "tokens": 0}
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}


def needed_scopes(method, path):
    """The scopes a request needs: pull to read, push (and pull) to write, pull on a mount's source."""
    match = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", path)
    if not match:
        return set()
    repository = match.group(1)
    scopes = {"repository:%s:pull" % repository}
    if method not in ("GET", "HEAD"):
        scopes.add("repository:%s:push" % repository)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    for source in query.get("from", []):
        scopes.add("repository:%s:pull" % source)
    return scopes


def granted_scopes(scope_params):
    """repository:a:pull,push -> {repository:a:pull, repository:a:push}."""
    granted = set()
    for scope in scope_params:
        for item in scope.split(" "):
            name, _, actions = item.rpartition(":")
            for action in actions.split(","):
                granted.add(name + ":" + action)
    return granted


tokens = {}


def record(method, path, status, sent=0):
    with lock:
        with open(args.log, "a") as log:
            log.write(json.dumps({"method": method, "path": path, "status": status, "bytes": sent}) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = b""
        while len(data) < length:
            chunk = self.rfile.read(min(1 << 20, length - len(data)))
            if not chunk:
                break
            data += chunk
        return data

    def reply(self, status, headers=(), data=b""):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def reset(self):
        # SO_LINGER 0: close sends RST, as a dropped connection does.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def handle_any(self):
        method, path = self.command, self.path
        if args.bearer and path.startswith("/token"):
            expected = "Basic " + base64.b64encode(args.bearer.encode()).decode()
            with lock:
                counters["tokens"] += 1
            if self.headers.get("Authorization") != expected:
                record(method, path, 401)
                return self.reply(401, data=b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            scopes = urllib.parse.parse_qs(urllib.parse.urlparse(path).query).get("scope", [])
            with lock:
                token = "token-%d" % (len(tokens) + 1)
                tokens[token] = granted_scopes(scopes)
            record(method, path, 200)
            return self.reply(200, [("Content-Type", "application/json")], json.dumps({"token": token}).encode())
        if args.bearer:
            authorization = self.headers.get("Authorization") or ""
            granted = tokens.get(authorization[len("Bearer "):]) if authorization.startswith("Bearer ") else None
            needed = needed_scopes(method, path)
            if granted is None or not needed <= granted:
                self.body()
                record(method, path, 401)
                match = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", path)
                actions = "pull" if method in ("GET", "HEAD") else "pull,push"
                scope = ',scope="repository:%s:%s"' % (match.group(1), actions) if match else ""
                challenge = 'Bearer realm="http://%s/token",service="test-registry"%s' % (self.headers.get("Host"), scope)
                return self.reply(401, [("WWW-Authenticate", challenge), ("Content-Type", "application/json")],
                                  b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        with lock:
            counters["requests"] += 1
            number = counters["requests"]
            if method == "PATCH":
                counters["patches"] += 1
            patch_number = counters["patches"]
        data = self.body()
        upstream = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        headers["Host"] = "127.0.0.1:%d" % args.upstream
        if method == "PATCH" and args.reset_patch and patch_number == args.reset_patch:
            # Half the chunk reaches the registry, then both sides see the connection die.
            upstream.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                upstream.putheader(k, v)
            upstream.endheaders()
            upstream.send(data[: len(data) // 2])
            upstream.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            upstream.close()
            record(method, path, "reset")
            return self.reset()
        if method == "PATCH" and args.fail_patch and patch_number == args.fail_patch:
            record(method, path, 503)
            return self.reply(503, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}')
        # (The Kth PATCH is reset above even when it is also an Nth request.)
        if args.fail_status and args.fail_every and path != "/v2/" and number % args.fail_every == 0:
            record(method, path, args.fail_status)
            return self.reply(args.fail_status, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}')
        if args.refuse_artifacts and method == "PUT" and "/manifests/" in path and b'"artifactType"' in data:
            record(method, path, 400)
            return self.reply(400, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"MANIFEST_INVALID","message":"artifactType is not supported"}]}')
        upstream.request(method, path, body=data if data else None, headers=headers)
        response = upstream.getresponse()
        payload = response.read()
        upstream.close()
        out = []
        for name, value in response.getheaders():
            if name.lower() in HOP or name.lower() == "content-length":
                continue
            if name.lower() == "location" and value.startswith("http://127.0.0.1:%d" % args.upstream):
                value = value.replace("127.0.0.1:%d" % args.upstream, self.headers.get("Host"), 1)
            kind = "manifests" if "/manifests/" in path else "blobs"
            if args.wrong_digest == kind and method == "PUT" and name.lower() == "docker-content-digest":
                value = "sha256:" + "0" * 64
            out.append((name, value))
        if args.tamper_blobs and method == "GET" and "/blobs/sha256:" in path and response.status == 200 and payload:
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        record(method, path, response.status, 0 if method == "HEAD" else len(payload))
        self.send_response(response.status)
        for name, value in out:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
with open(args.portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.portfile + ".tmp", args.portfile)
server.serve_forever()
