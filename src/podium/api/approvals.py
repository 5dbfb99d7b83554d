"""Approval policies and requests (G2): who may move a protected alias or promote a rollout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from podium.api.deps import Body, ClientDep
from podium.core.records import ApprovalRequest

router = APIRouter(tags=["approvals"])
# Kinds, roles and statuses are checked by the Client, with the errors a local caller gets.
Kind = Annotated[str, Path(max_length=50)]


class PolicyBody(Body):
    protected_aliases: list[str] | None = Field(None, description="Model policies: aliases.")
    approver_role: str | None = Field(None, description="Who approves; null: no approval.")
    gates: list[str] | None = Field(None, description="e.g. 'accuracy>=0.9', 'canary'.")
    allow_self_approval: bool = False


class RejectBody(Body):
    reason: str = Field("", max_length=2000)


@router.get("/policies")
def list_policies(client: ClientDep) -> list[dict[str, Any]]:
    return client.list_policies()


@router.get("/policies/{kind}/{name}")
def get_policy(client: ClientDep, kind: Kind, name: str) -> dict[str, Any]:
    return client.get_policy(kind, name)


@router.put("/policies/{kind}/{name}")
def set_policy(client: ClientDep, kind: Kind, name: str, body: PolicyBody) -> dict[str, Any]:
    """Create or replace the policy of a model or a deployment (admin)."""
    return client.set_policy(kind, name, **body.model_dump())


@router.delete("/policies/{kind}/{name}", status_code=204)
def delete_policy(client: ClientDep, kind: Kind, name: str) -> Response:
    client.delete_policy(kind, name)
    return Response(status_code=204)


@router.get("/approvals", response_model=list[ApprovalRequest])
def approval_requests(
    client: ClientDep,
    status: Annotated[str | None, Query(max_length=50)] = None,
    target: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Any:
    return client.approval_requests(status=status, target=target, limit=limit)


@router.post("/approvals/{request_id}/approve", response_model=ApprovalRequest)
def approve(client: ClientDep, request_id: str) -> Any:
    """Approve and carry out the move (needs the policy's role; not the requester's own)."""
    return client.approve(request_id)


@router.post("/approvals/{request_id}/reject", response_model=ApprovalRequest)
def reject(client: ClientDep, request_id: str, body: RejectBody) -> Any:
    return client.reject(request_id, body.reason)
