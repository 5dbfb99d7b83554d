"""Prometheus metrics of one server, in its own registry (several apps can share a process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # flavor: what answered (onnx for the fast path, sklearn, ...; X-Podium-Flavor).
        labels = ("model", "version", "protocol", "flavor")
        self.requests = Counter(
            "podium_requests",
            "Prediction requests by outcome.",
            (*labels, "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "podium_request_duration_seconds",
            "Time to answer a prediction request.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "podium_predicted_rows", "Rows predicted.", labels, registry=self.registry
        )
        self.ready = Gauge(
            "podium_model_ready",
            "1 when the model is loaded and answering.",
            ("model", "version"),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "podium_batch_rows",
            "Rows per model call when micro-batching is on.",
            ("model", "version"),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.batch_wait = Histogram(
            "podium_batch_queue_seconds",
            "Time a request waited for its batch to start when micro-batching is on.",
            ("model", "version"),
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=self.registry,
        )
        # Label lookups cost more than the increments: cache the children per label set.
        self._timing: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._counts: dict[tuple[str, str, str, str, str], Any] = {}

    def observe(
        self,
        model: str,
        version: str,
        protocol: str,
        code: int,
        seconds: float,
        rows: int,
        flavor: str = "",
    ) -> None:
        key = (model, version, protocol, flavor, str(code))
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = self.requests.labels(*key)
        counter.inc()
        if code >= 400:
            return
        timing = self._timing.get(key[:4])
        if timing is None:
            timing = self._timing[key[:4]] = (
                self.latency.labels(*key[:4]),
                self.rows.labels(*key[:4]),
            )
        timing[0].observe(seconds)
        timing[1].inc(rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)
