"""Adaptive micro-batching: concurrent small requests to one model become one model call.

A single-row scikit-learn call costs about as much as a 30-row one, so under concurrent load
the model call, not HTTP, is what batching amortises. The batcher is adaptive: it never
waits when no other request is on its way (a lone request is answered at once), and
otherwise waits at most ``max_wait_ms`` for the requests already being read to join, up to
``max_batch`` rows. While one batch runs on a thread, the next one forms on the event loop.
Off by default; a deployment turns it on with a ``batching:`` block, a plain model server
with ``PODIUM_MAX_BATCH`` (and ``PODIUM_MAX_WAIT_MS``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from podium.core.errors import ConfigError
from podium.registry import Predictor
from podium.serving.metrics import ServingMetrics


@dataclass(frozen=True)
class Batching:
    max_batch: int = 32  # rows per model call at most
    max_wait_ms: float = 2.0  # how long the first request of a batch may wait for others

    @classmethod
    def from_env(cls) -> Batching | None:
        raw = os.environ.get("PODIUM_MAX_BATCH")
        if not raw:
            return None
        wait = os.environ.get("PODIUM_MAX_WAIT_MS", str(cls.max_wait_ms))
        try:
            batching = cls(int(raw), float(wait))
        except ValueError:
            batching = cls(0)
        if not 1 <= batching.max_batch <= 10_000 or not 0 <= batching.max_wait_ms <= 1000:
            raise ConfigError(
                f"PODIUM_MAX_BATCH={raw!r}, PODIUM_MAX_WAIT_MS={wait!r} is not a batching setting.",
                hint="E.g. PODIUM_MAX_BATCH=32 (1-10000) and PODIUM_MAX_WAIT_MS=2 (0-1000).",
            )
        return batching

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Batching | None:
        return cls(int(spec["max_batch"]), float(spec["max_wait_ms"])) if spec else None


@dataclass
class _Item:
    x: Any
    rows: int
    future: asyncio.Future[tuple[list[Any], Any]]
    queued_at: float


class MicroBatcher:
    """Batches the requests of one predictor; ``infer`` is a drop-in for ``predictor.infer``.

    ``arriving()`` tells how many requests the server is still reading (they may join).
    """

    def __init__(
        self,
        predictor: Predictor,
        batching: Batching,
        metrics: ServingMetrics,
        arriving: Callable[[], int],
    ) -> None:
        self.predictor = predictor
        self.batching = batching
        self.arriving = arriving
        self.queue: deque[_Item] = deque()
        self.queued_rows = 0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        name, version = predictor.name, str(predictor.version_number or "")
        self.size = metrics.batch_size.labels(name, version)
        self.wait = metrics.batch_wait.labels(name, version)

    async def infer(self, x: Any) -> tuple[list[Any], Any]:
        loop = asyncio.get_running_loop()
        item = _Item(x, len(x), loop.create_future(), time.perf_counter())
        self.queue.append(item)
        self.queued_rows += item.rows
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await item.future

    async def _drain(self) -> None:
        max_batch = self.batching.max_batch
        max_wait = self.batching.max_wait_ms / 1000
        while self.queue:
            # Requests whose bytes arrived in the same read are ready to run but have not
            # started: one turn of the loop lets them reach the queue or announce themselves.
            await asyncio.sleep(0)
            deadline = self.queue[0].queued_at + max_wait
            # Wait only for requests already on their way, and never past the deadline.
            while self.queued_rows < max_batch and self.arriving() > 0:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), left)
                except TimeoutError:
                    break
            batch = self._take(max_batch)
            await self._run(batch)

    def _take(self, max_batch: int) -> list[_Item]:
        batch = [self.queue.popleft()]
        rows = batch[0].rows
        while self.queue and rows + self.queue[0].rows <= max_batch:
            item = self.queue.popleft()
            batch.append(item)
            rows += item.rows
        self.queued_rows -= rows
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        now = time.perf_counter()
        for item in batch:
            self.wait.observe(now - item.queued_at)
        self.size.observe(sum(i.rows for i in batch))
        try:
            x = concat_inputs([i.x for i in batch])
            labels, proba = await run_in_threadpool(self.predictor.infer, x)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].future, exc=exc)
                return
            # One bad request must not fail its neighbours: retry each on its own.
            for item in batch:
                try:
                    _settle(item.future, self.predictor.infer(item.x))
                except Exception as one:
                    _settle(item.future, exc=one)
            return
        start = 0
        for item in batch:
            end = start + item.rows
            _settle(item.future, (labels[start:end], proba[start:end] if proba else proba))
            start = end


def concat_inputs(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


def _settle(
    future: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
