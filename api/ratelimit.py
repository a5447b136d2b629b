"""Per-token and per-address request rate limits, and per-institution daily upload quotas.

Both answer 429 (problem+json) with ``Retry-After`` in whole seconds. The request limit is a
token bucket per key (a token id, or a client address for unauthenticated calls): ``rate``
requests per second on average, up to ``burst`` at once. The upload quota counts the bytes an
institution deposited since 00:00 UTC, and the bytes of its uploads still arriving; it is read
from the database once per institution and day, then kept current by this process (one server
per database, as deployed).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.problems import Problem

__all__ = [
    "MAX_TRACKED_KEYS",
    "QuotaMeter",
    "RateLimiter",
    "UploadQuota",
    "too_many_requests",
]

MAX_TRACKED_KEYS = 100_000
"""Most keys (tokens, addresses) whose buckets are kept; the least recently seen are
forgotten first (a forgotten key starts again with a full bucket)."""


def too_many_requests(retry_after: float, detail: str) -> Problem:
    """The 429 problem with ``Retry-After`` (seconds, rounded up, at least 1)."""
    seconds = max(1, math.ceil(retry_after))
    return Problem(429, "Too many requests", detail, {"Retry-After": str(seconds)})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per key; thread-safe. ``rate`` 0 disables the limit."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        what: str = "requests",
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.what = what
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 if allowed, else seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
                while len(self._buckets) >= self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            self._buckets[key] = bucket
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def check(self, key: str, who: str) -> None:
        """Raise the 429 problem if ``key`` is over its limit."""
        wait = self.retry_after(key)
        if wait > 0:
            raise too_many_requests(
                wait, f"{who} is limited to {self.rate:g} {self.what}/s (burst {self.burst})"
            )


def _next_midnight(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class UploadQuota:
    """Bytes each institution may deposit per UTC day; thread-safe. ``limit`` 0 disables it.

    ``used_today(institution, day_start)`` reads the bytes already deposited since
    ``day_start`` (from the database) the first time an institution is seen on a day.

    Uploads are metered as their bytes arrive (:meth:`meter`), not by what a client declares:
    bytes still arriving count against the quota too, so neither a chunked upload without
    ``Content-Length`` nor uploads running side by side can deposit past it.
    """

    def __init__(
        self,
        limit: int,
        used_today: Callable[[str, datetime], int],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limit = limit
        self._used_today = used_today
        self._clock = clock
        self._lock = threading.Lock()
        self._day: datetime | None = None
        self._used: dict[str, int] = {}
        self._arriving: dict[str, int] = {}

    def _current(self, institution: str) -> tuple[int, datetime]:
        now = self._clock()
        day = datetime(now.year, now.month, now.day, tzinfo=UTC)
        with self._lock:
            if self._day != day:
                self._day = day
                self._used.clear()
            used = self._used.get(institution)
        if used is None:
            used = self._used_today(institution, day)
            with self._lock:
                if self._day == day:
                    used = self._used.setdefault(institution, used)
        return used, now

    def _exceeded(self, institution: str, used: int, now: datetime, incoming: int) -> Problem:
        return too_many_requests(
            (_next_midnight(now) - now).total_seconds(),
            f"{institution} has deposited {used} of its {self.limit} bytes today (UTC); "
            f"this upload of {incoming} bytes or more would exceed the quota",
        )

    def check(self, institution: str, incoming: int) -> None:
        """Raise the 429 problem if ``incoming`` more bytes would exceed today's quota
        (counting uploads still arriving)."""
        if self.limit <= 0:
            return
        used, now = self._current(institution)
        with self._lock:
            taken = used + self._arriving.get(institution, 0)
        if taken + max(0, incoming) > self.limit:
            raise self._exceeded(institution, used, now, incoming)

    def meter(self, institution: str) -> QuotaMeter:
        """A meter for one upload: pass its chunks through :meth:`QuotaMeter.chunks`, then
        :meth:`QuotaMeter.deposited` once it is deposited; :meth:`QuotaMeter.close` in any case."""
        return QuotaMeter(self, institution)

    def _take(self, institution: str, size: int) -> None:
        used, now = self._current(institution)
        with self._lock:
            arriving = self._arriving.get(institution, 0)
            if self._used.get(institution, used) + arriving + size > self.limit:
                raise self._exceeded(institution, used, now, arriving + size)
            self._arriving[institution] = arriving + size

    def _settle(self, institution: str, size: int, *, deposited: bool) -> None:
        if deposited:
            self._current(institution)
        with self._lock:
            left = self._arriving.get(institution, 0) - size
            if left > 0:
                self._arriving[institution] = left
            else:
                self._arriving.pop(institution, None)
            if deposited:
                self._used[institution] = self._used.get(institution, 0) + size


class QuotaMeter:
    """Counts one upload's bytes against its institution's quota as they arrive."""

    def __init__(self, quota: UploadQuota, institution: str) -> None:
        self._quota = quota
        self._institution = institution
        self._taken = 0

    def chunks(self, source: Iterable[bytes]) -> Iterator[bytes]:
        """``source`` passed through; the 429 problem as soon as a chunk would exceed the
        quota (the upload is then abandoned: nothing of it is stored)."""
        for chunk in source:
            if self._quota.limit > 0:
                self._quota._take(self._institution, len(chunk))
                self._taken += len(chunk)
            yield chunk

    def deposited(self) -> None:
        """The upload was deposited: its bytes count as used today."""
        self._quota._settle(self._institution, self._taken, deposited=True)
        self._taken = 0

    def close(self) -> None:
        """Release what an abandoned upload still holds (nothing after :meth:`deposited`)."""
        if self._taken:
            self._quota._settle(self._institution, self._taken, deposited=False)
            self._taken = 0


class ConcurrencyLimit:
    """At most ``limit`` holders at once, taken without waiting (for async routes: one event
    loop, so no lock). ``limit`` 0 means none may hold it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def try_acquire(self) -> bool:
        if self.held >= self.limit:
            return False
        self.held += 1
        return True

    def release(self) -> None:
        self.held = max(0, self.held - 1)
