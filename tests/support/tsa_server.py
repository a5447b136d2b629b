"""The test time-stamp authority's HTTP server (RFC 3161 over HTTP, §3.4), one process.

    python -m tests.support.tsa_server --directory DIR --port-file FILE [--slow-seconds S]

Serves the :class:`tests.support.tsa.LocalTimeStampAuthority` in ``DIR`` on 127.0.0.1, on a
free port it writes to ``FILE`` once listening. ``POST /<behaviour>`` with an
``application/timestamp-query`` body; the behaviours are :data:`tests.support.tsa.BEHAVIOURS`.
Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from tests.support.tsa import (
    BEHAVIOURS,
    MAX_QUERY_BYTES,
    UNSERVED_POLICY,
    LocalTimeStampAuthority,
    query_over_other_message,
    query_with_other_nonce,
)

REPLY_TYPE = "application/timestamp-reply"


def handler(
    authority: LocalTimeStampAuthority, slow_seconds: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"tsa_server: {format % args}\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            behaviour = urlsplit(self.path).path.strip("/") or "honest"
            length = int(self.headers.get("Content-Length") or 0)
            if behaviour not in BEHAVIOURS:
                self._answer(404, "text/plain", b"no such behaviour\n")
                return
            if not 0 < length <= MAX_QUERY_BYTES:
                self._answer(413, "text/plain", b"query size\n")
                return
            query = self.rfile.read(length)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self._answer(415, "text/plain", b"expected application/timestamp-query\n")
                return
            try:
                self._behave(behaviour, query)
            except Exception as exc:
                sys.stderr.write(f"tsa_server: {behaviour}: {exc}\n")
                self._answer(500, "text/plain", b"internal error\n")

        def _behave(self, behaviour: str, query: bytes) -> None:
            if behaviour == "garbage":
                self._answer(200, REPLY_TYPE, b"\x30\x82garbage, not a TimeStampResp")
            elif behaviour == "http-error":
                self._answer(503, "text/plain", b"temporarily unavailable\n")
            elif behaviour == "oversize":
                self._answer(200, REPLY_TYPE, b"\x30" * (256 * 1024))
            elif behaviour == "other-message":
                self._answer(200, REPLY_TYPE, authority.reply(query_over_other_message(query)))
            elif behaviour == "other-nonce":
                self._answer(200, REPLY_TYPE, authority.reply(query_with_other_nonce(query)))
            elif behaviour == "rejection":
                unserved = authority.query(b"any", policy=UNSERVED_POLICY)
                self._answer(200, REPLY_TYPE, authority.reply(unserved))
            elif behaviour == "wrong-content-type":
                self._answer(200, "text/html", authority.reply(query))
            else:
                if behaviour == "slow":
                    time.sleep(slow_seconds)
                self._answer(200, REPLY_TYPE, authority.reply(query))

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        error = sys.exc_info()[1]
        sys.stderr.write(f"tsa_server: {client_address}: {type(error).__name__}: {error}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)

    authority = LocalTimeStampAuthority(args.directory)
    server = Server(("127.0.0.1", 0), handler(authority, args.slow_seconds))

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    written = args.port_file.with_suffix(".tmp")
    written.write_text(str(server.server_port))
    os.replace(written, args.port_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
