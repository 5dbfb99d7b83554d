"""Output helpers: Rich tables for people, JSON for scripts, one-line errors with hints."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from podium.core.errors import PodiumError

out = Console(highlight=False, soft_wrap=True)
STATUS_STYLE = {
    "succeeded": "green",
    "cached": "cyan",
    "failed": "red",
    "timed_out": "red",
    "crashed": "red",
    "running": "yellow",
    "retrying": "yellow",
    "skipped": "dim",
    "cancelled": "dim",
    "pending": "dim",
}
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_error(error: PodiumError) -> None:
    err.print(f"[bold red]Error:[/] {error.message}", markup=True)
    if error.hint:
        err.print(f"[dim]Hint:[/] {error.hint}", markup=True)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A table whose first column (an id or name) is never wrapped or cut."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for i, c in enumerate(columns):
        t.add_column(c, no_wrap=i == 0, min_width=None)
    for r in rows:
        t.add_row(*[fmt(v) for v in r])
    out.print(t)


def fmt(value: Any) -> Any:
    """A cell: our own styled Text as is, anything else as escaped plain text."""
    if isinstance(value, Text):
        return value
    return escape(_plain(value))


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "-"
    return str(value)
