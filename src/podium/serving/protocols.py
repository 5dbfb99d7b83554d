"""uvicorn set up for podium: the header-size limit and logging.

uvicorn bounds the request line and headers only with h11 (``h11_max_incomplete_event_size``,
answered with a bare 400); httptools, which it prefers, has no bound at all. The protocol
classes here count the bytes of the request line and headers as they are parsed and answer
431 with podium's JSON error naming the limit once they pass ``max_header_bytes``. The
count happens once per header, outside the app: nothing measurable on the hot path.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from podium.core.errors import HeadersTooLargeError
from podium.core.logs import log_format, log_level
from podium.serving.lane import lane_of

try:  # uvicorn[standard] installs it; without it uvicorn (and podium) use h11
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    HttpToolsProtocol = None  # type: ignore[misc,assignment]

DEFAULT_MAX_HEAD = 16 * 1024  # h11's own default


def _refusal(limit: int) -> bytes:
    """The whole HTTP answer to a request whose head is over ``limit`` bytes."""
    error = HeadersTooLargeError(
        f"The request line and headers are over the limit of {limit} bytes (max_header_bytes).",
        field="headers",
        hint="Send fewer or smaller headers (cookies, tokens), or raise PODIUM_MAX_HEADER_BYTES "
        "on the server.",
        limit=("max_header_bytes", limit),
    )
    body = orjson.dumps(error.to_dict())
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class _Busy:
    """Stands for a connection's requests in the fast lane while another request arrives."""

    response_complete = False


_BUSY: Any = _Busy()


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing the request."""


class _Refusal:
    """uvicorn's logger for a connection whose head was refused: its warning ("Invalid HTTP
    request received.") then says what happened instead."""

    def __init__(self, logger: Any, limit: int) -> None:
        self._logger = logger
        self._limit = limit

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.warning(
            "Refused a request whose line and headers are over %d bytes (max_header_bytes): 431.",
            self._limit,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


if HttpToolsProtocol is not None:

    class HttpToolsWithLimits(HttpToolsProtocol):
        """httptools, refusing a request line plus headers over ``max_header_bytes``."""

        def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            self.max_head: int = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD
            self.head_bytes = 0
            self.head_refused = False
            # The fast lane (podium.serving.lane): a taken request's handler and body so far,
            # this connection's requests in the lane not answered yet (in order), and whether
            # to close once they are.
            self.lane = lane_of(getattr(config, "loaded_app", None) or config.app)
            self.lane_handler: Any = None
            self.lane_body: list[bytes] = []
            self.lane_queue: deque[Any] = deque()
            self.lane_close = False

        def on_headers_complete(self) -> None:
            lane = self.lane
            handler = None if lane is None or self.root_path else lane.handler(self)
            self.lane_handler = handler
            if handler is not None:
                return
            if self.lane_queue:
                # Behind requests of this connection still in the lane: uvicorn queues it
                # as a pipelined request, started once the lane has answered them.
                self.cycle = _BUSY
            super().on_headers_complete()

        def lane_answered(self) -> None:
            """The lane wrote (or dropped) one answer of this connection."""
            if self.lane_queue:  # the lane takes each answer off the queue before writing it
                self.server_state.total_requests += 1
            elif self.lane_close:
                self.server_state.total_requests += 1
                self.transport.close()
            else:  # counts it, resumes reading, starts what was pipelined or arms keep-alive
                self.on_response_complete()

        def on_body(self, body: bytes) -> None:
            if self.lane_handler is None:
                super().on_body(body)
            else:
                self.lane_body.append(body)

        def on_message_complete(self) -> None:
            handler = self.lane_handler
            if handler is None:
                super().on_message_complete()
                return
            body, self.lane_body, self.lane_handler = b"".join(self.lane_body), [], None
            assert self.lane is not None
            self.lane.arrive(self, handler, body)

        def shutdown(self) -> None:
            if self.lane_queue:  # answer what the lane holds, then close
                self.lane_close = True
                return
            super().shutdown()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.head_bytes = 0

        # on_url and on_header are uvicorn's own (0.54) plus the count: calling them through
        # super() would cost more than the count itself, once per header of every request.
        def on_url(self, url: bytes) -> None:
            self.head_bytes += len(url)
            if self.head_bytes > self.max_head:
                self._refuse()
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.head_bytes += len(name) + len(value) + 4  # ": " and CRLF
            if self.head_bytes > self.max_head:
                self._refuse()
            name = name.lower()
            if name == b"expect" and value.lower() == b"100-continue":
                self.expect_100_continue = True
            self.headers.append((name, value))

        def _refuse(self) -> None:
            self.head_refused = True
            self.logger = _Refusal(self.logger, self.max_head)  # type: ignore[assignment]
            raise _HeadTooLarge  # httptools stops; uvicorn calls send_400_response

        def send_400_response(self, msg: str) -> None:
            if not self.head_refused:
                super().send_400_response(msg)
                return
            self.transport.write(_refusal(self.max_head))
            self.transport.close()


class H11WithLimits(H11Protocol):
    """h11, answering podium's 431 instead of a bare 400 when the head is over the limit.

    h11 checks its buffer while a head is incomplete, so a head that arrives whole in one
    read (up to 256 KiB) passes; podium serves with httptools, which counts exactly.
    """

    def send_400_response(self, msg: str) -> None:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD
        if len(self.conn.trailing_data[0]) <= limit:
            super().send_400_response(msg)
            return
        self.transport.write(_refusal(limit))
        self.transport.close()


def uvicorn_options(max_header_bytes: int, access_log: bool) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` / ``uvicorn.run``: the protocol with the
    header limit, and logging (see :func:`log_config`)."""
    http = HttpToolsWithLimits if HttpToolsProtocol is not None else H11WithLimits
    return {
        "http": http,
        "h11_max_incomplete_event_size": max_header_bytes,
        "access_log": access_log,
        "log_config": log_config(),
        "log_level": None,
    }


def log_config() -> dict[str, Any]:
    """uvicorn's ``log_config``: its own text lines (warnings and up, and the access log
    with ``--access-log``), or with ``PODIUM_LOG_FORMAT=json`` every logger of the server
    process as JSON lines (:mod:`podium.core.logs`).

    A dict rather than ``log_level``: worker processes configure logging again from it, and
    the access log stays at INFO, where ``--access-log`` shows it.
    """
    if log_format() == "json":
        level = log_level()
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"json": {"()": "podium.core.logs.json_handler"}},
            "root": {"handlers": ["json"], "level": "WARNING"},
            "loggers": {
                "podium": {"level": "INFO" if level is None else level},
                "uvicorn": {"level": "WARNING"},
                "uvicorn.error": {"level": "WARNING"},
                "uvicorn.access": {"level": "INFO"},
            },
        }
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    return config
