"""API tokens as values: roles, the secret's shape, and the record the store keeps.

A secret is ``pod_`` and 43 url-safe characters (32 random bytes). The store keeps only its
sha256 digest and its first characters (the prefix, shown to tell tokens apart); the
secret itself is printed once, when the token is created.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from podium.core.errors import ValidationError
from podium.core.records import Record

SECRET_PREFIX = "pod_"
PREFIX_CHARS = 12  # "pod_" and 8 characters of the secret: identifies, never authenticates


class Role(enum.IntEnum):
    """What a token may do; each role includes the ones below it."""

    VIEWER = 1  # read metadata, metrics and docs
    PREDICTOR = 2  # and send predictions and feedback
    OPERATOR = 3  # and change deployments (traffic, promotion, rollback)
    ADMIN = 4  # and manage tokens

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValidationError(
                f"Unknown role {value!r}; expected one of {', '.join(r.label for r in cls)}.",
                field="role",
                hint="Roles from least to most: viewer < predictor < operator < admin.",
            ) from None


def new_secret() -> str:
    """A fresh token secret: ``pod_`` + 32 random bytes, url-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest_of(secret: str) -> str:
    """The sha256 digest (hex) the store keeps in place of the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def prefix_of(secret: str) -> str:
    """The part of a secret shown in listings and used to find its record."""
    return secret[:PREFIX_CHARS]


@dataclass(frozen=True)
class TokenRecord(Record):
    """A token as listed: never its secret, nor its digest."""

    name: str
    role: str
    prefix: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
