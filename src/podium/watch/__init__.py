"""Watching deployments in production: snapshots of drift, performance and health over the
prediction log, alert rules and their sinks, reports, and the retraining loop."""

from podium.watch.monitor import Monitor
from podium.watch.snapshot import figures, snapshot, watched_model

__all__ = ["Monitor", "figures", "snapshot", "watched_model"]
