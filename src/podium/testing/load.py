"""A steady HTTP load for zero-downtime tests: N keep-alive connections, every answer counted.

>>> with SteadyLoad(f"{url}/predict", body, connections=32) as load:  # doctest: +SKIP
...     promote(ws, "churn")
...     load.wait_for(lambda: load.headers["x-podium-variant"]["green"] > 100)
>>> load.failures  # doctest: +SKIP
[]

Each connection sends its next request as soon as the previous answer arrives (a closed
loop, like wrk). A failure is any status other than 200 or any transport error (a refused
or reset connection), recorded with when it happened.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Failure:
    at: float  # seconds since the load started
    what: str  # "HTTP 503: ..." or the transport error


@dataclass
class SteadyLoad:
    url: str
    body: Any
    connections: int = 32
    headers: dict[str, Counter[str]] = field(default_factory=dict)
    watch: tuple[str, ...] = ("x-podium-variant", "x-podium-model-version")
    requests: int = 0
    failures: list[Failure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.headers = {h: Counter() for h in self.watch}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._t0 = 0.0

    def __enter__(self) -> SteadyLoad:
        self._t0 = time.monotonic()
        self._thread.start()
        self.wait_for(lambda: self.requests >= self.connections, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        """Keep the load on until ``check()`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout} s under load")
            if not self._thread.is_alive() and not self._stop.is_set():
                raise AssertionError("the load generator stopped")
            time.sleep(0.02)

    def mark(self) -> int:
        """The number of requests answered so far (to count what comes after a change)."""
        return self.requests

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.connections)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            await asyncio.gather(*(self._connection(client) for _ in range(self.connections)))

    async def _connection(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            try:
                r = await client.post(self.url, json=self.body)
            except httpx.HTTPError as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                continue
            if r.status_code != 200:
                self._fail(f"HTTP {r.status_code}: {r.text[:200]}")
            for h, seen in self.headers.items():
                seen[r.headers.get(h, "")] += 1
            self.requests += 1

    def _fail(self, what: str) -> None:
        self.failures.append(Failure(time.monotonic() - self._t0, what))
        self.requests += 1
