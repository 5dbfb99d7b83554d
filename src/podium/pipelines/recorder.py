"""Coalesce a run's step records into one write transaction every few milliseconds.

Writing each state change of each step in its own transaction cost about 1 ms per step
(three commits and an insert). The recorder merges the changes of each step and writes
them, with the new artifact rows, every ``interval`` seconds and when the run ends. A crash
loses at most ``interval`` of records; resuming re-runs those steps, whose outputs are
content-addressed, so nothing is lost or duplicated.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from podium.core.errors import PodiumError
from podium.core.records import ArtifactRecord
from podium.store.runs import RunRepo

log = logging.getLogger("podium.pipelines")


class Recorder:
    def __init__(self, runs: RunRepo, run_id: str, interval: float = 0.05) -> None:
        self.runs = runs
        self.run_id = run_id
        self.interval = interval
        self.lock = threading.Lock()
        self.steps: dict[str, dict[str, Any]] = {}
        self.artifacts: list[ArtifactRecord] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="podium-recorder", daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.flush()  # the last records; a store error here reaches the caller

    def step(self, name: str, **values: Any) -> None:
        with self.lock:
            self.steps.setdefault(name, {}).update(values)

    def artifact(self, record: ArtifactRecord) -> None:
        with self.lock:
            self.artifacts.append(record)

    def flush(self) -> None:
        with self.lock:
            steps, self.steps = self.steps, {}
            artifacts, self.artifacts = self.artifacts, []
        if not steps and not artifacts:
            return
        try:
            self.runs.write_batch(self.run_id, steps, artifacts)
        except PodiumError:
            with self.lock:  # keep them for the next flush, merged under newer changes
                for name, values in steps.items():
                    self.steps[name] = {**values, **self.steps.get(name, {})}
                self.artifacts = artifacts + self.artifacts
            raise

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.flush()
            except PodiumError as exc:  # a busy store: the next flush retries
                log.warning("Could not record step states yet: %s", exc)
