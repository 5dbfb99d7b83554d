"""API tokens: created and revoked with an audit record, found by prefix, never by secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from podium.core.clock import utcnow
from podium.core.context import current_actor
from podium.core.errors import ConflictError, NotFoundError
from podium.core.names import check_name
from podium.core.tokens import Role, TokenRecord
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

T = t.tokens


class TokenRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, role: Role, digest: str, prefix: str, expires_at: datetime | None
    ) -> TokenRecord:
        """Record a token (its digest and prefix; the caller keeps the secret)."""
        check_name(name, "token name")
        with self.db.write() as conn:
            taken = conn.execute(select(T.c.revoked_at).where(T.c.name == name)).first()
            if taken is not None:
                state = "a revoked token" if taken.revoked_at else "an active token"
                raise ConflictError(
                    f"The token name {name!r} is taken by {state}.",
                    hint="Names stay with their token for the audit trail: pick another one.",
                )
            conn.execute(
                insert(T).values(
                    name=name,
                    role=role.label,
                    digest=digest,
                    prefix=prefix,
                    created_at=utcnow(),
                    created_by=current_actor(),
                    expires_at=expires_at,
                )
            )
            record = self._one(conn, name)
            audit(conn, "token.create", f"tokens:/{name}", None, _summary(record))
            return record

    def revoke(self, name: str) -> TokenRecord:
        """Revoke token ``name`` for good (revoking it again changes nothing)."""
        with self.db.write() as conn:
            before = self._one(conn, name)
            if before.revoked_at is not None:
                return before
            conn.execute(update(T).where(T.c.name == name).values(revoked_at=utcnow()))
            after = self._one(conn, name)
            audit(conn, "token.revoke", f"tokens:/{name}", _summary(before), _summary(after))
            return after

    def all(self) -> list[TokenRecord]:
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(select(T).order_by(T.c.created_at, T.c.id))]

    def get(self, name: str) -> TokenRecord:
        with self.db.read() as conn:
            return self._one(conn, name)

    def candidates(self, prefix: str) -> list[tuple[str, TokenRecord]]:
        """(digest, record) of every token whose secret starts with ``prefix``."""
        with self.db.read() as conn:
            rows = conn.execute(select(T).where(T.c.prefix == prefix))
            return [(r.digest, _record(r)) for r in rows]

    def touch(self, name: str, at: datetime) -> None:
        """Note that ``name`` was used (no audit: this is bookkeeping, not a change)."""
        with self.db.write() as conn:
            conn.execute(update(T).where(T.c.name == name).values(last_used_at=at))

    def _one(self, conn: Any, name: str) -> TokenRecord:
        row = conn.execute(select(T).where(T.c.name == name)).first()
        if row is None:
            names = list(conn.execute(select(T.c.name).order_by(T.c.name).limit(10)).scalars())
            known = f" Known tokens: {', '.join(names)}." if names else " There is no token yet."
            raise NotFoundError(
                f"Token {name!r} not found.{known}", hint="List them with `podium tokens list`."
            )
        return _record(row)


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _summary(record: TokenRecord) -> dict[str, Any]:
    """What the audit log keeps of a token: never the secret, nor its digest."""
    out = record.to_dict()
    out.pop("last_used_at")
    return out
