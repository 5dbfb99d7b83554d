"""The ASGI data plane: OIP v2, ``/predict``, SageMaker ``/invocations``, ``/metrics``.

Handlers take the raw request and answer with orjson bytes: the signature's compiled
validator does the checking (field-level 4xx), so no per-request pydantic model is built.
Every error a client can cause maps to a 4xx through :func:`podium.core.errors.http_status`.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

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
from podium.serving.docs import add_offline_docs
from podium.serving.limits import RateLimit, RateLimiter
from podium.serving.metrics import ServingMetrics

if TYPE_CHECKING:
    from podium.auth import Guard

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Request ids: a random per-process prefix and a counter, unique across workers and
# restarts, and ten times cheaper than uuid4 on the hot path.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
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
    if given and _REQUEST_ID.match(given):
        return given
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(int(length), limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body has {size} bytes, over the limit of {limit} (max_body_bytes).",
        field="body",
        hint="Split the batch, or raise PODIUM_MAX_BODY_BYTES on the server.",
        limit=("max_body_bytes", limit),
    )


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
        request: Request,
        protocol: str,
        run: Callable[[Request, bytes, str], Awaitable[tuple[Predictor, Any, int]]],
    ) -> Response:
        """Read the body, let ``run`` decode and answer, and record metrics either way."""
        t0 = time.perf_counter()
        rid = request_id_of(request)
        request_id_var.set(rid)  # for log records (the request runs in a task of its own)
        span = None if self.tracer.active() is None else self._start_span(request, protocol)
        predictor = self.default
        self.arriving += 1
        request.state.arriving = True
        try:
            if self.rate_limiter is not None:
                self.rate_limiter.admit(request.scope, request.headers)
            body = await read_body(request, self.limits.max_body_bytes)
            request.state.request_id = rid
            predictor, payload, rows = await run(request, body, rid)
            code = 200
            extra = self.decorate(request, payload, rid)
            response = json_response(payload, 200, rid)
            response.raw_headers.append(flavor_header(predictor.runtime))
            if extra:
                response.headers.update(extra)
        except PodiumError as exc:
            code = http_status(exc)
            response = error_response(exc, rid)
            rows = 0
            self.failed(request, rid, code)
        except Exception as exc:  # the model itself failed: a real server error
            code = 500
            self.failed(request, rid, code)
            err = PodiumError(
                f"The model failed to predict: {type(exc).__name__}: {exc}.",
                hint="Check the model against its input example with podium.load(...).",
            )
            response = error_response(err, rid)
            rows = 0
        finally:  # also when the client goes away mid-request
            self._arrived(request)
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
            self._end_span(request, span, predictor, rows, code)
        return response

    # -- OpenTelemetry (only with a tracer provider configured: see podium.core.tracing) --
    def _start_span(self, request: Request, protocol: str) -> Any:
        route = _SPAN_ROUTES[protocol]
        if protocol == "v2" and "version" in request.path_params:
            route = "/v2/models/{name}/versions/{version}/infer"
        span = self.tracer.start(
            f"POST {route}",
            headers=request.headers,
            server=True,
            attributes={"http.request.method": "POST", "http.route": route},
        )
        request.state.otel_token = tracing.activate(span)  # spans of the model nest inside
        return span

    def _end_span(
        self, request: Request, span: Any, predictor: Predictor, rows: int, code: int
    ) -> None:
        tracing.deactivate(request.state.otel_token)
        route = getattr(request.state, "route", None)  # a deployment's variant
        tracing.finish(
            span,
            {
                "podium.model": predictor.name,
                "podium.model.version": predictor.version_number,
                "podium.flavor": predictor.runtime,
                "podium.variant": getattr(route, "variant", None),
                "podium.rows": rows,
                "podium.request_id": request_id_var.get(),
                "http.response.status_code": code,
            },
            error=f"HTTP {code}" if code >= 500 else None,
        )

    def select(
        self, request: Request, name: str | None, version: str | None, record: Any
    ) -> Predictor:
        """The predictor that answers this request (a deployment routes here)."""
        return self.default if name is None else self.find(name, version)

    def failed(self, request: Request, request_id: str, code: int) -> None:
        """A request that got an error (a deployment logs it against its variant)."""

    def decorate(self, request: Request, payload: Any, request_id: str) -> dict[str, str] | None:
        """Add to a successful answer; return extra headers (a deployment names its variant)."""
        return None

    def _arrived(self, request: Request | None) -> None:
        if request is not None and getattr(request.state, "arriving", False):
            request.state.arriving = False
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
        self, predictor: Predictor, x: Any, request: Request | None = None
    ) -> tuple[list[Any], Any]:
        self._arrived(request)
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


Handler = Callable[[Request], Awaitable[Response]]
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

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        guard = self.guard
        if guard is not None and scope["type"] == "http" and not await guard.admit(scope, send):
            return  # refused: the guard sent the 401/403
        if scope["type"] == "http" and scope["method"] == "POST":
            path = _route_path(scope)
            handler = self.fast_posts.get(path)
            if handler is None and self.fast_infer is not None:
                params = _infer_params(path)
                if params is not None:
                    scope["path_params"] = params
                    handler = self.fast_infer
            if handler is not None:
                scope["app"] = self
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
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
    async def _oip(request: Request, name: str, version: str | None) -> Response:
        async def run(req: Request, body: bytes, rid: str) -> tuple[Predictor, Any, int]:
            if "inference-header-content-length" in req.headers:
                raise MalformedRequestError(
                    "Binary tensor data (the OIP binary data extension) is not supported: send "
                    "JSON tensors (binary_data=False in tritonclient's set_data_from_numpy).",
                    field="inputs",
                )
            parsed = parse_json(body)
            predictor = server.select(req, name, version, None)
            x, wanted, given_id = codecs.decode_oip(predictor, parsed)
            labels, proba = await server.infer(predictor, x, req)
            return (
                predictor,
                codecs.encode_oip(predictor, labels, proba, wanted, given_id or rid),
                len(labels),
            )

        return await server.predict(request, "v2", run)

    # Path parameters are read from the request, not declared: FastAPI would validate them
    # through pydantic on every call. The OpenAPI document still lists them.
    @app.post(
        "/v2/models/{name}/infer", tags=["oip"], openapi_extra=docs.oip_infer(versioned=False)
    )
    async def infer(request: Request) -> Response:
        return await _oip(request, request.path_params["name"], None)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        tags=["oip"],
        openapi_extra=docs.oip_infer(versioned=True),
    )
    async def infer_version(request: Request) -> Response:
        params = request.path_params
        return await _oip(request, params["name"], params["version"])

    async def fast_infer(request: Request) -> Response:
        params = request.path_params
        return await _oip(request, params["name"], params.get("version"))

    app.fast_infer = fast_infer

    # -- JSON records -----------------------------------------------------------------------
    @app.post("/predict", tags=["predict"], openapi_extra=docs.PREDICT)
    async def predict(request: Request) -> Response:
        async def run(req: Request, body: bytes, rid: str) -> tuple[Predictor, Any, int]:
            parsed = parse_json(body)
            predictor = server.select(req, None, None, codecs.first_record(parsed))
            x = codecs.decode_records(predictor, parsed)
            labels, proba = await server.infer(predictor, x, req)
            return predictor, codecs.encode_predict(predictor, labels, proba, rid), len(labels)

        return await server.predict(request, "predict", run)

    app.fast_posts["/predict"] = predict

    # -- SageMaker contract ------------------------------------------------------------------
    @app.get("/ping", tags=["sagemaker"])
    async def ping() -> Response:
        return Response(b"", status_code=200)

    @app.post("/invocations", tags=["sagemaker"], openapi_extra=docs.INVOCATIONS)
    async def invocations(request: Request) -> Response:
        async def run(req: Request, body: bytes, rid: str) -> tuple[Predictor, Any, int]:
            predictor = server.select(req, None, None, None)
            ctype = req.headers.get("content-type", JSON).split(";")[0].strip().lower()
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
            labels, proba = await server.infer(predictor, x, req)
            out: dict[str, Any] = {"predictions": labels}
            if proba is not None:
                out["probabilities"] = proba
                out["classes"] = predictor.classes
            return predictor, out, len(labels)

        return await server.predict(request, "invocations", run)

    app.fast_posts["/invocations"] = invocations

    # -- Prometheus -----------------------------------------------------------------------------
    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
