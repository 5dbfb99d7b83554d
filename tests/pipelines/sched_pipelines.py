"""Pipelines used by the schedule tests (importable by scheduler subprocesses)."""

from __future__ import annotations

import time
from typing import Any

from podium import pipeline, step


@step(cache=False)
def stamp(label: str) -> str:
    return label


@pipeline
def tiny(label: str = "x") -> Any:
    return stamp(label)


@step(cache=False)
def linger(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def slow(seconds: float = 1.0) -> Any:
    return linger(seconds)


@step(cache=False)
def count_rows(data: str) -> int:
    import podium

    return len(podium.load_data(data))


@pipeline
def on_new_data(data: str = "") -> Any:
    return count_rows(data)
