"""``podium stream``: consume records from a stream, score them in micro-batches, publish
the predictions, then acknowledge.

Delivery is at least once: inputs are acknowledged only after their outputs are published,
so a consumer killed mid-batch leaves its inputs pending, and they are delivered again
(to it or another consumer of the group) once stale. Each output carries ``input_id``, the
input message's id, so a redelivered input is recognisable downstream. A message that is
not a JSON object of the model's columns goes to the dead-letter stream with the reason
and is acknowledged: it never blocks the stream. Each worker reads the next batch while it
scores the current one, so broker round trips overlap model time; in-flight work is at
most those two batches per worker (back-pressure: nothing more is read until a batch is
done). SIGTERM finishes the batches in hand (publish and acknowledge) and stops.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from podium.core.errors import PodiumError
from podium.core.names import check_name
from podium.registry import Predictor
from podium.streaming.base import Broker, Message

log = logging.getLogger("podium.stream")


@dataclass
class StreamStats:
    consumed: int = 0
    published: int = 0
    dead: int = 0
    batches: int = 0
    redelivered: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "consumed": self.consumed,
            "published": self.published,
            "dead_lettered": self.dead,
            "batches": self.batches,
            "redelivered": self.redelivered,
            "messages_per_s": self.consumed / elapsed,
        }


class StreamScorer:
    """Scores ``in_stream`` into ``out_stream`` with ``concurrency`` worker threads."""

    def __init__(
        self,
        broker_factory: Any,
        predictor: Predictor,
        in_stream: str,
        out_stream: str,
        *,
        group: str = "podium",
        batch: int = 64,
        max_wait_ms: float = 50.0,
        concurrency: int = 1,
        dead_stream: str | None = None,
        log_to: Any = None,
        idle_exit_s: float | None = None,
    ) -> None:
        self.broker_factory = broker_factory  # one connection per worker thread
        self.predictor = predictor
        self.in_stream = check_name(in_stream, "input stream name")
        self.out_stream = check_name(out_stream, "output stream name")
        self.dead_stream = check_name(dead_stream or f"{in_stream}.dead", "dead-letter stream name")
        self.group = check_name(group, "consumer group name")
        self.batch = batch
        self.max_wait_s = max_wait_ms / 1000
        self.concurrency = concurrency
        self.log = log_to  # a PredictionLog: streamed predictions are monitored like HTTP ones
        self.idle_exit_s = idle_exit_s
        self.stop = threading.Event()
        self.stats = StreamStats()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = _metrics()

    def run(self) -> StreamStats:
        threads = [
            threading.Thread(target=self._work, args=(i,), name=f"podium-stream-{i}")
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.stats

    def _work(self, i: int) -> None:
        broker: Broker = self.broker_factory()
        consumer = f"{self.name}:{i}"
        reader = ThreadPoolExecutor(1, thread_name_prefix=f"podium-stream-{i}-read")

        def read() -> list[Message]:
            return broker.consume(
                self.in_stream, self.group, consumer, self.batch, block_s=self.max_wait_s
            )

        idle_since, lag_at = time.monotonic(), 0.0
        try:
            ahead: Future[list[Message]] = reader.submit(read)
            while True:
                msgs = ahead.result()
                # Whatever has been read is handled before stopping: taken means answered.
                stopping = self.stop.is_set()
                if not msgs and self.idle_exit_s is not None:
                    stopping = stopping or time.monotonic() - idle_since >= self.idle_exit_s
                if stopping and not msgs:
                    return
                if not stopping:
                    ahead = reader.submit(read)  # the next batch, while this one is scored
                if msgs:
                    idle_since = time.monotonic()
                    self._handle(broker, msgs)
                # Lag is a broker round trip (XINFO, consumer info): once a second is enough.
                if i == 0 and self.metrics is not None and time.monotonic() - lag_at >= 1.0:
                    lag_at = time.monotonic()
                    self.metrics["lag"].labels(self.in_stream).set(
                        broker.lag(self.in_stream, self.group)
                    )
                if stopping:
                    return
        finally:
            reader.shutdown(wait=True)
            broker.close()

    def _handle(self, broker: Broker, msgs: list[Message]) -> None:
        t0 = time.perf_counter()
        good: list[tuple[Message, dict[str, Any]]] = []
        dead: list[tuple[Message, str]] = []
        for m in msgs:
            try:
                rec = orjson.loads(m.data)
            except orjson.JSONDecodeError as exc:  # invalid UTF-8 included
                dead.append((m, f"not JSON: {exc}"))
                continue
            if isinstance(rec, dict):
                good.append((m, rec))
            else:
                dead.append((m, f"expected a JSON object of columns, got {type(rec).__name__}"))
        labels: list[Any] = []
        proba: list[Any] | None = None
        if good:
            try:
                labels, proba = self.predictor.infer(
                    self.predictor.validate([rec for _, rec in good])
                )
            except PodiumError:  # some record is bad: find which, one by one
                good, labels, proba, bad = self._one_by_one(good)
                dead += bad
        version = self.predictor.version.uri if self.predictor.version else ""
        outputs = []
        for j, (m, _) in enumerate(good):
            out: dict[str, Any] = {
                "input_id": m.id,
                "prediction": labels[j],
                "model_version": version,
            }
            if proba is not None:
                out["probabilities"] = proba[j]
            outputs.append(orjson.dumps(out, default=str, option=orjson.OPT_SERIALIZE_NUMPY))
        if dead:
            broker.publish(
                self.dead_stream,
                [
                    json.dumps(
                        {
                            "input_id": m.id,
                            "reason": why,
                            "data": m.data.decode("utf-8", "replace"),
                        }
                    ).encode()
                    for m, why in dead
                ],
            )
        # Inputs are acknowledged only once their answers are published: at least once.
        ids = [m.id for m in msgs]
        if outputs:
            broker.publish_and_ack(self.out_stream, outputs, self.in_stream, self.group, ids)
        else:
            broker.ack(self.in_stream, self.group, ids)
        self._record(good, labels, proba, version, 1000 * (time.perf_counter() - t0))
        with self.stats.lock:
            self.stats.consumed += len(msgs)
            self.stats.published += len(outputs)
            self.stats.dead += len(dead)
            self.stats.batches += 1
            self.stats.redelivered += sum(m.deliveries > 1 for m in msgs)
        if self.metrics is not None:
            self.metrics["messages"].labels(self.in_stream, "scored").inc(len(outputs))
            self.metrics["messages"].labels(self.in_stream, "dead").inc(len(dead))
            self.metrics["batch"].labels(self.in_stream).observe(len(msgs))

    def _record(
        self,
        good: list[tuple[Message, dict[str, Any]]],
        labels: list[Any],
        proba: list[Any] | None,
        version: str,
        ms: float,
    ) -> None:
        """Streamed predictions go to the deployment's prediction log, like HTTP ones."""
        if self.log is None or not good:
            return
        import numpy as np

        sig = self.predictor.signature
        for j, (m, rec) in enumerate(good):
            row = [rec.get(c) for c in sig.columns] if sig is not None else list(rec.values())
            self.log.add(
                f"{self.in_stream}:{m.id}"[:128],
                "main",
                version,
                np.asarray([row], dtype=object),
                [labels[j]],
                [proba[j]] if proba is not None else None,
                ms / len(good),
            )

    def _one_by_one(
        self, pairs: list[tuple[Message, dict[str, Any]]]
    ) -> tuple[
        list[tuple[Message, dict[str, Any]]], list[Any], list[Any] | None, list[tuple[Message, str]]
    ]:
        good: list[tuple[Message, dict[str, Any]]] = []
        labels: list[Any] = []
        probas: list[Any] = []
        bad: list[tuple[Message, str]] = []
        for m, rec in pairs:
            try:
                lab, pr = self.predictor.infer(self.predictor.validate([rec]))
            except PodiumError as exc:
                bad.append((m, exc.message))
                continue
            good.append((m, rec))
            labels += lab
            probas += pr if pr is not None else []
        return good, labels, (probas or None), bad


_METRICS: dict[str, Any] | None = None


def _metrics() -> dict[str, Any] | None:
    """Prometheus metrics of stream consumers (process-wide, created once)."""
    global _METRICS
    if _METRICS is None:
        from prometheus_client import Counter, Gauge, Histogram

        _METRICS = {
            "messages": Counter(
                "podium_stream_messages_total", "Messages handled", ["stream", "outcome"]
            ),
            "batch": Histogram(
                "podium_stream_batch_messages",
                "Messages per micro-batch",
                ["stream"],
                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            ),
            "lag": Gauge("podium_stream_lag", "Messages not yet read by the group", ["stream"]),
        }
    return _METRICS
