"""PODIUM_LOG_FORMAT=json: one JSON object per line, with the run, step and request in context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from podium.core.context import request_id_var, run_id_var, step_var
from podium.core.errors import ConfigError
from podium.core.logs import JsonFormatter, configure_logging, log_format, log_level


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out: dict[str, object] = json.loads(line)
    return out


def _record(msg: str = "hello %s", args: tuple[object, ...] = ("world",)) -> logging.LogRecord:
    return logging.LogRecord("podium.test", logging.WARNING, __file__, 1, msg, args, None)


def test_a_record_is_one_json_object_with_time_level_logger_and_message() -> None:
    out = _format(_record())
    assert out["level"] == "WARNING" and out["logger"] == "podium.test"
    assert out["message"] == "hello world"
    assert str(out["time"]).endswith("Z") and "T" in str(out["time"])
    assert "run_id" not in out and "request_id" not in out


def test_the_context_adds_run_step_and_request_ids() -> None:
    tokens = [run_id_var.set("run-1"), step_var.set("fit"), request_id_var.set("req-9")]
    try:
        out = _format(_record())
    finally:
        step_var.reset(tokens[1])
        run_id_var.reset(tokens[0])
        request_id_var.reset(tokens[2])
    assert (out["run_id"], out["step"], out["request_id"]) == ("run-1", "fit", "req-9")


def test_extra_fields_exceptions_and_access_lines_are_structured() -> None:
    record = _record()
    record.rows = 3  # what logger.info(..., extra={"rows": 3}) does
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    out = _format(record)
    assert out["rows"] == 3 and "ValueError: bad" in str(out["error"])
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/predict", "1.1", 200),
        None,
    )
    out = _format(access)
    assert out["message"] == '127.0.0.1:5000 - "POST /predict HTTP/1.1" 200'
    assert (out["method"], out["path"], out["status"]) == ("POST", "/predict", 200)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    podium_level = logging.getLogger("podium").level
    yield
    configure_logging({})  # removes what podium installed
    logging.captureWarnings(False)
    logging.getLogger("podium").setLevel(podium_level)
    assert not [h for h in root.handlers if type(h).__name__ == "_PodiumHandler"]


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_writes_json_lines_and_replaces_itself() -> None:
    stream = io.StringIO()
    assert configure_logging({"PODIUM_LOG_FORMAT": "json"}, stream=stream) == "json"
    configure_logging({"PODIUM_LOG_FORMAT": "JSON", "PODIUM_LOG_LEVEL": "debug"}, stream=stream)
    logging.getLogger("podium.test").debug("one %d", 1)
    logging.getLogger("podium.test").info("two")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [x["message"] for x in lines] == ["one 1", "two"]  # one handler, not two
    assert configure_logging({}) == "text"


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="PODIUM_LOG_FORMAT='xml'"):
        log_format({"PODIUM_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="PODIUM_LOG_LEVEL='LOUD'"):
        log_level({"PODIUM_LOG_LEVEL": "loud"})
    assert log_format({}) == "text" and log_level({}) is None
