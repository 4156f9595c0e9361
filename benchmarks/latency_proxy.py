"""A latency-injecting HTTP proxy in front of moto: every request waits a fixed delay before it is forwarded.

``python -m benchmarks.latency_proxy --upstream http://127.0.0.1:PORT --port PORT2 [--s3-ms 50]
[--dynamodb-ms 10]`` runs in its own process (so its threads never hold the benchmark's GIL); a request is
DynamoDB when it carries ``X-Amz-Target: DynamoDB_20120810.*``, S3 otherwise. Bodies are read in full
(Content-Length) and relayed with their status and headers, over kept-alive HTTP/1.1 connections.

The delays stand for the round trip AWS documents, not for moto's CPU: S3's "Timeouts and Retries for
Latency-Sensitive Applications" says small requests (under 512 KB) have median latencies "often in the tens of
milliseconds range" (https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/
timeouts-and-retries-for-latency-sensitive-applications.html): 50 ms per S3 request is chosen. DynamoDB is
described as delivering "single-digit millisecond performance at any scale"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Introduction.html): 10 ms, the top of that
range, is chosen per DynamoDB request. Both designs of the benchmark go through the same proxy.
"""

from __future__ import annotations

import argparse
import http.client
import math
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

S3_DELAY_MS = 50.0
DYNAMODB_DELAY_MS = 10.0
# Hop-by-hop headers are not relayed. ``Expect: 100-continue`` is answered by this proxy itself (the request
# handler sends the interim 100 before it reads the body), so upstream always gets the whole body at once.
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "expect"}


def make_handler(host: str, port: int, s3_delay: float, dynamodb_delay: float) -> type[BaseHTTPRequestHandler]:
    """The request handler: waits ``s3_delay`` or ``dynamodb_delay`` seconds, then relays to host:port."""
    for name, delay in (("s3_delay", s3_delay), ("dynamodb_delay", dynamodb_delay)):
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {delay}")
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target", "")
            time.sleep(dynamodb_delay if target.startswith("DynamoDB_") else s3_delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            for attempt in range(2):
                connection = getattr(local, "connection", None)
                if connection is None:
                    connection = local.connection = http.client.HTTPConnection(host, port, timeout=120)
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    break
                except (http.client.HTTPException, OSError) as exc:
                    connection.close()
                    local.connection = None
                    if attempt:
                        # One clear answer instead of a dropped connection: the client sees why.
                        self._bad_gateway(f"latency proxy: upstream http://{host}:{port} failed: {exc}")
                        return
            self.send_response_only(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in _HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            declared = response.getheader("Content-Length")
            self.send_header("Content-Length", declared if self.command == "HEAD" and declared else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _bad_gateway(self, reason: str) -> None:
            data = reason.encode(errors="replace")
            self.send_response_only(502, "Bad Gateway")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


def main(argv: list[str]) -> int:
    """Parse the options and serve until killed; bad options and a port that cannot be bound are one error
    line on stderr and exit 2 (argparse's own errors also print the usage line first)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency_proxy")
    parser.add_argument("--upstream", required=True, help="http://host:port of moto_server")
    parser.add_argument("--port", type=int, required=True, help="loopback port to listen on (1-65535)")
    parser.add_argument("--s3-ms", type=float, default=S3_DELAY_MS, help="delay per S3 request, ms (>= 0)")
    parser.add_argument("--dynamodb-ms", type=float, default=DYNAMODB_DELAY_MS, help="delay per DynamoDB request")
    args = parser.parse_args(argv)

    def fail(message: str) -> int:
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2

    for option, value in (("--s3-ms", args.s3_ms), ("--dynamodb-ms", args.dynamodb_ms)):
        if not (math.isfinite(value) and value >= 0):
            return fail(f"{option} must be a number of milliseconds >= 0, got {value}")
    if not 1 <= args.port <= 65535:
        return fail(f"--port must be 1-65535, got {args.port}")
    upstream = urlsplit(args.upstream)
    try:
        upstream_port = upstream.port
    except ValueError:
        upstream_port = None
    if upstream.scheme != "http" or not upstream.hostname or upstream_port is None or upstream.path not in ("", "/"):
        return fail(f"--upstream must be http://HOST:PORT (the moto server), got {args.upstream!r}")
    handler = make_handler(upstream.hostname, upstream_port, args.s3_ms / 1000, args.dynamodb_ms / 1000)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as exc:
        return fail(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}")
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
