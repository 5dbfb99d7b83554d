"""Monitoring as pure functions over arrays and frames: drift, concept drift, performance.

No I/O here: :mod:`podium.watch` reads the prediction log and the store, calls these, and
acts on the result (alerts, retraining).
"""

from podium.monitoring.drift import ColumnDrift, DriftReport, DriftSettings, detect
from podium.monitoring.reference import Reference, build

__all__ = ["ColumnDrift", "DriftReport", "DriftSettings", "Reference", "build", "detect"]
