"""Online learning for a deployment marked ``online``: the model learns from feedback labels.

Never on the request path: ``/feedback`` queues (inputs, label, served prediction) and a
thread learns in mini-batches, on a copy of the model that is then swapped in whole, so a
request always sees one consistent model.

Evaluation is prequential (test, then train): a label is first compared with the prediction
the model *served* for that request, then learnt. The rolling accuracy (or mean absolute
error) over the newest ``window`` labels is the online metric.

Every ``snapshot_every`` updates (or ``snapshot_every_s`` seconds) the model is registered
as a new version of its model, tagged with its parent, and becomes the revert point. When
the rolling metric falls below the last snapshot's by ``revert_margin`` (a burst of wrong
labels, a broken upstream), the model goes back to that snapshot and an alert is recorded.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podium.core.clock import utcnow
from podium.core.errors import PodiumError
from podium.registry import Predictor, Registry
from podium.workspace import Workspace

log = logging.getLogger("podium.online")
REMEMBERED = 100_000  # served predictions kept for their labels to arrive


@dataclass
class OnlineState:
    updates: int = 0  # labels learnt since the model was loaded
    learnt_batches: int = 0
    rolling: deque[float] = field(default_factory=deque)  # 1/0 (or absolute errors)
    snapshot_uri: str | None = None
    snapshot_metric: float | None = None
    snapshot_at_updates: int = 0
    snapshot_time: float = field(default_factory=time.monotonic)
    reverts: int = 0

    def metric(self) -> float | None:
        return float(np.mean(self.rolling)) if self.rolling else None


class OnlineLearner:
    """Learns for one variant of a deployment; ``get``/``set`` reach the served predictor."""

    def __init__(
        self,
        ws: Workspace,
        deployment: str,
        settings: dict[str, Any],
        get: Any,
        set_: Any,
    ) -> None:
        self.ws = ws
        self.deployment = deployment
        self.batch = int(settings.get("batch", 32))
        self.max_wait_s = float(settings.get("max_wait_s", 1.0))
        self.window = int(settings.get("window", 500))
        self.snapshot_every = int(settings.get("snapshot_every", 1000))
        self.snapshot_every_s = float(settings.get("snapshot_every_s", 600))
        self.revert_margin = float(settings.get("revert_margin", 0.1))
        self.min_labels = int(settings.get("min_labels", 100))
        self.get, self.set = get, set_
        self.served: OrderedDict[str, tuple[Any, list[Any]]] = OrderedDict()
        self.queue: deque[tuple[Any, Any, Any]] = deque()
        self.state = OnlineState(rolling=deque(maxlen=self.window))
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="podium-online", daemon=True)
        self.lock = threading.Lock()
        self.in_flight = 0  # labels being learnt right now

    def start(self) -> None:
        p = self.get()
        self.state.snapshot_uri = p.version.uri if p.version else None
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        self.thread.join()

    # -- the request path: cheap appends --------------------------------------------------
    def remember(self, pid: str, x: Any, labels: list[Any]) -> None:
        self.served[pid] = (x, labels)
        while len(self.served) > REMEMBERED:
            self.served.popitem(last=False)

    def feedback(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            label = item.get("label")
            got = self.served.pop(item["prediction_id"], None)
            if label is None or got is None:
                continue
            x, served = got
            labels = label if isinstance(label, list) else [label]
            if len(labels) != len(served):
                continue  # one label for a many-row request: not attributable to a row
            self.queue.append((x, labels, served))
        if len(self.queue) >= self.batch:
            self.wake.set()

    # -- the learning thread -------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(self.max_wait_s)
            self.wake.clear()
            try:
                self.step()
            except PodiumError as exc:
                log.warning("Online learning of %s paused a batch: %s", self.deployment, exc)
            except Exception:  # a model that cannot learn this batch: keep serving
                log.exception("Online learning of %s failed on a batch", self.deployment)

    def step(self) -> bool:
        """Learn what is queued (at most a few batches); return whether anything was."""
        with self.lock:
            n = min(len(self.queue), 4 * self.batch)
            self.in_flight = n  # before taking them: status never shows them nowhere
            items = [self.queue.popleft() for _ in range(n)]
            try:
                if not items:
                    self._maybe_snapshot()
                    return False
                return self._step(items)
            finally:
                self.in_flight = 0

    def _step(self, items: list[tuple[Any, Any, Any]]) -> bool:
        predictor: Predictor = self.get()
        xs, ys, served = self._stack(predictor, items)
        classifier = predictor.classes is not None
        for y, s in zip(ys, served, strict=True):  # test, then train
            err = float(str(y) == str(s)) if classifier else abs(float(y) - float(s))
            self.state.rolling.append(err)
        model = copy.deepcopy(predictor.model)
        self._learn(model, predictor, xs, ys)
        learnt = Predictor(model, predictor.signature, predictor.version, predictor.flavor)
        self.set(learnt)
        self.state.updates += len(ys)
        self.state.learnt_batches += 1
        if self.state.snapshot_metric is None and len(self.state.rolling) >= self.min_labels:
            self.state.snapshot_metric = self.state.metric()  # the loaded version's baseline
        if not self._maybe_revert(classifier):
            self._maybe_snapshot()
        return True

    def _stack(self, p: Predictor, items: list[tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
        import pandas as pd

        xs = [x for x, _, _ in items]
        x = (
            pd.concat(xs, ignore_index=True)
            if isinstance(xs[0], pd.DataFrame)
            else np.concatenate([np.atleast_2d(a) for a in xs])
        )
        ys = [y for _, labels, _ in items for y in labels]
        served = [s for _, _, s_ in items for s in s_]
        return x, ys, served

    def _learn(self, model: Any, p: Predictor, x: Any, ys: list[Any]) -> None:
        y = np.asarray(ys)
        if p.classes is not None:  # feedback arrives as JSON: map it onto the model's classes
            by_text = {str(c): c for c in p.classes}
            y = np.asarray([by_text.get(str(v), v) for v in ys])
            model.partial_fit(p._frame(x), y, classes=np.asarray(p.classes))
        else:
            model.partial_fit(p._frame(x), y.astype(np.float64))

    def _maybe_revert(self, classifier: bool) -> bool:
        s = self.state
        now = s.metric()
        if s.snapshot_metric is None or now is None or len(s.rolling) < self.min_labels:
            return False
        worse = (
            now < s.snapshot_metric - self.revert_margin
            if classifier
            else now > s.snapshot_metric * (1 + self.revert_margin)
        )
        if not worse or s.snapshot_uri is None:
            return False
        registry = Registry(self.ws.store, self.ws.artifacts)
        self.set(registry.load(s.snapshot_uri))
        s.reverts += 1
        s.rolling.clear()
        detail = {"to": s.snapshot_uri, "metric": now, "snapshot_metric": s.snapshot_metric}
        self.ws.store.deployments.record(self.deployment, "online_reverted", detail)
        self.ws.store.alerts.add(
            {
                "deployment": self.deployment,
                "rule": "online-revert",
                "figure": "online.metric",
                "value": now,
                "op": "<" if classifier else ">",
                "threshold": s.snapshot_metric,
                "severity": "critical",
                "at": utcnow(),
                "detail": detail,
            }
        )
        log.warning(
            "Online model of %s reverted to %s (metric %.3f, snapshot %.3f)",
            self.deployment,
            s.snapshot_uri,
            now,
            s.snapshot_metric,
        )
        return True

    def _maybe_snapshot(self) -> None:
        s = self.state
        due = s.updates - s.snapshot_at_updates >= self.snapshot_every or (
            s.updates > s.snapshot_at_updates
            and time.monotonic() - s.snapshot_time >= self.snapshot_every_s
        )
        if not due or len(s.rolling) < min(self.min_labels, self.window):
            return
        p: Predictor = self.get()
        if p.version is None:
            return
        registry = Registry(self.ws.store, self.ws.artifacts)
        example = p.version.input_example
        import pandas as pd

        x = pd.DataFrame(example["data"], columns=example["columns"]) if example else None
        mv = registry.register(
            p.model,
            p.version.model,
            signature=p.signature,
            input_example=x,
            tags={"parent": p.version.uri, "online_updates": str(s.updates)},
            description=f"Online snapshot of {self.deployment} after {s.updates} labels.",
            metrics={"online_metric": s.metric() or 0.0},
        )
        self.set(Predictor(p.model, p.signature, mv, p.flavor))
        s.snapshot_uri, s.snapshot_metric = mv.uri, s.metric()
        s.snapshot_at_updates, s.snapshot_time = s.updates, time.monotonic()
        self.ws.store.deployments.record(
            self.deployment, "online_snapshot", {"version": mv.uri, "metric": s.metric()}
        )

    def status(self) -> dict[str, Any]:
        s = self.state
        return {
            "updates": s.updates,
            "batches": s.learnt_batches,
            "metric": s.metric(),
            "snapshot": s.snapshot_uri,
            "snapshot_metric": s.snapshot_metric,
            "reverts": s.reverts,
            "queued": len(self.queue) + self.in_flight,  # 0: everything sent is learnt
        }
