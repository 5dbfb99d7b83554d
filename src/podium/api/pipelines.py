"""Runs, pipelines, schedules, events and retention policies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from podium.api.deps import Body, ClientDep, Limit, Offset, Page, page
from podium.core.context import request_id_var
from podium.core.errors import PipelineError
from podium.core.records import Event, Run, Schedule, ScheduleFire

router = APIRouter()


class ScheduleBody(Body):
    """Checked by :meth:`Client.add_schedule`, so a mistake reads as it does locally."""

    pipeline_ref: str = Field(max_length=500, description="module:function or file.py:function")
    name: str | None = None
    cron: str | None = None
    every: str | None = Field(None, description="30s, 15m, 1h30m, 1d")
    on_event: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    missed: str = Field("skip", description="skip, latest or all")
    overlap: str = Field("skip", description="skip or queue")
    max_concurrent: int = Field(1, le=1000)


class EventBody(Body):
    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)


class RetentionBody(Body):
    """Checked by the store (one of them at least, each positive), as locally."""

    keep_last: int | None = Field(None, le=2**31 - 1)
    max_age_s: float | None = Field(None, le=1000 * 365 * 86400)


class PipelineSummary(Body):
    pipeline: str
    runs: int
    last_run: Run | None
    schedules: list[str]


@router.get("/runs", tags=["runs"], response_model=Page[Run])
def list_runs(
    client: ClientDep,
    pipeline: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=50)] = None,
    trigger: Annotated[
        str | None,
        Query(
            max_length=300,
            description="manual, schedule, event, retrain or check; or one schedule's or "
            "event's runs: schedule:NAME, event:NAME.",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Runs, newest first (runs whose process died are marked crashed first)."""
    client.recover_crashed_runs()
    runs = client.list_runs(
        pipeline=pipeline, status=status, trigger=trigger, limit=limit + 1, offset=offset
    )
    return page(runs, limit, offset)


@router.get("/runs/{run_id}", tags=["runs"], response_model=Run)
def get_run(client: ClientDep, run_id: str) -> Any:
    client.recover_crashed_runs()
    return client.get_run(run_id)


@router.get("/pipelines", tags=["runs"], response_model=list[PipelineSummary])
def list_pipelines(client: ClientDep) -> Any:
    """Every pipeline that has run or is scheduled, with its newest run."""
    return client.pipelines()


@router.get("/schedules", tags=["schedules"], response_model=list[Schedule])
def list_schedules(client: ClientDep) -> Any:
    return client.list_schedules()


@router.post("/schedules", tags=["schedules"], response_model=Schedule, status_code=201)
def add_schedule(client: ClientDep, body: ScheduleBody) -> Any:
    """Schedule a pipeline; ``podium scheduler`` fires it. Needs admin: it names code to run."""
    try:
        return client.add_schedule(**body.model_dump())
    except PipelineError as exc:
        # A pipeline that does not load or take these params is the request's mistake (422),
        # not a failed run (500); the type stays, so the remote client raises the same.
        answer = {**exc.to_dict(), "request_id": request_id_var.get()}
        return JSONResponse(answer, status_code=422)


@router.get("/schedules/{name}/fires", tags=["schedules"], response_model=list[ScheduleFire])
def schedule_fires(client: ClientDep, name: str) -> Any:
    return client.schedule_fires(name)


@router.post("/schedules/{name}/pause", tags=["schedules"], response_model=Schedule)
def pause_schedule(client: ClientDep, name: str) -> Any:
    return client.pause_schedule(name)


@router.post("/schedules/{name}/resume", tags=["schedules"], response_model=Schedule)
def resume_schedule(client: ClientDep, name: str) -> Any:
    return client.resume_schedule(name)


@router.delete("/schedules/{name}", tags=["schedules"], status_code=204)
def remove_schedule(client: ClientDep, name: str) -> Response:
    client.remove_schedule(name)
    return Response(status_code=204)


@router.post("/events", tags=["schedules"], response_model=Event, status_code=201)
def emit_event(client: ClientDep, body: EventBody) -> Any:
    """Emit an event: schedules listening to its name fire once for it."""
    return client.emit_event(body.name, body.payload)


@router.get("/retention", tags=["retention"])
def retention_policies(client: ClientDep) -> list[dict[str, Any]]:
    return client.retention_policies()


@router.put("/retention/{kind}/{name}", tags=["retention"])
def set_retention(client: ClientDep, kind: str, name: str, body: RetentionBody) -> dict[str, Any]:
    return client.set_retention(kind, name, keep_last=body.keep_last, max_age_s=body.max_age_s)


@router.delete("/retention/{kind}/{name}", tags=["retention"], status_code=204)
def remove_retention(client: ClientDep, kind: str, name: str) -> Response:
    client.remove_retention(kind, name)
    return Response(status_code=204)
