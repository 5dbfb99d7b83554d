"""A steady HTTP load for zero-downtime tests: N keep-alive connections, every answer counted.

>>> with SteadyLoad(f"{url}/predict", body, connections=32) as load:  # doctest: +SKIP
...     promote(ws, "churn")
...     load.wait_for(lambda: load.seen()["green"] > 100)
>>> load.failures  # doctest: +SKIP
[]

Each connection sends its next request as soon as the previous answer arrives (a closed
loop, like wrk). A failure is any status other than 200 or any transport error (a refused
or reset connection), recorded with when it happened.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


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
        self._payload = json.dumps(self.body).encode()
        self._target = urlsplit(self.url)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Blocking stdlib clients on threads: several times the throughput of an asyncio
        # client in Python, so the server, not the generator, is what gets loaded.
        self._threads = [
            threading.Thread(target=self._connection, daemon=True) for _ in range(self.connections)
        ]
        self._t0 = 0.0

    def __enter__(self) -> SteadyLoad:
        self._t0 = time.monotonic()
        for t in self._threads:
            t.start()
        self.wait_for(lambda: self.requests >= self.connections, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        """Keep the load on until ``check()`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout} s under load")
            time.sleep(0.02)

    def seen(self, header: str = "x-podium-variant") -> Counter[str]:
        """A copy of how often each value of ``header`` answered so far."""
        with self._lock:
            return self.headers[header].copy()

    def mark(self) -> int:
        """The number of requests answered so far (to count what comes after a change)."""
        return self.requests

    def _connection(self) -> None:
        host, port = self._target.hostname or "127.0.0.1", self._target.port or 80
        path = self._target.path or "/"
        conn = http.client.HTTPConnection(host, port, timeout=10)
        head = {"content-type": "application/json"}
        while not self._stop.is_set():
            try:
                conn.request("POST", path, self._payload, head)
                r = conn.getresponse()
                text = r.read()
            except (OSError, http.client.HTTPException) as exc:
                self._record(None, f"{type(exc).__name__}: {exc}")
                conn.close()  # reconnects on the next request
                continue
            seen = {h: r.getheader(h, "") for h in self.watch}
            fail = None if r.status == 200 else f"HTTP {r.status}: {text[:200]!r}"
            self._record(seen, fail)
        conn.close()

    def _record(self, seen: dict[str, str] | None, failure: str | None) -> None:
        with self._lock:
            self.requests += 1
            if failure is not None:
                self.failures.append(Failure(time.monotonic() - self._t0, failure))
            for h, value in (seen or {}).items():
                self.headers[h][value] += 1
