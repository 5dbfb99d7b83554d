"""API tokens at the door: who is calling, with which role, and an ASGI guard for servers.

:class:`Authenticator` turns a presented secret into a :class:`TokenInfo` (or None). It
keeps what it learned for ``ttl_s`` seconds, so a server asks the store about a token
once every few seconds, not once per request: a revocation takes effect within ``ttl_s``;
an expiry takes effect at once (it is checked on every call).

:class:`Guard` applies a route policy, ``(method, path) -> least Role or None (open)``, to
ASGI requests: 401 with ``WWW-Authenticate: Bearer`` when the token is missing, unknown,
expired or revoked; 403 when its role is too low. The model server uses it
(:func:`podium.serving.protect`); any other ASGI app can, through :meth:`Guard.wrap`.

>>> auth = Authenticator(workspace.store.tokens)  # doctest: +SKIP
>>> auth.verify("pod_...")  # doctest: +SKIP
TokenInfo(name='ci', role=<Role.PREDICTOR: 2>, ...)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from podium.core.clock import utcnow
from podium.core.errors import (
    AuthenticationError,
    PermissionDeniedError,
    PodiumError,
    ValidationError,
    http_status,
)
from podium.core.tokens import (
    SECRET_PREFIX,
    Role,
    TokenRecord,
    digest_of,
    new_secret,
    prefix_of,
)

__all__ = [
    "Authenticator",
    "Guard",
    "Role",
    "TokenInfo",
    "auth_required",
    "create_token",
]

log = logging.getLogger("podium.auth")
AUTH_ENV = "PODIUM_AUTH"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is kept to the minute: few writes
SECRET_CHARS = len(SECRET_PREFIX) + 43  # "pod_" + 32 bytes of url-safe base64
Policy = Callable[[str, str], Role | None]  # (method, path) -> least role; None: open
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = b"x-podium-csrf"  # sent by the dashboard's own scripts with every change


def auth_required() -> bool:
    """True when ``$PODIUM_AUTH`` turns token checks on (``podium serve --auth`` sets it)."""
    return os.environ.get(AUTH_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class TokenSource(Protocol):
    """Where tokens are looked up: the store's ``tokens`` repository, or a stand-in."""

    def candidates(self, prefix: str) -> list[tuple[str, TokenRecord]]: ...

    def touch(self, name: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class TokenInfo:
    """A known token: its name and role, and whether it is still good."""

    name: str
    role: Role
    expires_at: float | None  # epoch seconds
    revoked: bool

    def problem(self, now: float) -> str | None:
        """Why this token cannot be used now (None: it can)."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None


class Authenticator:
    """Looks tokens up in ``tokens``, remembering each answer for ``ttl_s`` seconds.

    Args:
        tokens: the store's token repository (``workspace.store.tokens``).
        ttl_s: how long an answer is reused; also the most a revocation waits.
        max_entries: the cache is emptied when it holds this many secrets (a flood of
            made-up tokens cannot grow it without bound).
    """

    def __init__(
        self,
        tokens: TokenSource,
        *,
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.wall = wall
        # secret -> (answer, when). Keyed by the secret itself: hashing it per request (even
        # BLAKE2b) costs a few microseconds on a server whose CPU caches hold the model, and
        # a dict lookup leaks nothing usable (str hashes are keyed per process; a secret is
        # compared only on a full 64-bit hash match). The store is asked by prefix and
        # compares sha256 digests in constant time (_lookup).
        self._cache: dict[str, tuple[TokenInfo | None, float]] = {}
        self._touched: dict[str, datetime] = {}  # token name -> when this process noted use

    def verify(self, secret: str) -> TokenInfo | None:
        """The token ``secret`` belongs to, if it is known, unexpired and not revoked."""
        info = self.identify(secret)
        return info if info is not None and info.problem(self.wall()) is None else None

    def identify(self, secret: str) -> TokenInfo | None:
        """The token ``secret`` belongs to (expired and revoked ones too), else None."""
        found, info = self.cached(secret)
        if found:
            return info
        try:
            info = self._lookup(secret)
        except PodiumError:
            stale = self._cache.get(secret)
            if stale is None:
                raise
            # The store is unreachable: the last answer stands until it is back, so a
            # database blip does not take the data plane down with it.
            log.warning("Token store unreachable; reusing the last answer for a token.")
            return stale[0]
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[secret] = (info, self.clock())
        return info

    def cached(self, secret: str) -> tuple[bool, TokenInfo | None]:
        """(True, answer) when a fresh answer is at hand, else (False, None): no I/O."""
        entry = self._cache.get(secret)
        if entry is None or self.clock() - entry[1] >= self.ttl_s:
            return False, None
        return True, entry[0]

    def _lookup(self, secret: str) -> TokenInfo | None:
        if len(secret) != SECRET_CHARS or not secret.startswith(SECRET_PREFIX):
            return None  # not a podium token: no need to ask the store
        digest = digest_of(secret)
        match: TokenRecord | None = None
        for stored, record in self.tokens.candidates(prefix_of(secret)):
            # Compare every candidate in constant time: how long this takes says nothing
            # about how much of a guessed secret was right.
            if hmac.compare_digest(stored, digest):
                match = record
        if match is None:
            return None
        info = TokenInfo(
            name=match.name,
            role=Role.parse(match.role),
            expires_at=None if match.expires_at is None else match.expires_at.timestamp(),
            revoked=match.revoked_at is not None,
        )
        now = utcnow()
        last = max(filter(None, (match.last_used_at, self._touched.get(match.name))), default=None)
        if info.problem(self.wall()) is None and (last is None or now - last > TOUCH_EVERY):
            self._touched[match.name] = now
            with suppress(PodiumError):  # bookkeeping must never refuse a good token
                self.tokens.touch(match.name, now)
        return info


def create_token(
    tokens: Any, name: str, role: str | Role, *, expires_in_s: float | None = None
) -> tuple[TokenRecord, str]:
    """Create a token; return its record and its secret (shown once, never stored).

    >>> record, secret = create_token(ws.store.tokens, "ci", "predictor")  # doctest: +SKIP
    """
    parsed = Role.parse(role)
    if expires_in_s is not None and not expires_in_s > 0:
        raise ValidationError(
            f"A token's lifetime must be positive, not {expires_in_s!r} seconds.",
            field="expires",
            hint="Give e.g. --expires 30d, or leave it out for a token that does not expire.",
        )
    secret = new_secret()
    expires_at = None if expires_in_s is None else utcnow() + timedelta(seconds=expires_in_s)
    record = tokens.create(name, parsed, digest_of(secret), prefix_of(secret), expires_at)
    return record, secret


class Guard:
    """Admits an ASGI request when its bearer token's role meets ``policy``'s for the route.

    Args:
        authenticator: looks tokens up (with its cache).
        policy: ``(method, path) -> least role``, or None for an open route. ``path`` is
            the path below where the app is mounted.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        policy: Policy,
        realm: str = "podium",
        *,
        cookie: str | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.policy = policy
        self.realm = realm
        # The web dashboard's session cookie (it holds the token), read when no bearer header
        # is sent. A browser sends cookies on its own, so a change made with one must also
        # carry CSRF_HEADER, which a cross-site page cannot set without a CORS preflight.
        self.cookie = cookie
        self._pending: dict[str, asyncio.Future[TokenInfo | None]] = {}  # lookups under way

    async def admit(self, scope: Any, send: Any) -> bool:
        """True to let the request through; else the 401/403 answer is sent and False."""
        needed = self.policy(scope["method"], _route_path(scope))
        if needed is None:
            return True
        secret = _bearer(scope)
        if secret is None and self.cookie is not None:
            secret = _cookie(scope, self.cookie)
            unsafe = scope["method"] not in SAFE_METHODS
            if secret is not None and unsafe and scope_header(scope, CSRF_HEADER) is None:
                return await self._deny(
                    send,
                    PermissionDeniedError(
                        f"A change signed in by cookie needs the {CSRF_HEADER.decode()} "
                        "header (it proves the request comes from the dashboard's own "
                        "pages, not from another site).",
                        required_role=needed.label,
                        hint=f"Send `{CSRF_HEADER.decode()}: 1`, or a bearer token.",
                    ),
                )
        if secret is None:
            return await self._deny(
                send,
                AuthenticationError(
                    f"This route needs a token with role {needed.label} or higher; "
                    "the request has none.",
                    required_role=needed.label,
                    hint="Send `Authorization: Bearer pod_...`; an admin creates tokens "
                    f"with `podium tokens create --name NAME --role {needed.label}`.",
                ),
            )
        found, info = self.authenticator.cached(secret)
        if not found:
            try:
                info = await self._identify(secret)
            except PodiumError as exc:  # the store is down and this token was never seen
                await self._send(send, http_status(exc), exc.to_dict(), None)
                return False
        problem = "unknown" if info is None else info.problem(self.authenticator.wall())
        if info is None or problem is not None:
            return await self._deny(
                send,
                AuthenticationError(
                    f"The bearer token is {problem}; this route needs a valid token with "
                    f"role {needed.label} or higher.",
                    required_role=needed.label,
                    hint="Ask an admin for a new token (`podium tokens list` shows yours "
                    "by its first characters).",
                ),
            )
        if info.role < needed:
            return await self._deny(
                send,
                PermissionDeniedError(
                    f"Token {info.name!r} has role {info.role.label}; this route needs "
                    f"{needed.label} or higher.",
                    required_role=needed.label,
                    hint=f"Use a token with role {needed.label} (roles: viewer < predictor "
                    "< operator < admin).",
                ),
            )
        scope.setdefault("state", {})["token"] = info
        return True

    def secret_of(self, scope: Any) -> str | None:
        """The token a request presents: its bearer header, else the session cookie."""
        secret = _bearer(scope)
        if secret is None and self.cookie is not None:
            secret = _cookie(scope, self.cookie)
        return secret

    async def _identify(self, secret: str) -> TokenInfo | None:
        """Look ``secret`` up off the event loop, once however many requests wait for it
        (when a cached answer expires under load, every connection would ask at once)."""
        pending = self._pending.get(secret)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(None, self.authenticator.identify, secret)
            self._pending[secret] = pending
            pending.add_done_callback(lambda _: self._pending.pop(secret, None))
        return await asyncio.shield(pending)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind this guard (HTTP only; other scopes pass through)."""

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and not await self.admit(scope, send):
                return
            await app(scope, receive, send)

        return guarded

    async def _deny(self, send: Any, error: AuthenticationError) -> bool:
        status = http_status(error)
        challenge = f'Bearer realm="{self.realm}"'
        challenge += ', error="insufficient_scope"' if status == 403 else ""
        await self._send(send, status, error.to_dict(), challenge)
        return False

    @staticmethod
    async def _send(send: Any, status: int, payload: Any, challenge: str | None) -> None:
        body = orjson.dumps(payload)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if challenge is not None:
            headers.append((b"www-authenticate", challenge.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _cookie(scope: Any, name: str) -> str | None:
    """The value of cookie ``name`` in the request's ``Cookie`` headers, else None."""
    want = name.encode()
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            k, sep, v = part.strip().partition(b"=")
            if sep and k == want:
                return v.strip().decode("latin-1") or None
    return None


def scope_header(scope: Any, name: bytes) -> str | None:
    """A header of an ASGI scope, stripped; None when absent or empty."""
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1").strip()
            return text or None
    return None


def _bearer(scope: Any) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, else None."""
    for key, value in scope["headers"]:
        if key == b"authorization":
            if value[:7].lower() != b"bearer ":
                return None
            return value[7:].strip().decode("latin-1") or None
    return None


def _route_path(scope: Any) -> str:
    """The path below where the app is mounted (as Starlette's routing sees it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
