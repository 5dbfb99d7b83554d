"""Time and identifiers."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A 26-character id that sorts by creation time (48-bit ms time + 80 random bits, hex-ish)."""
    ms = int(time.time() * 1000)
    return f"{ms:012x}{os.urandom(7).hex()}"
