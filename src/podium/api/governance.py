"""Audit, lineage and tokens (policies and approvals: :mod:`podium.api.approvals`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from podium.api.deps import Body, ClientDep, Offset
from podium.core.errors import ValidationError
from podium.core.records import AuditRecord
from podium.core.tokens import TokenRecord

router = APIRouter()
Text = Annotated[str | None, Query(max_length=500)]


class TokenBody(Body):
    """Names, roles and lifetimes are checked by :meth:`Client.create_token`, so a mistake
    reads the same over HTTP as on the local store."""

    name: str = Field(description="1-128 letters, digits, '.', '_' or '-'.")
    role: str = Field(description="viewer, predictor, operator or admin.")
    expires_in_s: float | None = Field(None, le=10 * 365 * 86400, description="Lifetime.")


class NewToken(Body):
    token: TokenRecord
    secret: str = Field(description="Shown this once only.")


@router.get("/audit", tags=["audit"], response_model=list[AuditRecord])
def audit(
    client: ClientDep,
    target: Text = None,
    target_prefix: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Only targets starting with this: models:/churn also finds its "
            "versions and aliases (models:/churn/3, models:/churn@champion).",
        ),
    ] = None,
    actor: Text = None,
    action: Text = None,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only newer records: an RFC 3339 time with its zone.",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    offset: Offset = 0,
) -> Any:
    """Audit records, newest first: a plain list (ask for one more than a page to know
    whether another follows)."""
    after = _time(since, "since") if since is not None else None
    return client.audit(
        target=target,
        target_prefix=target_prefix,
        actor=actor,
        action=action,
        since=after,
        limit=limit,
        offset=offset,
    )


def _time(text: str, field: str) -> datetime:
    """An RFC 3339 time (pydantic's datetime would also take a number, which is not one)."""
    try:
        at = datetime.fromisoformat(text.upper())  # 't' and 'z' are RFC 3339 too
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ValidationError(
            f"Invalid query field {field!r}: {text!r} is not a time with a zone.",
            field=field,
            hint="E.g. 2025-01-31T12:00:00Z or 2025-01-31T13:00:00+01:00.",
        )
    return at


@router.get("/lineage", tags=["lineage"])
def lineage(
    client: ClientDep,
    ref: Annotated[str, Query(min_length=1, max_length=500)],
    direction: Annotated[str, Query(description="both, upstream or downstream.")] = "both",
    depth: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict[str, Any]:
    """What ``ref`` (a data version, run, model version or deployment) was made from and
    what was made from it."""
    return client.lineage(ref, direction=direction, depth=depth).to_dict()


@router.get("/tokens", tags=["tokens"], response_model=list[TokenRecord])
def list_tokens(client: ClientDep) -> Any:
    return client.list_tokens()


@router.post("/tokens", tags=["tokens"], response_model=NewToken, status_code=201)
def create_token(client: ClientDep, body: TokenBody) -> Any:
    record, secret = client.create_token(body.name, body.role, expires_in_s=body.expires_in_s)
    return {"token": record, "secret": secret}


@router.post("/tokens/{name}/revoke", tags=["tokens"], response_model=TokenRecord)
def revoke_token(client: ClientDep, name: str) -> Any:
    return client.revoke_token(name)
