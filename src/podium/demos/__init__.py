"""Guided demos: ``podium quickstart``."""

from podium.demos.quickstart import QuickstartResult, run_quickstart

__all__ = ["QuickstartResult", "run_quickstart"]
