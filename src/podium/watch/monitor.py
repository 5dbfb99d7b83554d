"""``podium monitor``: evaluate every watched deployment's alerts, run the retraining loops."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from podium.core.clock import utcnow
from podium.core.errors import PodiumError
from podium.watch import alerts
from podium.watch.loop import Loops
from podium.workspace import Workspace

log = logging.getLogger("podium.monitor")


class Monitor:
    """One pass with :meth:`once`, or passes every ``interval`` seconds with :meth:`run`.

    Watches the deployments that have a ``monitoring`` block (or only ``names``).
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        names: list[str] | None = None,
        interval: float = 60.0,
        background: bool = False,
    ) -> None:
        self.ws = ws
        self.names = names
        self.interval = interval
        self.loops = Loops(ws, background=background)
        self.stop = threading.Event()

    def watched(self) -> list[Any]:
        if self.names:
            return [self.ws.store.deployments.get(n) for n in self.names]
        return [d for d in self.ws.store.deployments.all() if d.spec.get("monitoring")]

    def once(self, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Evaluate alerts and advance loops once; per deployment, what fired and the loop."""
        out: dict[str, dict[str, Any]] = {}
        for dep in self.watched():
            now_ = now or utcnow()
            try:
                fired = alerts.check(self.ws, dep, now_)
                if dep.spec.get("retrain"):
                    for a in fired:
                        if a["retrain"]:
                            self.loops.start(dep, a, now_)
                phase = self._advance(dep.name, now_)
            except PodiumError as exc:  # one broken deployment must not stop the others
                log.warning("Monitoring %s failed: %s", dep.name, exc.message)
                out[dep.name] = {"error": exc.message}
                continue
            except Exception as exc:  # nor a bug on odd data: log it whole, carry on
                log.exception("Monitoring %s failed", dep.name)
                out[dep.name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            out[dep.name] = {"alerts": fired, "loop": phase}
        return out

    def _advance(self, name: str, now: datetime) -> str | None:
        phase = self.loops.advance(name, now)
        for _ in range(4):  # a step that finishes at once lets the next one start this pass
            after = self.loops.advance(name, now)
            if after == phase:
                break
            phase = after
        return phase

    def run(self) -> None:
        while not self.stop.is_set():
            self.once()
            self.stop.wait(self.interval)
