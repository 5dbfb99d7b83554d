"""Per-client rate limiting of the prediction routes: a token bucket per client.

A client is its ``Authorization`` header when it sends one (a token names a client better
than an address shared behind a NAT), else its IP address. Buckets live in the server
process: with ``--workers N`` each worker limits on its own. Off unless
``PODIUM_RATE_LIMIT`` (or ``Limits(rate_limit=...)``) sets a rate.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.core.errors import ConfigError, RateLimitedError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]*)\s*$")
_UNITS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
# Idle buckets are dropped once this many clients are tracked (a bucket refilled to full is
# the same as no bucket), so memory follows the active clients, not every address ever seen.
MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class RateLimit:
    """``requests`` per ``period_s`` seconds per client, in bursts of at most ``burst``.

    >>> RateLimit.parse("100/s")
    RateLimit(requests=100.0, period_s=1.0, burst=100.0, text='100/s')
    >>> RateLimit.parse("600/min", burst=20).per_second
    10.0
    """

    requests: float
    period_s: float
    burst: float
    text: str

    @property
    def per_second(self) -> float:
        return self.requests / self.period_s

    @classmethod
    def parse(cls, text: str, burst: float | None = None) -> RateLimit:
        hint = "Write REQUESTS/PERIOD, e.g. 100/s, 600/min or 5000/h (or 10/5s)."
        m = _RATE.match(text.lower())
        if m is None or m.group(3) not in _UNITS:
            raise ConfigError(f"Rate limit {text!r} is not a rate.", hint=hint)
        requests = float(m.group(1))
        period = float(m.group(2) or 1) * _UNITS[m.group(3)]
        if requests <= 0 or period <= 0:
            raise ConfigError(f"Rate limit {text!r} must allow some requests.", hint=hint)
        cap = requests if burst is None else burst
        if cap < 1:
            raise ConfigError(
                f"Rate limit burst {cap:g} is below one request: no request could pass.",
                hint="Use a burst of at least 1 (the default is the REQUESTS of the rate).",
            )
        return cls(requests, period, float(cap), text.strip())


class RateLimiter:
    """Token buckets by client: each holds up to ``burst`` tokens, refilled continuously.

    Called on the event loop only, so it takes no lock.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.rate = limit.per_second
        self.burst = limit.burst
        self.clock = clock
        self.buckets: dict[str, list[float]] = {}  # client -> [tokens, last refill]

    def wait_s(self, client: str) -> float:
        """Take a token for ``client``: 0.0 when it may go on, else seconds until it may."""
        now = self.clock()
        bucket = self.buckets.get(client)
        if bucket is None:
            if len(self.buckets) >= MAX_CLIENTS:
                self._forget_idle(now)
            self.buckets[client] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def admit(self, scope: Any, headers: Any) -> None:
        """Raise :class:`RateLimitedError` when the request's client is over its rate."""
        client = headers.get("authorization")
        if client is None:
            peer = scope.get("client")
            client = peer[0] if peer else "-"
        else:
            client = "auth:" + client
        wait = self.wait_s(client)
        if wait > 0.0:
            retry = max(1, math.ceil(wait))
            raise RateLimitedError(
                f"Too many requests: this client is over the rate limit of {self.limit.text} "
                f"(rate_limit); retry in {retry} s.",
                limit=self.limit.text,
                retry_after=retry,
                hint="Slow down (honour Retry-After), or raise PODIUM_RATE_LIMIT on the server.",
            )

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate  # seconds for an empty bucket to refill
        self.buckets = {k: b for k, b in self.buckets.items() if now - b[1] < full_after}
        if len(self.buckets) >= MAX_CLIENTS:  # all busy: keep the newest half (amortised)
            self.buckets = dict(list(self.buckets.items())[MAX_CLIENTS // 2 :])
