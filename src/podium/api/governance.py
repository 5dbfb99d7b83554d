"""Audit, lineage and tokens (policies and approvals: :mod:`podium.api.approvals`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from podium.api.deps import Body, ClientDep
from podium.core.records import AuditRecord
from podium.core.tokens import TokenRecord

router = APIRouter()
Text = Annotated[str | None, Query(max_length=500)]


class TokenBody(Body):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "predictor", "operator", "admin"]
    expires_in_s: float | None = Field(None, gt=0, le=10 * 365 * 86400)


class NewToken(Body):
    token: TokenRecord
    secret: str = Field(description="Shown this once only.")


@router.get("/audit", tags=["audit"], response_model=list[AuditRecord])
def audit(
    client: ClientDep,
    target: Text = None,
    actor: Text = None,
    action: Text = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> Any:
    """Audit records, newest first."""
    return client.audit(target=target, actor=actor, action=action, since=since, limit=limit)


@router.get("/lineage", tags=["lineage"])
def lineage(
    client: ClientDep,
    ref: Annotated[str, Query(min_length=1, max_length=500)],
    direction: Literal["both", "upstream", "downstream"] = "both",
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
