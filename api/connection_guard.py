"""Bounds on slow and idle HTTP clients, which uvicorn does not have of its own.

uvicorn closes a keep-alive connection idle after a response, but nothing else: a connection
that never sends a byte, headers sent one byte at a time, or a body trickled at a byte a second
hold a connection (and a file descriptor) for as long as the client likes. A few hundred of
them starve the server (issue 10). :class:`GuardedH11Protocol` adds, per connection:

* a **header deadline**: the request line and headers must be complete within
  ``header_timeout`` seconds of the connection (or of the first byte of a later request on it);
* a **body progress floor**: while a request body is being received, at least
  ``min_body_bytes`` must arrive in every ``body_window`` seconds — unless the server itself
  stopped reading (flow control), which is not the client's fault;
* a **connection cap**: past ``max_connections`` open connections a new one is closed at once,
  so descriptors never run out; the cap is set below the process's descriptor limit.

Each closing is counted, and logged at most once per :data:`LOG_EVERY` seconds per reason, so a
flood cannot flood the log. In production a reverse proxy in front (nginx:
``client_header_timeout``, ``client_body_timeout``, ``keepalive_timeout``, ``limit_conn``)
does the same work before the server sees the client (docs/security.md).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

#: Least seconds between two log lines about the same kind of closed connection.
LOG_EVERY = 10.0
#: Descriptors kept free of connections (database, blobs, the chain, logs).
RESERVED_DESCRIPTORS = 128


@dataclass(frozen=True)
class ConnectionLimits:
    """How long and how slowly a client may take (``ZHENGLIAN_HEADER_TIMEOUT`` and friends)."""

    header_timeout: float = 10.0
    body_window: float = 10.0
    min_body_bytes: int = 10 * 1024
    max_connections: int = 512


class _Throttled:
    """Counts events by reason; logs a reason at most once per :data:`LOG_EVERY` seconds."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._last: dict[str, float] = {}

    def note(self, reason: str) -> None:
        self.counts[reason] += 1
        now = time.monotonic()
        if now - self._last.get(reason, -LOG_EVERY) >= LOG_EVERY:
            self._last[reason] = now
            log.warning("closed a connection: %s (%d so far)", reason, self.counts[reason])


CLOSED = _Throttled()
"""Connections closed by the guard, by reason (for tests and health)."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, a body progress floor and a cap on
    open connections (see the module's doc). Configure with :func:`guarded_protocol`."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    _guard: asyncio.TimerHandle | None
    _mode: str
    _body_bytes: int

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._guard = None
        self._mode = "headers"
        self._body_bytes = 0
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            CLOSED.note(f"more than {self.limits.max_connections} open connections")
            transport.abort()
            return
        self._arm(self.limits.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._mode == "idle":  # the first byte of a later request on a kept-alive connection
            self._mode = "headers"
            self._arm(self.limits.header_timeout, self._headers_late)
        if self._mode == "body":
            self._body_bytes += len(data)
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        self._disarm()
        self._mode = "idle"  # uvicorn's keep-alive timeout covers an idle connection
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:  # a pipelined request was already read
            self._mode = "headers"
            self._follow()

    # --- the guard ------------------------------------------------------------------------

    def _follow(self) -> None:
        """Move the guard to the state h11 is in after the bytes just read."""
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        if self._mode == "headers" and state is h11.SEND_BODY:
            self._mode = "body"
            self._body_bytes = 0
            self._arm(self.limits.body_window, self._body_check)
        elif self._mode in ("headers", "body") and state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # the request is in: the application's time is not bounded here
            self._mode = "request"

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._guard = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _headers_late(self) -> None:
        self._guard = None
        if self._mode == "headers" and not self.transport.is_closing():
            CLOSED.note(f"request headers not complete within {self.limits.header_timeout:g} s")
            self.transport.abort()

    def _body_check(self) -> None:
        self._guard = None
        if self._mode != "body" or self.transport.is_closing():
            return
        if self.flow.read_paused or self._body_bytes >= self.limits.min_body_bytes:
            self._body_bytes = 0
            self._arm(self.limits.body_window, self._body_check)
            return
        CLOSED.note(
            f"request body slower than {self.limits.min_body_bytes} bytes per "
            f"{self.limits.body_window:g} s"
        )
        self.transport.abort()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` class bound to ``limits`` (uvicorn's ``http=``)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


def descriptor_budget(wanted: int) -> int:
    """The connection cap this process can afford: raise the soft descriptor limit to the
    hard one, keep :data:`RESERVED_DESCRIPTORS` for everything else, and lower ``wanted`` to
    what is left (with a warning)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    affordable = max(1, soft - RESERVED_DESCRIPTORS)
    if wanted > affordable:
        log.warning(
            "ZHENGLIAN_MAX_CONNECTIONS=%d is above what %d file descriptors allow; using %d",
            wanted,
            soft,
            affordable,
        )
        return affordable
    return wanted
