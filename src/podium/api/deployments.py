"""Deployments, traffic, flags, monitoring and alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import Field, model_validator

from podium.api.deps import Body, ClientDep
from podium.core.records import Deployment, DeploymentEvent

router = APIRouter(tags=["deployments"])
Rows = Annotated[int | None, Query(ge=1, le=10_000_000, description="Newest predictions.")]
Minutes = Annotated[float | None, Query(gt=0, le=525_600, description="Last minutes.")]


class DeployBody(Body):
    """Either ``spec`` (shaped like the deployment YAML) or ``model`` with ``name``."""

    spec: dict[str, Any] | None = None
    model: str | None = Field(None, max_length=500)
    name: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> DeployBody:
        if (self.spec is None) == (self.model is None):
            raise ValueError("give either 'spec' or 'model' (with 'name')")
        if self.model is not None and self.name is None:
            raise ValueError("deploying 'model' needs 'name'")
        return self


class TrafficBody(Body):
    shares: dict[str, float] = Field(description="Variant -> percent, e.g. {'candidate': 25}.")


class FlagBody(Body):
    """Checked by :meth:`Client.set_flag` (percent 0-100), as locally."""

    enabled: bool | None = None
    percent: float | None = None
    kill: bool | None = None


@router.get("/deployments", response_model=list[Deployment])
def list_deployments(client: ClientDep) -> Any:
    return client.list_deployments()


@router.post("/deployments", response_model=Deployment, status_code=201)
def deploy(client: ClientDep, body: DeployBody) -> Any:
    """Store desired state; running servers follow within a second."""
    if body.spec is not None:
        return client.deploy(body.spec)
    return client.deploy_model(body.model or "", body.name or "")


@router.get("/deployments/{name}", response_model=Deployment)
def get_deployment(client: ClientDep, name: str) -> Any:
    return client.get_deployment(name)


@router.get("/deployments/{name}/status")
def deployment_status(
    client: ClientDep, name: str, window: Annotated[int, Query(ge=1, le=10_000_000)] = 10_000
) -> dict[str, Any]:
    """Per-variant figures, A/B significance, shadows, bandit and workers."""
    return client.deployment_status(name, window=window)


@router.get("/deployments/{name}/history", response_model=list[DeploymentEvent])
def deployment_history(client: ClientDep, name: str) -> Any:
    return client.deployment_history(name)


ACTIONS = {
    "promote": "Blue-green: all traffic to the idle colour. Canary: the candidate takes 100%.",
    "rollback": "Blue-green: back to the previous colour. Canary: the candidate gets 0%.",
    "pause": "Pause the rollout (traffic stays as it is).",
    "resume": "Resume a paused rollout.",
}


def _action_route(verb: str) -> None:
    """``POST /deployments/{name}/VERB``: a route an action, not one ``{action}`` parameter,
    so that a POST to ``.../status`` is a 405 like any other, not a 422 about the action."""

    def act(client: ClientDep, name: str) -> Any:
        return getattr(client, verb)(name)

    path = f"/deployments/{{name}}/{verb}"
    router.post(path, response_model=Deployment, name=verb, description=ACTIONS[verb])(act)


for _verb in ACTIONS:
    _action_route(_verb)


@router.put("/deployments/{name}/traffic", response_model=Deployment)
def set_traffic(client: ClientDep, name: str, body: TrafficBody) -> Any:
    return client.set_traffic(name, body.shares)


@router.get("/deployments/{name}/flags")
def list_flags(client: ClientDep, name: str) -> list[dict[str, Any]]:
    return client.flags(name)


@router.patch("/deployments/{name}/flags/{flag}", response_model=Deployment)
def set_flag(client: ClientDep, name: str, flag: str, body: FlagBody) -> Any:
    return client.set_flag(name, flag, enabled=body.enabled, percent=body.percent, kill=body.kill)


@router.get("/deployments/{name}/monitor", tags=["monitoring"])
def monitor_snapshot(
    client: ClientDep, name: str, rows: Rows = None, minutes: Minutes = None
) -> dict[str, Any]:
    """Drift, performance, concept drift and health over the deployment's window."""
    return client.monitor_snapshot(name, rows=rows, minutes=minutes)


@router.get(
    "/deployments/{name}/report",
    tags=["monitoring"],
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def monitor_report(
    client: ClientDep,
    name: str,
    rows: Rows = None,
    minutes: Minutes = None,
    format: Literal["json", "html"] = "json",
) -> Any:
    """The monitoring report's figures, or (``format=html``) the self-contained page."""
    data = client.monitor_report(name, rows=rows, minutes=minutes)
    if format == "html":
        from podium.watch.report import html

        return HTMLResponse(html(data))
    return data


@router.get("/alerts", tags=["monitoring"])
def alerts(
    client: ClientDep,
    deployment: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    return client.alerts(deployment, limit=limit)


@router.get("/loops", tags=["monitoring"])
def retraining_loops(client: ClientDep) -> list[dict[str, Any]]:
    """The retraining loop of each watched deployment."""
    return client.retraining_loops()
