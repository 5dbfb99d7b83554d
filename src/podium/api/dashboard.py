"""Figures only the web dashboard asks for: a deployment over time, and its rollout.

Each handler calls one function over the client's workspace, as every other router calls
one :class:`podium.Client` method: the computing lives in :mod:`podium.deploy.timeline`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from podium.api.deps import ClientDep
from podium.deploy.timeline import rollout, timeline

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("/deployments/{name}/timeline")
def deployment_timeline(
    client: ClientDep,
    name: str,
    buckets: Annotated[int, Query(ge=1, le=500, description="Spans of time.")] = 30,
    rows: Annotated[int, Query(ge=1, le=100_000, description="Newest predictions.")] = 5_000,
) -> dict[str, Any]:
    """Traffic split, error rate and latency percentiles per span of time, and the split
    the deployment asks for now (bandit allocation over time for a bandit)."""
    return timeline(client.workspace, name, buckets=buckets, rows=rows)


@router.get("/deployments/{name}/rollout")
def deployment_rollout(client: ClientDep, name: str) -> dict[str, Any]:
    """The canary's step and status, each gate's figure and verdict now, and the decisions
    taken so far."""
    return rollout(client.workspace, name)
