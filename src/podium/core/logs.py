"""Logging: as Python sets it up by default, or one JSON object per line.

``PODIUM_LOG_FORMAT=json`` makes the ``podium`` command (and servers, workers and step
processes it starts) write every log record to stderr as one JSON object: ``time`` (UTC,
ISO 8601), ``level``, ``logger``, ``message``, and when known ``request_id``, ``run_id``
and ``step`` (from the context the record was logged in: the request being served, the
run and step being executed), ``trace_id``/``span_id`` of the current OpenTelemetry span,
``error`` (the traceback) and any ``extra=`` fields. An access log line adds ``client``,
``method``, ``path``, ``http_version`` and ``status``. ``PODIUM_LOG_LEVEL`` sets the level
of podium's loggers (INFO by default with JSON); other libraries log from WARNING.

In your own program: ``podium.core.logs.configure_logging()`` applies the same settings.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from podium.core.context import request_id_var, run_id_var, step_var
from podium.core.errors import ConfigError
from podium.core.tracing import current_ids

FORMAT_ENV = "PODIUM_LOG_FORMAT"
LEVEL_ENV = "PODIUM_LOG_LEVEL"
FORMATS = ("text", "json")
_CONTEXT = (("request_id", request_id_var), ("run_id", run_id_var), ("step", step_var))
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_ACCESS = ("client", "method", "path", "http_version", "status")


def log_format(env: Mapping[str, str] | None = None) -> str:
    """``text`` or ``json``, from ``PODIUM_LOG_FORMAT`` (default ``text``)."""
    raw = (os.environ if env is None else env).get(FORMAT_ENV, "").strip().lower() or "text"
    if raw not in FORMATS:
        raise ConfigError(
            f"{FORMAT_ENV}={raw!r} is not a log format; expected text or json.",
            hint=f"Set {FORMAT_ENV}=json for one JSON object per line, or unset it.",
        )
    return raw


def log_level(env: Mapping[str, str] | None = None) -> int | None:
    """The level of podium's loggers from ``PODIUM_LOG_LEVEL``, or None when unset."""
    raw = (os.environ if env is None else env).get(LEVEL_ENV, "").strip().upper()
    if not raw:
        return None
    level = logging.getLevelName(raw)
    if not isinstance(level, int):
        raise ConfigError(
            f"{LEVEL_ENV}={raw!r} is not a log level.",
            hint="Use DEBUG, INFO, WARNING, ERROR or CRITICAL.",
        )
    return level


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module documentation for its fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in _CONTEXT:
            value = getattr(record, key, None) or var.get()
            if value is not None:
                out[key] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            out.update(zip(_ACCESS, record.args, strict=False))
        ids = current_ids()
        if ids is not None:
            out.update(ids)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


class _PodiumHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler podium installs (and replaces when it configures logging again)."""


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stderr handler writing JSON lines; Python warnings become log records too, so that
    every line on stderr stays JSON (also a ``logging.config`` handler factory)."""
    handler = _PodiumHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.captureWarnings(True)
    return handler


def configure_logging(env: Mapping[str, str] | None = None, stream: IO[str] | None = None) -> str:
    """Apply ``PODIUM_LOG_FORMAT`` and ``PODIUM_LOG_LEVEL`` to the root logger; return the
    format. With ``text`` and no level, logging is left as it is. Calling it again replaces
    what an earlier call installed.
    """
    fmt = log_format(env)
    level = log_level(env)
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _PodiumHandler)]:
        root.removeHandler(h)
    if fmt == "text" and level is None:
        return fmt
    if fmt == "json":
        handler = json_handler(stream)
    else:
        handler = _PodiumHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    logging.getLogger("podium").setLevel(level or logging.INFO)
    return fmt
