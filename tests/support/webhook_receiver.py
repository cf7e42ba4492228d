"""A webhook receiver as a real process, for the webhook tests: `python -m tests.support.webhook_receiver
OUT PORTFILE [--secrets FILE] [--status N] [--delay S] [--tls CERT_AND_KEY]`.

It listens on a free loopback port (written to PORTFILE), verifies each request with the
`standardwebhooks` package against the secret FILE maps its path to (JSON {path: secret}, read at
each request, so that a test can write it once the subscription has given the secret), appends one
JSON line per request to OUT (id, timestamp, path, the client's port, verified, error, body) and
answers --status (204) after --delay seconds, over HTTP/1.1 (the connection kept). With --tls it
speaks https with the certificate and key of that PEM file."""

from __future__ import annotations

import argparse
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("portfile", type=Path)
    parser.add_argument("--secrets", type=Path)
    parser.add_argument("--status", type=int, default=204)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", type=Path)
    args = parser.parse_args()
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps the connection, as most receivers do

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record: dict[str, object] = {
                "id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "path": self.path,
                "received_at": time.time(),
                "peer_port": self.client_address[1],
                "verified": False,
                "error": None,
            }
            try:
                secrets = json.loads(args.secrets.read_text()) if args.secrets else {}
                Webhook(secrets[self.path]).verify(body, dict(self.headers))
                record["verified"] = True
            except (KeyError, OSError, ValueError, WebhookVerificationError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            try:
                record["body"] = json.loads(body)
            except ValueError:
                record["body"] = body.decode("latin-1")
            time.sleep(args.delay)
            with lock, args.out.open("a") as out:
                out.write(json.dumps(record) + "\n")
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    server.daemon_threads = True
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    temporary = args.portfile.with_suffix(".tmp")
    temporary.write_text(str(server.server_address[1]))
    temporary.rename(args.portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
