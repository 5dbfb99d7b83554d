"""Output helpers: Rich tables for people, JSON for scripts, one-line errors with hints."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from podium.core.errors import ConfigError, PodiumError
from podium.core.logs import configure_logging, log_format

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
    if _json_logs():
        logging.getLogger("podium.cli").error(
            error.message, extra={"hint": error.hint, "error_type": type(error).__name__}
        )
        return
    err.print(f"[bold red]Error:[/] {error.message}", markup=True)
    if error.hint:
        err.print(f"[dim]Hint:[/] {error.hint}", markup=True)


class _LogLines(io.TextIOBase):
    """A file whose every line becomes an INFO record of ``logger``."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line.rstrip())
        return len(text)

    def isatty(self) -> bool:
        return False


def setup_logging() -> None:
    """Apply ``PODIUM_LOG_FORMAT`` to the command: with ``json``, what it tells people on
    stderr ("Serving ... at ...", errors) becomes log records too, so every line is JSON."""
    if configure_logging() == "json":
        err.file = _LogLines(logging.getLogger("podium.cli"))  # type: ignore[assignment]
    elif isinstance(err.file, _LogLines):
        err.file = None  # type: ignore[assignment]  # back to whatever sys.stderr is


def _json_logs() -> bool:
    try:
        return log_format() == "json"
    except ConfigError:  # the error being printed may be this very setting
        return False


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
