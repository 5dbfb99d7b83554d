"""The prediction log: every prediction and feedback, written in batches off the request path.

The request path appends a tuple to a deque (tens of nanoseconds); a thread turns them into
rows and writes them every ``interval`` seconds in one transaction. Feedback is joined to
predictions by id; bandit rewards are folded into the deployment's stored state once per
flush, so every worker and every restart sees the same counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from typing import Any

import numpy as np

from podium.core.clock import utcnow
from podium.core.errors import PodiumError
from podium.rollout import state as rollout_state
from podium.workspace import Workspace

log = logging.getLogger("podium.serving")
RECENT = 100_000  # prediction ids remembered in memory, to route feedback before a flush
# Rows prepared and inserted at a time: about a millisecond of Python each, after which the
# log thread lets the event loop have the interpreter (a flush of 1,200 rows held it ~20 ms).
CHUNK = 100


class PredictionLog:
    def __init__(self, ws: Workspace, deployment: str, interval: float = 0.2) -> None:
        self.ws = ws
        self.deployment = deployment
        self.interval = interval
        self.pending: deque[tuple[Any, ...]] = deque()
        self.feedback: deque[dict[str, Any]] = deque()
        self.recent: OrderedDict[str, str] = OrderedDict()  # prediction id -> variant
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="podium-predlog", daemon=True)
        self.written = 0

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.flush()

    def add(
        self,
        pid: str,
        variant: str,
        version: str,
        x: Any,
        labels: list[Any],
        proba: Any,
        latency_ms: float,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Log a prediction; ``extra`` joins its outputs (a shadow's ``shadow_of``, ``agrees``)."""
        self.pending.append(
            (pid, utcnow(), variant, version, x, labels, proba, latency_ms, None, extra)
        )

    def add_error(
        self, pid: str, variant: str, version: str, code: int, extra: dict[str, Any] | None = None
    ) -> None:
        self.pending.append((pid, utcnow(), variant, version, None, None, None, 0.0, code, extra))

    def add_feedback(self, items: list[dict[str, Any]]) -> None:
        now = utcnow()
        for item in items:
            self.feedback.append(
                {
                    "prediction_id": item["prediction_id"],
                    "at": now,
                    "label": item.get("label"),
                    "reward": item.get("reward"),
                }
            )

    def flush(self) -> None:
        with self.lock:  # one flusher at a time (the thread, or close())
            preds = [self.pending.popleft() for _ in range(len(self.pending))]
            fb = [self.feedback.popleft() for _ in range(len(self.feedback))]
            if not preds and not fb:
                return
            rows: list[dict[str, Any]] = []
            for start in range(0, len(preds), CHUNK):
                if start:
                    time.sleep(0)  # let the event loop run between chunks
                rows.extend(_row(self.deployment, *p) for p in preds[start : start + CHUNK])
            for p in preds:
                self.recent[p[0]] = p[2]
            while len(self.recent) > RECENT:
                self.recent.popitem(last=False)
            self.ws.store.predictions.write(rows, fb, chunk=CHUNK)
            self.written += len(rows)
            self._rewards(fb)

    def _rewards(self, fb: list[dict[str, Any]]) -> None:
        with_reward = [f for f in fb if f["reward"] is not None]
        if not with_reward:
            return
        unknown = [f["prediction_id"] for f in with_reward if f["prediction_id"] not in self.recent]
        stored = self.ws.store.predictions.variants_of(unknown)
        by_arm: dict[str, list[float]] = {}
        for f in with_reward:
            arm = self.recent.get(f["prediction_id"]) or stored.get(f["prediction_id"])
            if arm is not None:
                by_arm.setdefault(arm, []).append(float(f["reward"]))
        if by_arm:
            self.ws.store.deployments.transition(
                self.deployment,
                "rewards",
                lambda spec, state: rollout_state.add_rewards(spec, state, by_arm),
                {"rewards": {k: len(v) for k, v in by_arm.items()}},
            )

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.flush()
            except PodiumError as exc:  # the store is busy or down: keep serving, retry
                log.warning("Prediction log not written yet: %s", exc)


def _row(
    deployment: str,
    pid: str,
    at: Any,
    variant: str,
    version: str,
    x: Any,
    labels: list[Any] | None,
    proba: Any,
    latency_ms: float,
    error: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if error is not None:  # a failed request, counted by the canary's error-rate gate
        return {
            "id": pid,
            "at": at,
            "deployment": deployment,
            "variant": variant,
            "model_version": version,
            "inputs": [],
            "outputs": {"error": error, **(extra or {})},
            "latency_ms": latency_ms,
        }
    if x is None:  # a shadow's: the same as its primary's
        inputs: Any = []
    elif isinstance(x, np.ndarray):
        inputs = x.tolist()
    else:  # a DataFrame
        inputs = x.astype(object).where(x.notna(), None).values.tolist()
    outputs: dict[str, Any] = {"predictions": labels}
    if proba is not None:
        outputs["probabilities"] = proba
    outputs.update(extra or {})
    return {
        "id": pid,
        "at": at,
        "deployment": deployment,
        "variant": variant,
        "model_version": version,
        "inputs": inputs,
        "outputs": outputs,
        "latency_ms": latency_ms,
    }
