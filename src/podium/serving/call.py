"""One prediction request on the raw ASGI interface, without Starlette's Request/Response.

A single-row prediction with the ONNX fast path costs about as much as the HTTP stack
itself, so the objects a framework builds per request (Request, Headers, State, Response,
its header list) are a large share of it. A :class:`Call` holds the scope and what the
prediction path records about the request; headers are parsed only when something asks.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from podium.core.errors import PayloadTooLargeError

if TYPE_CHECKING:
    from podium.registry import Predictor
    from podium.serving.router import Route

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
# What a prediction handler answers: status, JSON body, extra raw headers.
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Request ids: a random per-process prefix and a counter, unique across workers and
# restarts, and ten times cheaper than uuid4 on the hot path.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
JSON_TYPE = (b"content-type", b"application/json")


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"


def valid_request_id(given: str | None) -> bool:
    return bool(given and _REQUEST_ID.match(given))


class Call:
    """A prediction request: its scope, and what routing and logging record on the way."""

    __slots__ = (
        "_headers",
        "_length",
        "arriving",
        "binary_tensors",
        "lane",
        "otel_token",
        "path_params",
        "predictor",
        "receive",
        "request_id",
        "route",
        "scope",
        "version",
    )

    def __init__(self, scope: MutableMapping[str, Any], receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.path_params: dict[str, str] = scope.get("path_params") or {}
        self.predictor: Predictor | None = None  # the model chosen to answer
        self.route: Route | None = None  # a deployment's variant
        self.version = ""  # the chosen model version's URI (a deployment reports it)
        self.arriving = False  # counted in the server's requests-being-read
        self.otel_token: Any = None
        self.lane: Any = None  # the fast lane answering it (podium.serving.lane), if any
        self._headers: Headers | None = None
        # The two headers every request needs, found in one pass over the raw list.
        length: bytes | None = None
        given: bytes | None = None
        binary = False
        for key, value in scope["headers"]:
            if key == b"content-length":
                length = value
            elif key == b"x-request-id":
                given = value
            elif key == b"inference-header-content-length":
                binary = True  # the OIP binary tensor extension (refused with a 400)
        self._length = length
        self.binary_tensors = binary
        rid = given.decode("latin-1") if given is not None else None
        self.request_id = rid if rid is not None and valid_request_id(rid) else new_request_id()

    @property
    def headers(self) -> Headers:
        """Case-insensitive headers (built on first use: most requests never need them)."""
        h = self._headers
        if h is None:
            h = self._headers = Headers(scope=self.scope)
        return h

    async def body(self, limit: int) -> bytes:
        """The request body, refused with 413 past ``limit`` bytes (declared or received)."""
        length = self._length
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_large(int(length), limit)
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise too_large(len(body), limit)
            return body
        chunks = [body]
        size = len(body)
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(size, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body has {size} bytes, over the limit of {limit} (max_body_bytes).",
        field="body",
        hint="Split the batch, or raise PODIUM_MAX_BODY_BYTES on the server.",
        limit=("max_body_bytes", limit),
    )


async def send_answer(send: Send, request_id: str, answer: Answer) -> None:
    """Send a JSON answer with its length, request id and extra headers, in two messages."""
    status, body, extra = answer
    headers = [
        JSON_TYPE,
        (b"content-length", b"%d" % len(body)),
        (b"x-request-id", request_id.encode("latin-1")),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
