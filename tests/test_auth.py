"""The authenticator and the guard, over a memory stand-in for the token store."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import podium.auth
from podium.auth import Authenticator, Guard, Role, create_token
from podium.core.errors import PodiumError, StoreError, ValidationError
from podium.core.tokens import TokenRecord, digest_of, new_secret, prefix_of

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class MemoryTokens:
    """What the store's token repository offers the authenticator, in memory."""

    rows: dict[str, tuple[str, TokenRecord]] = field(default_factory=dict)  # name -> row
    lookups: int = 0
    touched: list[str] = field(default_factory=list)
    fail_touch: bool = False

    def create(
        self, name: str, role: Role, digest: str, prefix: str, expires_at: datetime | None
    ) -> TokenRecord:
        record = TokenRecord(name, role.label, prefix, NOW, "me", expires_at, None, None)
        self.rows[name] = (digest, record)
        return record

    def revoke(self, name: str) -> None:
        digest, record = self.rows[name]
        self.rows[name] = (digest, replace(record, revoked_at=NOW))

    def candidates(self, prefix: str) -> list[tuple[str, TokenRecord]]:
        self.lookups += 1
        return [(d, r) for d, r in self.rows.values() if r.prefix == prefix]

    def touch(self, name: str, at: datetime) -> None:
        if self.fail_touch:
            raise StoreError("database is locked")
        self.touched.append(name)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def tokens() -> MemoryTokens:
    return MemoryTokens()


def test_roles_are_ordered_and_parsed() -> None:
    assert Role.VIEWER < Role.PREDICTOR < Role.OPERATOR < Role.ADMIN
    assert Role.parse(" Operator ") is Role.OPERATOR and Role.ADMIN.label == "admin"
    with pytest.raises(ValidationError, match="Unknown role 'root'") as info:
        Role.parse("root")
    assert info.value.hint and "viewer < predictor < operator < admin" in info.value.hint


def test_a_secret_is_shown_once_and_stored_as_its_hash(tokens: MemoryTokens) -> None:
    record, secret = create_token(tokens, "ci", "predictor")
    assert secret.startswith("pod_") and len(secret) == 47
    digest, stored = tokens.rows["ci"]
    assert digest == digest_of(secret) != secret and secret not in repr(stored)
    assert record.prefix == prefix_of(secret) == secret[:12]
    assert new_secret() != new_secret()


def test_verify_caches_answers_for_the_ttl_then_sees_a_revocation(tokens: MemoryTokens) -> None:
    _, secret = create_token(tokens, "ci", "predictor")
    clock = Clock()
    auth = Authenticator(tokens, ttl_s=5, clock=clock)
    info = auth.verify(secret)
    assert info is not None and (info.name, info.role) == ("ci", Role.PREDICTOR)
    for _ in range(100):
        assert auth.verify(secret) == info
    assert tokens.lookups == 1 and tokens.touched == ["ci"]  # one store query per ttl
    tokens.revoke("ci")
    clock.t += 4.9
    assert auth.verify(secret) is not None  # still cached
    clock.t += 0.2
    assert auth.verify(secret) is None
    assert auth.identify(secret) is not None and auth.identify(secret).revoked  # type: ignore[union-attr]
    assert tokens.lookups == 2


def test_expiry_takes_effect_at_once_even_when_cached(tokens: MemoryTokens) -> None:
    _, secret = create_token(tokens, "ci", "viewer", expires_in_s=60)
    wall = Clock()
    wall.t = datetime.now(UTC).timestamp()
    auth = Authenticator(tokens, ttl_s=3600, wall=wall)
    assert auth.verify(secret) is not None
    wall.t += 61
    assert auth.verify(secret) is None and tokens.lookups == 1


def test_unknown_and_malformed_secrets(tokens: MemoryTokens) -> None:
    _, secret = create_token(tokens, "ci", "admin")
    auth = Authenticator(tokens)
    assert auth.verify("pod_" + "A" * 43) is None
    assert tokens.lookups == 1
    for junk in ("", "hunter2", secret + "x", secret[:-1], "Bearer " + secret):
        assert auth.verify(junk) is None
    assert tokens.lookups == 1  # not a podium token: the store is not asked
    # Two tokens sharing a prefix: the digest decides.
    other = secret[:12] + ("B" if secret[12] != "B" else "C") + secret[13:]
    tokens.rows["twin"] = (
        digest_of(other),
        replace(tokens.rows["ci"][1], name="twin", role="viewer"),
    )
    assert auth.verify(other).role is Role.VIEWER  # type: ignore[union-attr]
    assert auth.verify(secret).role is Role.ADMIN  # type: ignore[union-attr]


def test_made_up_tokens_cannot_grow_the_cache_without_bound(tokens: MemoryTokens) -> None:
    auth = Authenticator(tokens, max_entries=50)
    for _ in range(500):
        auth.verify(new_secret())
    assert len(auth._cache) <= 50


def test_a_store_hiccup_while_noting_use_does_not_refuse(tokens: MemoryTokens) -> None:
    _, secret = create_token(tokens, "ci", "viewer")
    tokens.fail_touch = True
    assert Authenticator(tokens).verify(secret) is not None


def test_expires_in_must_make_sense(tokens: MemoryTokens) -> None:
    record, _ = create_token(tokens, "ci", "viewer", expires_in_s=3600)
    assert record.expires_at is not None
    assert timedelta(minutes=59) < record.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    with pytest.raises(PodiumError, match="Unknown role"):
        create_token(tokens, "x", "superuser")
    with pytest.raises(ValidationError, match="positive"):
        create_token(tokens, "x", "viewer", expires_in_s=0)


def test_a_store_outage_keeps_known_tokens_working(tokens: MemoryTokens) -> None:
    _, secret = create_token(tokens, "ci", "viewer")
    clock = Clock()
    auth = Authenticator(tokens, ttl_s=5, clock=clock)
    assert auth.verify(secret) is not None

    def down(prefix: str) -> list[tuple[str, TokenRecord]]:
        raise StoreError("The metadata store failed: connection refused.")

    tokens.candidates = down  # type: ignore[method-assign]
    clock.t += 60
    assert auth.verify(secret) is not None  # the last answer stands
    with pytest.raises(StoreError):
        auth.verify(new_secret())  # never seen: no answer to fall back on
    app = Guard(auth, lambda method, path: Role.VIEWER).wrap(_never_called)
    status, headers = _call(app, "/metrics", {"authorization": f"Bearer {new_secret()}"})
    assert status == 503 and b"www-authenticate" not in headers


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the guard let a request through")


def _call(app: Any, path: str, headers: dict[str, str], root_path: str = "") -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": root_path + path,
        "root_path": root_path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], dict(sent[0]["headers"])


def test_the_guard_wraps_any_asgi_app(tokens: MemoryTokens) -> None:
    """What a control API would reuse: its own policy, the same tokens."""
    _, viewer = create_token(tokens, "v", "viewer")
    _, operator = create_token(tokens, "o", "operator")

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        token = scope.get("state", {}).get("token")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": token.name.encode() if token else b""})

    def policy(method: str, path: str) -> Role | None:
        return None if path == "/health" else Role.OPERATOR

    app = Guard(Authenticator(tokens), policy).wrap(inner)
    assert _call(app, "/deployments", {"authorization": f"Bearer {operator}"})[0] == 200
    status, headers = _call(app, "/deployments", {"authorization": f"bearer {viewer}"})
    assert status == 403 and b"insufficient_scope" in headers[b"www-authenticate"]
    status, headers = _call(app, "/deployments", {})
    assert status == 401 and headers[b"www-authenticate"] == b'Bearer realm="podium"'
    # Mounted under /api: the policy sees the path below the mount point.
    assert _call(app, "/health", {}, root_path="/api")[0] != 401


def test_requests_waiting_for_the_same_token_share_one_lookup(tokens: MemoryTokens) -> None:
    """When a cached answer expires under load, the store is asked once, not per request."""
    _, secret = create_token(tokens, "ci", "viewer")
    guard = Guard(Authenticator(tokens), lambda method, path: Role.VIEWER)
    slow = tokens.candidates

    def candidates(prefix: str) -> list[tuple[str, TokenRecord]]:
        time.sleep(0.05)
        return slow(prefix)

    tokens.candidates = candidates  # type: ignore[method-assign]
    scope = {"type": "http", "method": "GET", "path": "/metrics", "root_path": ""}
    headers = [(b"authorization", f"Bearer {secret}".encode())]

    async def many() -> list[bool]:
        async def send(message: dict[str, Any]) -> None:
            raise AssertionError(f"refused: {message}")

        return await asyncio.gather(
            *(guard.admit({**scope, "headers": headers}, send) for _ in range(50))
        )

    assert asyncio.run(many()) == [True] * 50
    assert tokens.lookups == 1 and guard._pending == {}


def test_auth_is_on_when_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, on in (("1", True), ("true", True), ("on", True), ("0", False), ("", False)):
        monkeypatch.setenv("PODIUM_AUTH", value)
        assert podium.auth.auth_required() is on
    monkeypatch.delenv("PODIUM_AUTH")
    assert podium.auth.auth_required() is False
    assert sorted(podium.auth.__all__) == [
        "Authenticator",
        "Guard",
        "Role",
        "TokenInfo",
        "auth_required",
        "create_token",
    ]
