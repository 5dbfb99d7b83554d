"""Signing in to the web dashboard: a token, kept by the browser in an HttpOnly cookie.

``POST /session`` checks a token and sets it as the ``podium_session`` cookie (HttpOnly, so
page scripts never read it; SameSite=Strict, so other sites never send it; Secure unless
the server listens on loopback or was started ``--insecure``). The guard accepts that
cookie like a bearer header; changes made with it also need the ``x-podium-csrf`` header.
``GET /session`` says who is signed in and whether tokens are required at all;
``DELETE /session`` signs out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from podium.api.deps import Body
from podium.auth import TokenInfo
from podium.core.errors import AuthenticationError
from podium.serving.server import is_loopback

router = APIRouter(tags=["session"])
COOKIE = "podium_session"
MAX_AGE_S = 12 * 3600  # a browser forgets the token after a working day


class SignIn(Body):
    token: str = Field(min_length=1, max_length=200, description="An API token, pod_...")


@router.get("/session")
def who(request: Request) -> dict[str, Any]:
    """Whether tokens are required, and the name and role of the signed-in token."""
    guard = request.app.guard
    if guard is None:
        return {"auth": False, "signed_in": False, "name": None, "role": "admin"}
    secret = guard.secret_of(request.scope)
    info = guard.authenticator.verify(secret) if secret else None
    return _answer(info)


@router.post("/session")
def sign_in(request: Request, body: SignIn) -> Response:
    """Check ``token`` and keep it in the session cookie."""
    guard = request.app.guard
    if guard is None:
        return JSONResponse({"auth": False, "signed_in": False, "name": None, "role": "admin"})
    info = guard.authenticator.verify(body.token.strip())
    if info is None:
        raise AuthenticationError(
            "That token is unknown, expired or revoked.",
            required_role="viewer",
            hint="Paste a whole token (pod_...); an admin creates one with "
            "`podium tokens create --name NAME --role viewer`.",
        )
    answer = JSONResponse(_answer(info))
    answer.set_cookie(
        COOKIE,
        body.token.strip(),
        max_age=MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return answer


@router.delete("/session")
def sign_out(request: Request) -> Response:
    answer = JSONResponse({"signed_in": False})
    answer.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return answer


def _answer(info: TokenInfo | None) -> dict[str, Any]:
    return {
        "auth": True,
        "signed_in": info is not None,
        "name": info.name if info else None,
        "role": info.role.label if info else None,
    }


def _secure(request: Request) -> bool:
    """Secure cookies unless the server was started ``--insecure`` or listens on loopback
    (a browser keeps a Secure cookie from https pages only)."""
    setting: bool | None = getattr(request.app.state, "secure_cookies", None)
    if setting is not None:
        return setting
    server = request.scope.get("server")
    return request.url.scheme == "https" or not (server and is_loopback(str(server[0])))
