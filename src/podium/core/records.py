"""Plain records returned by the store: what the user reads, never live ORM objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Record:
    """Mixin: ``to_dict()`` gives JSON-ready data (datetimes as ISO strings)."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class Model(Record):
    name: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    latest_version: int
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FlavorRecord(Record):
    """One serialized form of a model version (skops, joblib, onnx, ...)."""

    flavor: str
    digest: str
    size: int
    meta: dict[str, Any]


@dataclass(frozen=True)
class ModelVersion(Record):
    model: str
    version: int
    created_at: datetime
    created_by: str
    description: str
    flavors: tuple[FlavorRecord, ...]
    signature: dict[str, Any] | None
    input_example: dict[str, Any] | None  # {"columns": [...], "data": [[...]]}
    reference_output: dict[str, Any] | None  # predictions on the input example
    metrics: dict[str, float]
    params: dict[str, Any]
    tags: dict[str, str]
    run_id: str | None
    data_ref: str | None
    code_version: str | None
    aliases: tuple[str, ...] = ()
    # The ONNX fast path: whether the version converts and answers alike (status, reason,
    # parity figures); None when it was never checked. See podium.registry.fastpath.
    fast_path: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    def flavor(self, name: str) -> FlavorRecord | None:
        return next((f for f in self.flavors if f.flavor == name), None)


@dataclass(frozen=True)
class AuditRecord(Record):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    request_id: str | None


@dataclass(frozen=True)
class AliasMove(Record):
    """One move of an alias, read from the audit log: set, moved or deleted."""

    at: datetime
    actor: str
    action: str  # set (first time or moved) or delete
    from_version: int | None
    to_version: int | None
    request_id: str | None


@dataclass(frozen=True)
class ArtifactRecord(Record):
    id: str
    digest: str
    size: int
    materializer: str
    type_name: str
    run_id: str | None
    step: str | None
    name: str
    meta: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class StepRun(Record):
    run_id: str
    name: str
    status: str  # pending, running, succeeded, failed, skipped, cached
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    error: str | None
    attempts: int
    cache_hit: bool
    inputs: dict[str, Any]
    outputs: list[str]  # artifact ids
    upstream: list[str]
    cache_key: str | None = None
    cache_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run(Record):
    id: str
    pipeline: str
    status: str  # running, succeeded, failed, crashed
    params: dict[str, Any]
    trigger: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    code_version: str | None
    scheduled_time: datetime | None = None
    pipeline_ref: str | None = None
    steps: tuple[StepRun, ...] = ()

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class Schedule(Record):
    name: str
    pipeline_ref: str
    cron: str | None
    interval_s: float | None
    params: dict[str, Any]
    missed: str  # skip, latest, all
    overlap: str  # skip, queue
    max_concurrent: int
    paused: bool
    next_fire_at: datetime
    created_at: datetime
    event: str | None = None


@dataclass(frozen=True)
class ScheduleFire(Record):
    schedule: str
    fire_time: datetime
    status: str  # claimed, started, skipped, queued
    run_id: str | None
    claimed_by: str
    note: str | None


@dataclass(frozen=True)
class DataVersion(Record):
    name: str
    version: int
    digest: str
    format: str  # parquet, csv, jsonl
    source: str
    rows: int
    size: int
    schema: dict[str, Any]
    profile: dict[str, Any]
    created_at: datetime
    created_by: str
    run_id: str | None

    @property
    def uri(self) -> str:
        return f"data:/{self.name}/{self.version}"


@dataclass(frozen=True)
class Event(Record):
    id: int
    name: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Deployment(Record):
    name: str
    spec: dict[str, Any]
    state: dict[str, Any]
    revision: int
    status: str  # active, paused
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentWorker(Record):
    """One server process of a deployment, as it last reported itself."""

    deployment: str
    worker: str  # host:pid
    revision: int
    versions: dict[str, str]  # variant -> models:/NAME/VERSION
    status: str  # ready, upgrading, failed
    detail: str
    started_at: datetime
    updated_at: datetime
    rss_bytes: int | None = None  # resident memory at the last heartbeat


@dataclass(frozen=True)
class DeploymentEvent(Record):
    deployment: str
    at: datetime
    kind: str  # applied, paused, resumed, promoted, rolled_back, traffic, decision
    revision: int
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Policy(Record):
    """The approval policy (G2) of a model or a deployment; see :mod:`podium.core.policy`."""

    kind: str  # model or deployment
    name: str
    protected_aliases: tuple[str, ...]  # model policies: the aliases it guards
    approver_role: str | None  # None: passing the gates is enough
    gates: tuple[str, ...]  # "accuracy>=0.9", "canary"
    allow_self_approval: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class ApprovalRequest(Record):
    """A promotion waiting for (or given) an approval: ``podium approve ID``."""

    id: str
    action: str  # alias.set, alias.delete, deployment.promote
    target: str  # models:/churn@champion, deployments:/churn-canary
    payload: dict[str, Any]  # {"version": 3}, {"revision": 2}
    approver_role: str | None  # the least role that may approve it
    requested_by: str
    requested_at: datetime
    status: str  # pending, approved, rejected, applied, superseded
    decided_by: str | None
    decided_at: datetime | None
    reason: str
