"""A pipeline run by a schedule on an alert's event."""

from __future__ import annotations

import podium


@podium.step(cache=False)
def note(deployment: str, rule: str) -> str:
    return f"{deployment}:{rule}"


@podium.pipeline(name="on-alert")
def on_alert(deployment: str = "", rule: str = "") -> str:
    return note(deployment, rule)
