"""The ASGI data plane: OIP v2, ``/predict``, SageMaker ``/invocations``, ``/metrics``.

Handlers take the raw request and answer with orjson bytes: the signature's compiled
validator does the checking (field-level 4xx), so no per-request pydantic model is built.
Every error a client can cause maps to a 4xx through :func:`podium.core.errors.http_status`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from podium._version import __version__
from podium.core import tracing
from podium.core.context import request_id_var
from podium.core.errors import (
    ConfigError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PodiumError,
    RateLimitedError,
    ValidationError,
    http_status,
)
from podium.registry import Predictor
from podium.serving import codecs
from podium.serving import openapi as docs
from podium.serving.batching import Batching, MicroBatcher
from podium.serving.call import Answer, Call, new_request_id, send_answer, valid_request_id
from podium.serving.docs import add_offline_docs
from podium.serving.lane import Lane
from podium.serving.lane import enabled as lane_enabled
from podium.serving.limits import RateLimit, RateLimiter
from podium.serving.metrics import ServingMetrics

if TYPE_CHECKING:
    from podium.auth import Guard

JSON = "application/json"
# Which flavor answered a prediction (onnx, sklearn, ...): one prebuilt header per flavor.
FLAVOR_HEADER = b"x-podium-flavor"
_FLAVOR_HEADERS: dict[str, tuple[bytes, bytes]] = {}


def flavor_header(runtime: str) -> tuple[bytes, bytes]:
    """The raw ``X-Podium-Flavor`` header for ``runtime`` (built once per flavor)."""
    header = _FLAVOR_HEADERS.get(runtime)
    if header is None:
        header = _FLAVOR_HEADERS[runtime] = (FLAVOR_HEADER, runtime.encode("latin-1"))
    return header


@dataclass(frozen=True)
class Limits:
    """Request limits. Over one: 413 (body, rows), 431 (headers) or 429 (rate, with
    ``Retry-After``), with a JSON body naming the limit and its value.

    ``max_header_bytes`` bounds the request line plus headers; podium's servers (``podium
    serve``, :func:`start_in_thread`) enforce it in the HTTP protocol, before the app. The
    rate limit (off by default) applies per client to the prediction and feedback routes.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10_000
    max_header_bytes: int = 16 * 1024
    rate_limit: RateLimit | None = None
    # Batches above this many rows are predicted off the event loop so health checks and
    # small requests keep flowing; below it the thread hop costs more than it saves.
    threadpool_rows: int = 512

    @classmethod
    def from_env(cls) -> Limits:
        rate = os.environ.get("PODIUM_RATE_LIMIT", "").strip()
        burst = os.environ.get("PODIUM_RATE_BURST")
        return cls(
            max_body_bytes=_positive_env("PODIUM_MAX_BODY_BYTES", cls.max_body_bytes),
            max_rows=_positive_env("PODIUM_MAX_ROWS", cls.max_rows),
            max_header_bytes=_positive_env("PODIUM_MAX_HEADER_BYTES", cls.max_header_bytes),
            rate_limit=RateLimit.parse(
                rate, None if burst is None else _positive_env("PODIUM_RATE_BURST", 1)
            )
            if rate and rate.lower() != "off"
            else None,
        )


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"{name}={raw!r} is not a positive whole number.",
            hint=f"Unset it for the default ({default}), or set e.g. {name}={default}.",
        )
    return int(raw)


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def json_response(obj: Any, status: int = 200, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id else None
    return Response(_dumps(obj), status_code=status, media_type=JSON, headers=headers)


def error_response(error: PodiumError, request_id: str | None) -> Response:
    body = error.to_dict()
    if request_id:
        body["request_id"] = request_id
    response = json_response(body, http_status(error), request_id)
    if isinstance(error, RateLimitedError):
        response.headers["retry-after"] = str(int(error.retry_after))
    return response


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id")
    return given if given is not None and valid_request_id(given) else new_request_id()


async def read_body(request: Request, limit: int) -> bytes:
    """The body of a Starlette request (the routes off the prediction path)."""
    return await Call(request.scope, request.receive).body(limit)


def error_answer(error: PodiumError, request_id: str) -> Answer:
    """An error as a prediction handler answers it: status, JSON body, extra headers."""
    body = error.to_dict()
    body["request_id"] = request_id
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(error, RateLimitedError):
        extra.append((b"retry-after", b"%d" % int(error.retry_after)))
    return http_status(error), _dumps(body), extra


def answer_response(request_id: str, answer: Answer) -> Response:
    """An answer as a Starlette response (for callers that need one)."""
    status, body, extra = answer
    response = Response(body, status_code=status, media_type=JSON)
    response.headers["x-request-id"] = request_id
    response.raw_headers.extend(extra)
    return response


def parse_json(body: bytes) -> Any:
    if not body:
        raise MalformedRequestError("The request body is empty; expected JSON.", field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequestError(
            f"The request body is not valid JSON: {exc}.", field="body"
        ) from None


class ModelServer:
    """The models one server answers for, and the shared work of every predict route."""

    def __init__(
        self, predictors: list[Predictor], limits: Limits, batching: Batching | None = None
    ) -> None:
        if not predictors:
            raise ValidationError("A server needs at least one model.", field="models")
        self.predictors = {p.name: p for p in predictors}
        self.default = predictors[0]
        self.limits = limits
        self.metrics = ServingMetrics()
        self.batching = batching
        self.batchers: dict[int, MicroBatcher] = {}  # by id(predictor)
        self.arriving = 0  # requests being read and decoded, not yet at the model
        self.rate_limiter = RateLimiter(limits.rate_limit) if limits.rate_limit else None
        self.tracer = tracing.Tracer("podium.serving", __version__)
        for p in predictors:
            self.metrics.ready.labels(p.name, str(p.version_number or "")).set(1)

    def find(self, name: str, version: str | None = None) -> Predictor:
        p = self.predictors.get(name)
        if p is None:
            raise NotFoundError(
                f"This server has no model {name!r}; it serves: {', '.join(self.predictors)}.",
                hint="GET /v2/models/NAME for each name listed.",
            )
        if version is not None and version != str(p.version_number):
            raise NotFoundError(
                f"Model {name!r} is served at version {p.version_number}, not {version!r}.",
                hint=f"Use /v2/models/{name}/infer for the version being served.",
            )
        return p

    async def predict(
        self,
        call: Call,
        protocol: str,
        run: Callable[[Call, bytes], Awaitable[tuple[Predictor, Any, int]]],
    ) -> Answer:
        """Read the body, let ``run`` decode and answer, and record metrics either way."""
        t0 = time.perf_counter()
        rid = call.request_id
        request_id_var.set(rid)  # for log records (the request runs in a task of its own)
        span = None if self.tracer.active() is None else self._start_span(call, protocol)
        self.arriving += 1
        call.arriving = True
        extra: list[tuple[bytes, bytes]]
        try:
            if self.rate_limiter is not None:
                self.rate_limiter.admit(call.scope, call.headers)
            body = await call.body(self.limits.max_body_bytes)
            predictor, payload, rows = await run(call, body)
            code = 200
            extra = self.decorate(call, payload)
            extra.append(flavor_header(predictor.runtime))
            out = _dumps(payload)
        except PodiumError as exc:
            code, out, extra = error_answer(exc, rid)
            rows = 0
            self.failed(call, code)
        except ClientDisconnect:
            code, out, extra = 499, b"", []  # nobody to answer; counted, never sent
            rows = 0
        except Exception as exc:  # the model itself failed: a real server error
            err = PodiumError(
                f"The model failed to predict: {type(exc).__name__}: {exc}.",
                hint="Check the model against its input example with podium.load(...).",
            )
            code, out, extra = error_answer(err, rid)
            rows = 0
            self.failed(call, code)
        finally:  # also when the client goes away mid-request
            self._arrived(call)
        predictor = call.predictor or self.default
        if code != 200 and call.predictor is not None:  # the model was chosen, then refused
            extra.append(flavor_header(predictor.runtime))
        self.metrics.observe(
            predictor.name,
            str(predictor.version_number or ""),
            protocol,
            code,
            time.perf_counter() - t0,
            rows,
            predictor.runtime,
        )
        if span is not None:
            self._end_span(call, span, predictor, rows, code)
        return code, out, extra

    # -- OpenTelemetry (only with a tracer provider configured: see podium.core.tracing) --
    def _start_span(self, call: Call, protocol: str) -> Any:
        route = _SPAN_ROUTES[protocol]
        if protocol == "v2" and "version" in call.path_params:
            route = "/v2/models/{name}/versions/{version}/infer"
        span = self.tracer.start(
            f"POST {route}",
            headers=call.headers,
            server=True,
            attributes={"http.request.method": "POST", "http.route": route},
        )
        call.otel_token = tracing.activate(span)  # spans of the model nest inside
        return span

    def _end_span(self, call: Call, span: Any, predictor: Predictor, rows: int, code: int) -> None:
        tracing.deactivate(call.otel_token)
        tracing.finish(
            span,
            {
                "podium.model": predictor.name,
                "podium.model.version": predictor.version_number,
                "podium.flavor": predictor.runtime,
                "podium.variant": call.route.variant if call.route else None,
                "podium.rows": rows,
                "podium.request_id": request_id_var.get(),
                "http.response.status_code": code,
            },
            error=f"HTTP {code}" if code >= 500 else None,
        )

    def select(self, call: Call, name: str | None, version: str | None, record: Any) -> Predictor:
        """The predictor that answers this request (a deployment routes here); recorded on
        the call so its metrics and flavor header name it, whatever happens next."""
        predictor = call.predictor = self.default if name is None else self.find(name, version)
        return predictor

    def failed(self, call: Call, code: int) -> None:
        """A request that got an error (a deployment logs it against its variant)."""

    def decorate(self, call: Call, payload: Any) -> list[tuple[bytes, bytes]]:
        """Add to a successful answer; return extra raw headers (a deployment names its
        variant)."""
        return []

    def _arrived(self, call: Call | None) -> None:
        if call is not None and call.arriving:
            call.arriving = False
            self.arriving -= 1

    def batcher(self, predictor: Predictor) -> MicroBatcher | None:
        if self.batching is None:
            return None
        b = self.batchers.get(id(predictor))
        if b is None or b.predictor is not predictor:
            b = MicroBatcher(predictor, self.batching, self.metrics, lambda: self.arriving)
            self.batchers = {
                **{k: v for k, v in self.batchers.items() if v.predictor is not predictor},
                id(predictor): b,
            }
        return b

    async def infer(
        self, predictor: Predictor, x: Any, call: Call | None = None
    ) -> tuple[list[Any], Any]:
        self._arrived(call)
        rows = len(x)
        if rows > self.limits.max_rows:
            raise PayloadTooLargeError(
                f"The request has {rows} rows, over the limit of {self.limits.max_rows} "
                "(max_rows).",
                field="rows",
                hint="Split the batch, or raise PODIUM_MAX_ROWS on the server.",
                limit=("max_rows", self.limits.max_rows),
            )
        try:
            lane = call.lane if call is not None and self.batching is None else None
            if lane is not None:  # joins the model call of its turn (podium.serving.lane)
                asked = lane.ask(predictor, x)
                if asked is not None:
                    return await asked  # type: ignore[no-any-return]
            batcher = self.batcher(predictor)
            if batcher is not None and rows < batcher.batching.max_batch:
                return await batcher.infer(x)
            if rows > self.limits.threadpool_rows:
                return await run_in_threadpool(predictor.infer, x)
            return predictor.infer(x)
        except (ValueError, TypeError) as exc:
            # Input that passed the signature but that the model refuses (an unseen
            # category, a value its preprocessing cannot take) is the client's to fix.
            raise ValidationError(
                f"The model rejected the input: {exc}",
                field="input",
                hint="Send values like those the model was trained on.",
            ) from None


def create_app(
    predictors: Predictor | list[Predictor],
    *,
    limits: Limits | None = None,
    batching: Batching | None = None,
) -> FastAPI:
    """The ASGI app serving ``predictors``; mountable inside another FastAPI/Starlette app.

    >>> app = create_app(podium.load("models:/churn@champion"))  # doctest: +SKIP
    >>> parent.mount("/churn", app)  # doctest: +SKIP
    """
    plist = predictors if isinstance(predictors, list) else [predictors]
    return build_app(
        ModelServer(plist, limits or Limits.from_env(), batching or Batching.from_env())
    )


Handler = Callable[[Call], Coroutine[Any, Any, Answer]]
_SPAN_ROUTES = {
    "v2": "/v2/models/{name}/infer",
    "predict": "/predict",
    "invocations": "/invocations",
}


class ServingAPI(FastAPI):
    """FastAPI with a lean path for the prediction routes.

    A prediction POST goes straight to its handler: FastAPI's middleware stack, routing and
    dependency solving cost more per request than decoding, validating and encoding a row
    together. The handlers catch every error themselves, so nothing the stack would add is
    lost; every other route, and the OpenAPI document, are FastAPI's as usual.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_posts: dict[str, Handler] = {}  # exact path -> handler
        self.fast_infer: Handler | None = None  # /v2/models/{name}[/versions/{v}]/infer
        # Tokens and roles (podium.serving.auth.protect); checked before any route, fast or not.
        self.guard: Guard | None = None
        self.lane: Lane | None = None  # set by build_app (podium.serving.lane)

    def lane_handler(self, path: str, scope: Any) -> Handler | None:
        """The prediction handler of a POST to ``path`` (v2's name and version go to the
        scope's path parameters), or None for every other route."""
        handler = self.fast_posts.get(path)
        if handler is None and self.fast_infer is not None:
            params = _infer_params(path)
            if params is not None:
                scope["path_params"] = params
                handler = self.fast_infer
        return handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        guard = self.guard
        if guard is not None and scope["type"] == "http" and not await guard.admit(scope, send):
            return  # refused: the guard sent the 401/403
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.lane_handler(_route_path(scope), scope)
            if handler is not None:
                call = Call(scope, receive)
                await send_answer(send, call.request_id, await handler(call))
                return
        await super().__call__(scope, receive, send)


def _route_path(scope: Any) -> str:
    """The path below where the app is mounted (as Starlette's routing sees it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _infer_params(path: str) -> dict[str, str] | None:
    """``{"name": ...}`` (and ``"version"``) of an OIP v2 infer path, else None."""
    parts = path.split("/")
    if len(parts) == 5 and parts[:3] == ["", "v2", "models"] and parts[4] == "infer":
        return {"name": parts[3]} if parts[3] else None
    if (
        len(parts) == 7
        and parts[:3] == ["", "v2", "models"]
        and parts[4] == "versions"
        and parts[6] == "infer"
        and parts[3]
        and parts[5]
    ):
        return {"name": parts[3], "version": parts[5]}
    return None


def _telemetry_off() -> dict[str, Any]:
    """FastAPI's built-in OpenTelemetry checks its providers on every request; podium has its
    own Prometheus metrics, so it is off unless PODIUM_OTEL=1 (and FastAPI offers it)."""
    import inspect

    if os.environ.get("PODIUM_OTEL") == "1":
        return {}
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _finish_openapi(app: FastAPI) -> None:
    """The document FastAPI generates, completed once by :func:`docs.finish`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = docs.finish(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_app(server: ModelServer, lifespan: Any = None) -> FastAPI:
    """The FastAPI app around ``server`` (a model server or a deployment server)."""
    app = ServingAPI(
        **_telemetry_off(),
        lifespan=lifespan,
        title="podium model server",
        version=__version__,
        description="Open Inference Protocol v2, /predict and the SageMaker contract.",
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(app, "podium model server")
    app.state.server = server
    _finish_openapi(app)

    # -- health and metadata ---------------------------------------------------------------
    @app.get("/v2", tags=["oip"])
    async def server_metadata() -> Response:
        return json_response({"name": "podium", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", tags=["oip"])
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready", tags=["oip"])
    async def ready() -> Response:
        return json_response({"ready": True})

    @app.get("/v2/models/{name}", tags=["oip"])
    @app.get("/v2/models/{name}/versions/{version}", tags=["oip"])
    async def model_metadata(request: Request, name: str, version: str | None = None) -> Response:
        try:
            return json_response(codecs.oip_metadata(server.find(name, version)))
        except PodiumError as exc:
            return error_response(exc, request_id_of(request))

    @app.get("/v2/models/{name}/ready", tags=["oip"])
    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["oip"])
    async def model_ready(request: Request, name: str, version: str | None = None) -> Response:
        try:
            server.find(name, version)
        except PodiumError as exc:
            return error_response(exc, request_id_of(request))
        return json_response({"name": name, "ready": True})

    # -- Open Inference Protocol v2 ----------------------------------------------------------
    # Prediction routes answer from a Call on the raw ASGI interface (ServingAPI.__call__);
    # the FastAPI routes below declare them for the OpenAPI document and answer the same way.
    async def oip(call: Call) -> Answer:
        params = call.path_params
        name, version = params["name"], params.get("version")

        async def run(call: Call, body: bytes) -> tuple[Predictor, Any, int]:
            if call.binary_tensors:
                raise MalformedRequestError(
                    "Binary tensor data (the OIP binary data extension) is not supported: "
                    "send JSON tensors (binary_data=False in tritonclient's "
                    "set_data_from_numpy).",
                    field="inputs",
                )
            parsed = parse_json(body)
            predictor = server.select(call, name, version, None)
            x, wanted, given_id = codecs.decode_oip(predictor, parsed)
            labels, proba = await server.infer(predictor, x, call)
            return (
                predictor,
                codecs.encode_oip(predictor, labels, proba, wanted, given_id or call.request_id),
                len(labels),
            )

        return await server.predict(call, "v2", run)

    async def predict(call: Call) -> Answer:
        async def run(call: Call, body: bytes) -> tuple[Predictor, Any, int]:
            parsed = parse_json(body)
            predictor = server.select(call, None, None, codecs.first_record(parsed))
            x = codecs.decode_records(predictor, parsed)
            labels, proba = await server.infer(predictor, x, call)
            return (
                predictor,
                codecs.encode_predict(predictor, labels, proba, call.request_id),
                len(labels),
            )

        return await server.predict(call, "predict", run)

    async def invocations(call: Call) -> Answer:
        async def run(call: Call, body: bytes) -> tuple[Predictor, Any, int]:
            predictor = server.select(call, None, None, None)
            ctype = call.headers.get("content-type", JSON).split(";")[0].strip().lower()
            if ctype == "text/csv":
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise MalformedRequestError(
                        "The CSV body is not UTF-8.", field="body"
                    ) from None
                x = codecs.decode_csv(predictor, text)
            elif ctype in (JSON, "application/x-json", ""):
                x = codecs.decode_invocations(predictor, parse_json(body))
            else:
                raise MalformedRequestError(
                    f"Unsupported content type {ctype!r}.",
                    field="content-type",
                    hint="Send application/json or text/csv.",
                )
            labels, proba = await server.infer(predictor, x, call)
            out: dict[str, Any] = {"predictions": labels}
            if proba is not None:
                out["probabilities"] = proba
                out["classes"] = predictor.classes
            return predictor, out, len(labels)

        return await server.predict(call, "invocations", run)

    app.fast_infer = oip
    app.fast_posts["/predict"] = predict
    app.fast_posts["/invocations"] = invocations
    app.lane = Lane(app) if lane_enabled() else None

    def declared(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            call = Call(request.scope, request.receive)
            return answer_response(call.request_id, await handler(call))

        return route

    # Path parameters are read from the scope, not declared: FastAPI would validate them
    # through pydantic on every call. The OpenAPI document still lists them.
    app.post(
        "/v2/models/{name}/infer",
        name="infer",
        tags=["oip"],
        openapi_extra=docs.oip_infer(versioned=False),
    )(declared(oip))
    app.post(
        "/v2/models/{name}/versions/{version}/infer",
        name="infer_version",
        tags=["oip"],
        openapi_extra=docs.oip_infer(versioned=True),
    )(declared(oip))
    app.post("/predict", name="predict", tags=["predict"], openapi_extra=docs.PREDICT)(
        declared(predict)
    )
    app.post(
        "/invocations", name="invocations", tags=["sagemaker"], openapi_extra=docs.INVOCATIONS
    )(declared(invocations))

    # -- SageMaker health ------------------------------------------------------------------
    @app.get("/ping", tags=["sagemaker"])
    async def ping() -> Response:
        return Response(b"", status_code=200)

    # -- Prometheus -----------------------------------------------------------------------------
    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
