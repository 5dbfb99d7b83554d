"""The control API's FastAPI app: routers, errors as JSON, tokens, request ids.

Handlers are thin: each calls one :class:`podium.Client` method, so the API, the CLI and
the Python client cannot drift apart. Errors leave as ``{"error", "type", "hint"}`` with
the status of :func:`podium.core.errors.http_status`; the remote client raises them again
as the same exception class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from podium._version import __version__
from podium.api import approvals, dashboard, deployments, governance, models, pipelines, session
from podium.api.roles import API_PREFIX, route_role
from podium.auth import Authenticator, Guard, scope_header
from podium.client import Client
from podium.core.context import actor_var, request_id_var, role_var
from podium.core.errors import (
    MalformedRequestError,
    NotFoundError,
    PermissionDeniedError,
    PodiumError,
    ValidationError,
    http_status,
)
from podium.serving.app import request_id_of
from podium.serving.docs import add_offline_docs
from podium.workspace import Workspace

__all__ = ["API_PREFIX", "ControlApp", "create_control_app"]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class ControlApp(FastAPI):
    """The control API app; ``guard`` checks tokens when auth is on (as on model servers)."""

    guard: Guard | None = None


class ErrorBody(BaseModel):
    """Every refusal: the message, the error class (the remote client raises it again), how
    to fix it, and whatever else the class carries (a field, a role, a limit)."""

    model_config = ConfigDict(extra="allow")
    error: str
    type: str
    hint: str | None = None
    request_id: str | None = None


REFUSED = {
    "model": ErrorBody,
    "description": "Refused: the JSON body says what was wrong and how to fix it.",
}


def create_control_app(
    workspace: Workspace | None = None,
    *,
    auth: bool = False,
    secure_cookies: bool | None = None,
) -> ControlApp:
    """The control API over ``workspace`` (default: the current one).

    With ``auth``, every route but ``/openapi.json`` and ``/api/v1/health`` needs a bearer
    token (or the dashboard's session cookie) whose role meets
    :func:`podium.api.roles.route_role`; the token's name becomes the actor of the audit
    records the request writes. ``secure_cookies`` marks the session cookie Secure (None:
    unless the server listens on loopback).
    """
    ws = workspace or Workspace.current()
    app = ControlApp(
        title="podium control API",
        version=__version__,
        description="Runs, schedules, data, models, deployments, traffic, flags, monitoring, "
        "audit, lineage, tokens and approvals: what the `podium` CLI does, over HTTP.",
        docs_url=None,
        redoc_url=None,
        responses={"4XX": REFUSED},
    )
    app.state.client = Client(workspace=ws)
    app.state.secure_cookies = secure_cookies
    authenticator = Authenticator(ws.store.tokens)
    app.guard = Guard(authenticator, route_role, cookie=session.COOKIE) if auth else None
    routers = (models, pipelines, deployments, governance, approvals, session, dashboard)
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the server answers (no token needed)."""
        return {"status": "ok", "version": __version__}

    app.add_exception_handler(PodiumError, _podium_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    add_offline_docs(app, "podium control API")
    inner = app.build_middleware_stack

    def build() -> ASGIApp:  # the guard and the context wrap everything, docs included
        return _with_context(app, inner())

    app.build_middleware_stack = build  # type: ignore[method-assign]
    return app


def _with_context(app: ControlApp, downstream: ASGIApp) -> ASGIApp:
    """Admit the request (tokens), then run it with its request id, actor and role set, so
    audit records and log lines carry them; answer with ``x-request-id``."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await downstream(scope, receive, send)
            return
        rid = _request_id(scope)
        guard = app.guard

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        if (refused := _cross_site(scope)) is not None:
            body = orjson.dumps({**refused.to_dict(), "request_id": rid})
            headers = [(b"content-type", b"application/json")]
            await send_with_id({"type": "http.response.start", "status": 403, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": body})
            return
        if guard is not None and not await guard.admit(scope, send_with_id):
            return
        token = scope.get("state", {}).get("token")
        reset = [request_id_var.set(rid)]
        if token is not None:
            reset += [actor_var.set(token.name), role_var.set(token.role.label)]
        elif guard is None and (actor := scope_header(scope, b"x-podium-actor")):
            # Without auth nobody is checked, so the caller's own name is as good as any
            # (the remote client sends it: audit records read as they would locally).
            reset.append(actor_var.set(actor[:128]))
        try:
            await downstream(scope, receive, send_with_id)
        finally:
            for r in reversed(reset):
                r.var.reset(r)

    return asgi


def _cross_site(scope: Any) -> PodiumError | None:
    """A change a browser sends from another site's page (its ``Origin`` is not this
    server): refused, whether auth is on or off, so no page on the web can promote a
    deployment through a dashboard open on loopback. Non-browser clients send no Origin."""
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = scope_header(scope, b"origin")
    host = scope_header(scope, b"host")
    if origin is None or (host is not None and origin.split("://", 1)[-1] == host):
        return None
    return PermissionDeniedError(
        f"Refused a {scope['method']} from the page of {origin[:200]!r}: changes are taken "
        f"from this server's own pages only (host {host!r}).",
        required_role="operator",
        hint="Use the dashboard served by this server, the CLI or the API without an Origin.",
    )


def _request_id(scope: Any) -> str:
    return request_id_of(Request(scope))


async def _podium_error(request: Request, exc: Exception) -> Response:
    body = cast(PodiumError, exc).to_dict()  # registered for PodiumError only
    body["request_id"] = request_id_var.get()
    return JSONResponse(body, status_code=http_status(cast(PodiumError, exc)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 in podium's shape: the first wrong field named, with a hint."""
    errors = cast(RequestValidationError, exc).errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        err: PodiumError = MalformedRequestError(
            f"The request body is not valid JSON: {first.get('msg')}.",
            hint="Send a JSON object with Content-Type: application/json.",
        )
    else:
        err = ValidationError(
            f"Invalid {first.get('loc', ['request'])[0]} field {field!r}: {first.get('msg')}."
            if field
            else f"Invalid request: {first.get('msg')}.",
            field=field,
            hint="See the request schema at /docs.",
        )
    return await _podium_error(request, err)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing's own refusals (no such route, method not allowed) in podium's shape."""
    http = cast(StarletteHTTPException, exc)
    if http.status_code == 404:
        err: PodiumError = NotFoundError(
            f"No route {request.method} {request.url.path}.",
            hint="See the routes at /docs (names with '/' or only dots are refused).",
        )
        return await _podium_error(request, err)
    body = {"error": str(http.detail), "type": "HTTPError", "request_id": request_id_var.get()}
    headers = dict(http.headers or {})
    if http.status_code == 405:  # Starlette's Allow names the methods of one route only
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        headers["Allow"] = ", ".join(_allowed(request))
    return JSONResponse(body, status_code=http.status_code, headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method that some route answers at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods)
