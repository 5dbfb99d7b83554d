"""The fast lane: small prediction requests answered from the HTTP protocol, in batches.

A one-row prediction with the ONNX fast path costs less than uvicorn's own per-request work
(scope, task, receive and send messages: about a third of a request's CPU), and each
request's model call is a cold, separate run of the graph. The lane takes a request whose
head and body have arrived (``POST /predict`` or v2 infer, with a content-length, keep-alive,
no ``Expect``) straight from the parser, and answers every request that arrived in the same
turn of the event loop with one model call, without waiting for anyone: a lone request is a
batch of one, answered on the next turn; under load a turn holds one request per busy
connection.

The prediction handlers are the same coroutines as on the ASGI path (same decoding, errors,
metrics and headers): the lane runs each until it asks for its model call, runs the calls
of the turn together (a failing batch is retried request by request, so one bad request
does not fail its neighbours), then finishes each. A handler that suspends on anything else
(a large request sent to a thread) is finished by an asyncio task, as on the ASGI path.

With tokens on, the guard admits each request first, as on the ASGI path (its refusals are
the answers). Requests the lane does not take (``--access-log``, chunked bodies, pipelining
behind a request in progress, everything but the prediction routes) go through uvicorn and
the ASGI app unchanged. ``PODIUM_FAST_LANE=0`` turns the lane off.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
from collections.abc import Coroutine
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from podium.serving.batching import concat_inputs
from podium.serving.call import JSON_TYPE, Answer, Call

if TYPE_CHECKING:
    from podium.registry import Predictor
    from podium.serving.app import Handler, ServingAPI

log = logging.getLogger("podium.serving")
ENV = "PODIUM_FAST_LANE"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class _Turn:
    """The model calls asked for in one turn of the loop: (predictor, input, future)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Predictor, Any, asyncio.Future[Any]]] = []

    def ask(self, predictor: Predictor, x: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.calls.append((predictor, x, future))
        return future

    def run(self, metrics: Any) -> None:
        """Every call of the turn, one model call per predictor."""
        groups: dict[int, list[tuple[Predictor, Any, asyncio.Future[Any]]]] = {}
        for call in self.calls:
            groups.setdefault(id(call[0]), []).append(call)
        for group in groups.values():
            predictor = group[0][0]
            if len(group) > 1:
                try:
                    labels, proba = predictor.infer(concat_inputs([x for _, x, _ in group]))
                except Exception:  # retried one by one below, each its own error
                    pass
                else:
                    start = 0
                    for _, x, future in group:
                        end = start + len(x)
                        future.set_result((labels[start:end], proba[start:end] if proba else proba))
                        start = end
                    _observe(metrics, predictor, start)
                    continue
            for _, x, future in group:
                try:
                    future.set_result(predictor.infer(x))
                except Exception as exc:  # the handler turns it into an answer
                    future.set_exception(exc)
                _observe(metrics, predictor, len(x))


def _observe(metrics: Any, predictor: Predictor, rows: int) -> None:
    metrics.batch_size.labels(predictor.name, str(predictor.version_number or "")).observe(rows)


class _Slot:
    """One request of a connection: answered in the order its connection sent them."""

    __slots__ = ("answer", "call", "context")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.answer: Answer | None = None
        self.context = contextvars.copy_context()  # its own request id for log records


class Lane:
    """Takes prediction requests from :class:`podium.serving.protocols.HttpToolsWithLimits`
    and answers them a turn at a time."""

    def __init__(self, api: ServingAPI) -> None:
        self.api = api
        self.server = api.state.server
        self.pending: list[tuple[Any, _Slot, Handler]] = []
        self.turn: _Turn | None = None
        self.max_body = self.server.limits.max_body_bytes
        self.max_rows = self.server.limits.threadpool_rows

    # -- the protocol's side ---------------------------------------------------------------
    def handler(self, proto: Any) -> Handler | None:
        """The handler of the request whose head ``proto`` just parsed, if the lane takes it."""
        if (
            proto.expect_100_continue
            or proto.access_log
            or proto.pipeline
            or (proto.cycle is not None and not proto.cycle.response_complete)
            or proto.parser.get_method() != b"POST"
            or proto.parser.get_http_version() != "1.1"
            or not proto.parser.should_keep_alive()
            or b"?" in proto.url
            or b"%" in proto.url
        ):
            return None
        length = None
        for name, value in proto.headers:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                return None
        if length is None or not length.isdigit() or int(length) > self.max_body:
            return None  # the ASGI path answers these as it always has
        try:
            path = proto.url.decode("ascii")
        except UnicodeDecodeError:
            return None
        scope = proto.scope
        found = self.api.lane_handler(path, scope)
        if found is None:
            return None
        scope["method"] = "POST"
        scope["path"] = path
        scope["raw_path"] = proto.url
        scope["query_string"] = b""
        if self.api.guard is not None:
            return functools.partial(self._guarded, found)
        return found

    async def _guarded(self, handler: Handler, call: Call) -> Answer:
        """``handler`` behind the server's tokens (podium.serving.auth): a refusal, sent by
        the guard as on the ASGI path, becomes the answer."""
        guard = self.api.guard
        assert guard is not None
        sent: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            sent.append(message)

        if await guard.admit(call.scope, capture):
            return await handler(call)
        start, body = sent[0], sent[1].get("body", b"")
        extra = [h for h in start.get("headers", []) if h[0] not in _OWN_HEADERS]
        return int(start["status"]), body, extra

    def arrive(self, proto: Any, handler: Handler, body: bytes) -> None:
        """A whole request: answered on the next turn of the loop, with its turn's others."""
        if not self.pending:
            proto.loop.call_soon(self.run)
        slot = _Slot(Call(proto.scope, _Body(body)))
        proto.lane_queue.append(slot)
        self.pending.append((proto, slot, handler))

    # -- a turn ----------------------------------------------------------------------------
    def run(self) -> None:
        pending, self.pending = self.pending, []
        turn = self.turn = _Turn()
        started: list[tuple[Any, _Slot, Coroutine[Any, Any, Answer], Any]] = []
        try:
            for proto, slot, handler in pending:
                slot.call.lane = self
                coro = handler(slot.call)
                yielded = self._step(proto, slot, coro)
                if yielded is not _DONE:
                    started.append((proto, slot, coro, yielded))
        finally:
            self.turn = None
        turn.run(self.server.metrics)
        asked = {id(future) for _, _, future in turn.calls}
        for proto, slot, coro, yielded in started:
            if id(yielded) in asked:
                yielded = self._step(proto, slot, coro)
                if yielded is _DONE:
                    continue
            # suspended on something else (a thread, a micro-batch): a task finishes it
            proto.loop.create_task(self._finish(proto, slot, coro, yielded), context=slot.context)

    def _step(self, proto: Any, slot: _Slot, coro: Coroutine[Any, Any, Answer]) -> Any:
        """Run the handler to its next suspension (returned), or to its answer (``_DONE``)."""
        try:
            return slot.context.run(coro.send, None)
        except StopIteration as done:
            self.answer(proto, slot, done.value)
        except Exception as exc:  # the handler's own bug: a 500
            self.answer(proto, slot, _failure(slot.call, exc))
        return _DONE

    def ask(self, predictor: Predictor, x: Any) -> asyncio.Future[Any] | None:
        """The future of a model call: joining this turn's, or on a thread of its own for a
        request of many rows (asyncio's executor: the handler runs outside any task, where
        anyio's thread pool cannot tell which event loop it is on). None outside a turn."""
        if self.turn is None:
            return None
        if len(x) > self.max_rows:
            call = functools.partial(contextvars.copy_context().run, predictor.infer, x)
            return asyncio.get_running_loop().run_in_executor(None, call)
        return self.turn.ask(predictor, x)

    async def _finish(
        self, proto: Any, slot: _Slot, coro: Coroutine[Any, Any, Answer], yielded: Any
    ) -> None:
        """Drive a handler that awaits something else to its end, as its own task would."""
        try:
            while True:
                if yielded is None:
                    await asyncio.sleep(0)
                else:
                    await asyncio.wait([yielded])
                yielded = coro.send(None)
        except StopIteration as done:
            self.answer(proto, slot, done.value)
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception as exc:
            self.answer(proto, slot, _failure(slot.call, exc))

    # -- answers, in each connection's order -----------------------------------------------
    def answer(self, proto: Any, slot: _Slot, answer: Answer) -> None:
        slot.answer = answer
        queue = proto.lane_queue
        while queue and queue[0].answer is not None:
            done = queue.popleft()
            assert done.answer is not None
            self._write(proto, done.call, done.answer)

    def _write(self, proto: Any, call: Call, answer: Answer) -> None:
        status, body, extra = answer
        transport = proto.transport
        if status != 499 and not transport.is_closing():  # 499: nobody to answer
            head = [_status_line(status)]
            for name, value in (
                *proto.server_state.default_headers,
                JSON_TYPE,
                (b"content-length", b"%d" % len(body)),
                (b"x-request-id", call.request_id.encode("latin-1")),
                *extra,
            ):
                head += [name, b": ", value, b"\r\n"]
            head += [b"\r\n", body]
            transport.write(b"".join(head))
        proto.lane_answered()


_DONE = object()
_OWN_HEADERS = (b"content-type", b"content-length")  # the lane writes these itself


def _failure(call: Call, exc: BaseException) -> Answer:
    log.error("A prediction handler failed", exc_info=exc)
    from podium.core.errors import PodiumError
    from podium.serving.app import error_answer

    return error_answer(PodiumError(f"The server failed: {type(exc).__name__}."), call.request_id)


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


class _Body:
    """``receive`` of a request whose body has arrived whole."""

    __slots__ = ("message",)

    def __init__(self, body: bytes) -> None:
        self.message = {"type": "http.request", "body": body, "more_body": False}

    async def __call__(self) -> dict[str, Any]:
        return self.message


def lane_of(app: Any) -> Lane | None:
    """The lane of the podium app under uvicorn's middleware, if it has one."""
    for _ in range(8):
        lane = getattr(app, "lane", None)
        if isinstance(lane, Lane):
            return lane
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None
