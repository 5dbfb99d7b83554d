"""Retention: which runs, model versions, logged predictions and blobs have expired, and
collecting them.

Never deleted: a version with an alias, the run that produced a kept version (and so the
data and artifacts it references), a running run, and any blob a kept record points at.
Blobs nobody references are collected only once older than a grace period: a blob is
written before the record that points at it, so a young orphan may be a registration in
progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from podium.core.clock import utcnow
from podium.core.errors import NotFoundError
from podium.pipelines.pipeline import pipeline
from podium.pipelines.step import step
from podium.workspace import Workspace

BLOB_GRACE_S = 3600.0


@dataclass
class GcPlan:
    runs: list[str] = field(default_factory=list)
    versions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # (id, number)
    blobs: list[tuple[str, int]] = field(default_factory=list)  # (digest, size)
    # deployment -> (logged before this time expire, how many)
    predictions: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    blob_grace_s: float = BLOB_GRACE_S

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.blobs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "versions": {m: [n for _, n in vs] for m, vs in self.versions.items()},
            "blobs": [d for d, _ in self.blobs],
            "bytes": self.bytes,
            "predictions": {d: n for d, (_, n) in self.predictions.items()},
        }


def _expired(
    index: int, created: datetime, keep_last: int | None, max_age_s: float | None, now: datetime
) -> bool:
    if keep_last is not None and index >= keep_last:
        return True
    return max_age_s is not None and (now - created).total_seconds() > max_age_s


def plan_gc(
    ws: Workspace, *, now: datetime | None = None, blob_grace_s: float = BLOB_GRACE_S
) -> GcPlan:
    """What :func:`collect` would delete, without deleting anything."""
    now = now or utcnow()
    repo = ws.store.retention
    plan = GcPlan(blob_grace_s=blob_grace_s)
    policies = repo.all()
    for p in (p for p in policies if p.kind == "model"):
        rows = repo.versions_of(p.name)
        doomed = [
            (r.id, r.version)
            for i, r in enumerate(rows)
            if not r.aliased and _expired(i, r.created_at, p.keep_last, p.max_age_s, now)
        ]
        if doomed:
            plan.versions[p.name] = doomed
    deleted_vids = {vid for vs in plan.versions.values() for vid, _ in vs}
    protected = repo.kept_version_runs(deleted_vids)
    for p in (p for p in policies if p.kind == "pipeline"):
        for i, r in enumerate(repo.runs_of(p.name)):
            if r.status == "running" or r.id in protected:
                continue
            if _expired(i, r.created_at, p.keep_last, p.max_age_s, now):
                plan.runs.append(r.id)
    for p in (p for p in policies if p.kind == "predictions"):
        before = now - timedelta(seconds=p.max_age_s) if p.max_age_s is not None else None
        cut, n = ws.store.predictions.cutoff(p.name, keep_last=p.keep_last, before=before)
        if cut is not None and n:
            plan.predictions[p.name] = (cut, n)
    referenced = repo.referenced_digests(except_runs=set(plan.runs), except_versions=deleted_vids)
    for digest in ws.artifacts.digests():
        if digest in referenced:
            continue
        age = ws.artifacts.age(digest)
        if age is None or age >= blob_grace_s:
            plan.blobs.append((digest, ws.artifacts.size(digest)))
    return plan


def collect(ws: Workspace, plan: GcPlan) -> GcPlan:
    """Delete what ``plan`` lists (re-checking aliases); return it."""
    repo = ws.store.retention
    for model, versions in plan.versions.items():
        repo.delete_versions(model, versions)
    repo.delete_runs(plan.runs)
    for deployment, (cut, _) in plan.predictions.items():
        ws.store.predictions.delete_before(deployment, cut)
    still = repo.referenced_digests()
    for digest, _ in plan.blobs:
        if digest in still:  # something started using it since the plan
            continue
        # Stored again since the plan (put() makes a reused blob young): a registration
        # about to reference it may be in flight.
        try:
            age = ws.artifacts.age(digest)
        except NotFoundError:
            continue
        if age is not None and age < plan.blob_grace_s:
            continue
        ws.artifacts.delete(digest)
    clean = getattr(ws.artifacts, "clean_tmp", None)
    if clean is not None:
        clean(older_than=BLOB_GRACE_S)
    return plan


def gc(ws: Workspace, *, dry_run: bool = False, now: datetime | None = None) -> GcPlan:
    """Plan, and unless ``dry_run``, delete expired runs, versions and unreferenced blobs."""
    plan = plan_gc(ws, now=now)
    return plan if dry_run else collect(ws, plan)


@step(cache=False, name="collect")
def _collect(dry_run: bool) -> dict[str, Any]:
    return gc(Workspace.current(), dry_run=dry_run).to_dict()


@pipeline(name="podium-gc")
def gc_pipeline(dry_run: bool = False) -> Any:
    """Garbage collection as a pipeline, so it can be scheduled:
    ``podium schedules add podium.pipelines.retention:gc_pipeline --every 1d``."""
    return _collect(dry_run)
