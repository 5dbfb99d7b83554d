"""The Python API: one :class:`Client` over a workspace, mirroring the CLI."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from podium.core.errors import PodiumError
from podium.core.names import check_trigger
from podium.core.records import (
    AliasMove,
    ApprovalRequest,
    AuditRecord,
    DataVersion,
    Deployment,
    DeploymentEvent,
    Event,
    Model,
    ModelVersion,
    Run,
    Schedule,
    ScheduleFire,
)
from podium.core.settings import Settings
from podium.core.signature import Signature
from podium.core.tokens import TokenRecord
from podium.data import get_data, load_data, read_table, register_data
from podium.pipelines import load_artifact
from podium.pipelines.runner import recover_crashed
from podium.registry import Predictor, Registry
from podium.registry.lineage import Lineage, lineage
from podium.workspace import Workspace

if TYPE_CHECKING:
    from podium.deploy.spec import DeploymentSpec

__all__ = ["Client"]

URL_ENV = "PODIUM_URL"  # a `podium server` to talk to instead of a local store

log = logging.getLogger("podium")


class Client:
    """Everything podium does, as methods. ``Client()`` uses the environment's settings.

    Inside a pipeline step, ``Client()`` is the workspace of the run.

    >>> client = Client(home="/tmp/podium-demo")
    >>> client.list_models()
    []
    """

    def __new__(
        cls,
        settings: Settings | None = None,
        *,
        home: str | Path | None = None,
        workspace: Workspace | None = None,
    ) -> Client:
        # $PODIUM_URL points the same API at a `podium server`; inside a pipeline run, and
        # with an explicit store (settings, home or workspace), the store is local.
        explicit = settings is not None or home is not None or workspace is not None
        if not explicit and os.environ.get(URL_ENV) and Workspace.activated() is None:
            from podium.client.remote import RemoteClient

            return cast(Client, RemoteClient())
        return super().__new__(cls)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        home: str | Path | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        if workspace is not None:
            self.workspace = workspace
        elif home is not None:
            self.workspace = Workspace(Settings.at(home))
        elif settings is not None:
            self.workspace = Workspace(settings)
        else:
            self.workspace = Workspace.current()

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.workspace.store, self.workspace.artifacts)

    # -- models ------------------------------------------------------------------------------
    def register_model(
        self,
        model: Any,
        name: str,
        *,
        signature: Signature | dict[str, Any] | None = None,
        input_example: Any = None,
        metrics: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        data: str | None = None,
        alias: str | None = None,
        flavor: str | None = None,
        reference_data: Any = None,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``; see :meth:`Registry.register`.

        ``reference_data`` (the holdout or training features) becomes the version's reference
        profile for drift monitoring; without it, a ``data`` naming a data version
        (``data:/churn@3``) is profiled instead when it has the model's columns.
        """
        mv = self.registry.register(
            model,
            name,
            signature=signature,
            input_example=input_example,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            data=data,
            alias=alias,
            flavor=flavor,
            reference_data=reference_data,
        )
        if reference_data is None and data is not None and data.startswith("data:/"):
            self._reference_from_data(mv, data)
        return mv

    def _reference_from_data(self, mv: ModelVersion, data: str) -> None:
        try:
            frame = self.load_data(data)
            self.registry.set_reference(mv.uri, frame, data_ref=data)
        except PodiumError as exc:  # the data is not the model's input: no reference then
            log.warning("No reference profile for %s from %s: %s", mv.uri, data, exc.message)

    def set_reference(self, uri: str, data: Any) -> dict[str, Any]:
        """Profile ``data`` (a DataFrame, an array, a file, or a ``data:/`` reference) as the
        reference monitoring compares ``uri``'s production inputs and predictions with."""
        if isinstance(data, str) and data.startswith("data:/"):
            return self.registry.set_reference(uri, self.load_data(data), data_ref=data)
        if isinstance(data, str | Path):
            return self.registry.set_reference(uri, read_table(data), data_ref=str(data))
        return self.registry.set_reference(uri, data)

    def load(self, uri: str, *, flavor: str | None = None) -> Predictor:
        return self.registry.load(uri, flavor=flavor)

    def get_version(self, uri: str) -> ModelVersion:
        return self.registry.get(uri)

    def get_model(self, name: str) -> Model:
        return self.registry.get_model(name)

    def list_models(self, *, limit: int = 100, offset: int = 0) -> list[Model]:
        return self.registry.list_models(limit=limit, offset=offset)

    def list_versions(self, name: str, *, limit: int = 100, offset: int = 0) -> list[ModelVersion]:
        return self.registry.list_versions(name, limit=limit, offset=offset)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self.registry.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self.registry.delete_alias(name, alias)

    def alias_history(self, name: str, alias: str, *, limit: int = 1000) -> list[AliasMove]:
        """Every move of ``name@alias``, oldest first, from the audit log.

        >>> [(m.from_version, m.to_version) for m in client.alias_history("churn", "champion")]
        ... # doctest: +SKIP
        [(None, 1), (1, 2)]
        """
        self.get_model(name)  # an unknown model is an error that names the known ones
        target = f"models:/{name}@{alias}"
        records = self.workspace.store.audit.list(target=target, limit=limit)
        moves = []
        for r in reversed(records):
            if r.action not in ("alias.set", "alias.delete"):
                continue
            moves.append(
                AliasMove(
                    at=r.at,
                    actor=r.actor,
                    action=r.action.removeprefix("alias."),
                    from_version=(r.before or {}).get("version"),
                    to_version=(r.after or {}).get("version"),
                    request_id=r.request_id,
                )
            )
        return moves

    # -- data --------------------------------------------------------------------------------
    def register_data(
        self, source: Any, name: str, *, format: str | None = None, label: str | None = None
    ) -> DataVersion:
        """Register a file, URL or DataFrame as a version of dataset ``name`` (``label`` is
        recorded as its source instead of ``source``)."""
        return register_data(source, name, format=format, workspace=self.workspace, label=label)

    def load_data(self, ref: str) -> Any:
        return load_data(ref, workspace=self.workspace)

    def get_data(self, ref: str) -> DataVersion:
        return get_data(ref, workspace=self.workspace)

    def list_data(
        self, name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DataVersion]:
        """Data versions, newest first (of one dataset when ``name`` is given)."""
        return self.workspace.store.data.list_versions(name, limit=limit, offset=offset)

    def lineage_of(self, mv: ModelVersion) -> list[DataVersion]:
        """Data versions the run that produced ``mv`` read (and the one it names in ``data``)."""
        found = self.workspace.store.data.inputs_of(mv.run_id) if mv.run_id else []
        if mv.data_ref and mv.data_ref.startswith("data:/"):
            try:
                named = self.get_data(mv.data_ref)
            except PodiumError:
                named = None
            if named is not None and all(d.uri != named.uri for d in found):
                found.append(named)
        return found

    def lineage(self, ref: str, *, direction: str = "both", depth: int | None = None) -> Lineage:
        """What ``ref`` was made from and what was made from it, as ``podium lineage`` shows:
        a data version, a run id, a model version (``churn@champion``) or a deployment.

        >>> client.lineage("churn@champion", direction="upstream").to_dict()["edges"]
        ... # doctest: +SKIP
        [{'from': 'run:01a2...', 'to': 'models:/churn/3', 'kind': 'registered'}, ...]
        """
        return lineage(self.workspace.store, ref, direction=direction, depth=depth)

    # -- runs --------------------------------------------------------------------------------
    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        """Runs, newest first. ``trigger`` is a kind (manual, schedule, event, retrain,
        check) or one schedule's or event's runs (``schedule:nightly``)."""
        return self.workspace.store.runs.list_runs(
            pipeline=pipeline,
            status=status,
            trigger=check_trigger(trigger) if trigger else None,
            limit=limit,
            offset=offset,
        )

    def pipelines(self) -> list[dict[str, Any]]:
        """Every pipeline that has run or is scheduled: runs so far, newest run, schedules."""
        ran = self.workspace.store.runs.pipelines()
        scheduled: dict[str, list[str]] = {}
        for s in self.list_schedules():
            key = s.pipeline_ref.rpartition(":")[2] or s.pipeline_ref
            scheduled.setdefault(key, []).append(s.name)
        names = sorted(set(ran) | set(scheduled))
        newest = self.workspace.store.runs.get_many([run_id for _, run_id in ran.values()])
        last = {r.pipeline: r for r in newest}
        return [
            {
                "pipeline": n,
                "runs": ran[n][0] if n in ran else 0,
                "last_run": last.get(n),
                "schedules": scheduled.get(n, []),
            }
            for n in names
        ]

    def recover_crashed_runs(self) -> list[str]:
        """Mark runs whose process died (no heartbeat) as ``crashed``; return their ids."""
        return recover_crashed(self.workspace)

    def get_run(self, run_id: str) -> Run:
        return self.workspace.store.runs.get(run_id)

    def load_artifact(self, artifact_id: str) -> Any:
        return load_artifact(artifact_id, self.workspace)

    # -- schedules and events ----------------------------------------------------------------
    def add_schedule(
        self,
        pipeline_ref: str,
        *,
        name: str | None = None,
        cron: str | None = None,
        every: str | None = None,
        on_event: str | None = None,
        params: dict[str, Any] | None = None,
        missed: str = "skip",
        overlap: str = "skip",
        max_concurrent: int = 1,
    ) -> Schedule:
        """Schedule ``pipeline_ref`` (``module:function`` or ``file.py:function``) on a cron,
        an interval (``every="1h"``) or an event; ``podium scheduler`` fires it."""
        from podium.pipelines.schedules import add_schedule

        return add_schedule(
            self.workspace,
            pipeline_ref,
            name=name,
            cron=cron,
            every=every,
            on_event=on_event,
            params=params,
            missed=missed,
            overlap=overlap,
            max_concurrent=max_concurrent,
        )

    def list_schedules(self) -> list[Schedule]:
        return self.workspace.store.schedules.all()

    def schedule_fires(self, name: str) -> list[ScheduleFire]:
        """When ``name`` fired, what happened, and which run it started; newest first."""
        repo = self.workspace.store.schedules
        repo.get(name)  # an unknown schedule is an error, not an empty list
        return repo.fires(name)

    def pause_schedule(self, name: str) -> Schedule:
        return self.workspace.store.schedules.set_paused(name, True)

    def resume_schedule(self, name: str) -> Schedule:
        """Fire ``name`` again, from its next fire time after now."""
        from podium.pipelines.schedules import resume_schedule

        return resume_schedule(self.workspace, name)

    def remove_schedule(self, name: str) -> None:
        self.workspace.store.schedules.remove(name)

    def emit_event(self, name: str, payload: dict[str, Any] | None = None) -> Event:
        """Emit an event: schedules added with ``on_event=name`` fire once for it."""
        from podium.pipelines.schedules import emit_event

        return emit_event(self.workspace, name, payload)

    # -- retention ---------------------------------------------------------------------------
    def set_retention(
        self, kind: str, name: str, *, keep_last: int | None = None, max_age_s: float | None = None
    ) -> dict[str, Any]:
        """Keep the newest ``keep_last`` and/or expire older than ``max_age_s`` of a pipeline's
        runs, a model's versions or a deployment's prediction log; ``podium gc`` deletes."""
        p = self.workspace.store.retention.put(kind, name, keep_last=keep_last, max_age_s=max_age_s)
        return dict(p.__dict__)

    def retention_policies(self) -> list[dict[str, Any]]:
        return [dict(p.__dict__) for p in self.workspace.store.retention.all()]

    def remove_retention(self, kind: str, name: str) -> None:
        self.workspace.store.retention.remove(kind, name)

    # -- deployments -------------------------------------------------------------------------
    def deploy(self, source: DeploymentSpec | dict[str, Any] | str | Path) -> Deployment:
        """Store a deployment (a spec, a dict shaped like the YAML, or a YAML path) as
        desired state; running servers follow within a second. Same as ``podium deploy -f``."""
        from podium import deploy  # imported when used: it pulls in the rollout analysis

        return deploy.apply(self.workspace, source)

    def deploy_model(self, uri: str, name: str) -> Deployment:
        """One model version as a single-variant deployment ``name``."""
        from podium import deploy

        return deploy.deploy_model(self.workspace, uri, name)

    def get_deployment(self, name: str) -> Deployment:
        return self.workspace.store.deployments.get(name)

    def list_deployments(self) -> list[Deployment]:
        return self.workspace.store.deployments.all()

    def deployment_status(self, name: str, *, window: int = 10_000) -> dict[str, Any]:
        """What ``podium deployments status --json`` prints: per-variant figures over the
        newest ``window`` predictions, A/B significance, shadows, bandit and workers."""
        from podium.deploy.report import summary

        return summary(self.workspace, name, window=window)

    def deployment_history(self, name: str) -> list[DeploymentEvent]:
        return self.workspace.store.deployments.history(name)

    def promote(self, name: str) -> Deployment:
        from podium import deploy

        return deploy.promote(self.workspace, name)

    def rollback(self, name: str) -> Deployment:
        from podium import deploy

        return deploy.rollback(self.workspace, name)

    def pause(self, name: str) -> Deployment:
        return self.workspace.store.deployments.set_status(name, "paused")

    def resume(self, name: str) -> Deployment:
        return self.workspace.store.deployments.set_status(name, "active")

    def set_traffic(self, name: str, shares: dict[str, float]) -> Deployment:
        """Traffic shares in percent, e.g. ``{"candidate": 25}``."""
        from podium import deploy

        return deploy.set_traffic(self.workspace, name, shares)

    def flags(self, name: str) -> list[dict[str, Any]]:
        """The flags of deployment ``name`` as they apply now (spec plus run-time changes)."""
        from podium.rollout.state import effective_flags

        dep = self.get_deployment(name)
        return effective_flags(dep.spec, dep.state)

    def set_flag(
        self,
        name: str,
        flag: str,
        *,
        enabled: bool | None = None,
        percent: float | None = None,
        kill: bool | None = None,
    ) -> Deployment:
        from podium import deploy

        return deploy.set_flag(
            self.workspace, name, flag, enabled=enabled, percent=percent, kill=kill
        )

    # -- monitoring --------------------------------------------------------------------------
    def monitor_snapshot(
        self, name: str, *, rows: int | None = None, minutes: float | None = None
    ) -> dict[str, Any]:
        """Drift, performance, concept drift and health of deployment ``name`` over its
        configured window (or the newest ``rows`` predictions, or the last ``minutes``)."""
        from podium.watch import snapshot

        return snapshot(self.workspace, name, _window(rows, minutes))

    def monitor_report(
        self, name: str, *, rows: int | None = None, minutes: float | None = None
    ) -> dict[str, Any]:
        """The figures of ``podium monitor report``: the snapshot, figures over time,
        histograms per column, recent alerts and the retraining loop."""
        from podium.watch.report import build

        return build(self.workspace, name, _window(rows, minutes))

    def retraining_loops(self) -> list[dict[str, Any]]:
        """The retraining loop of each watched deployment: its phase and last figures."""
        return self.workspace.store.loops.all()

    def alerts(self, deployment: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Fired alerts, newest first."""
        return self.workspace.store.alerts.list(deployment, limit=limit)

    # -- audit -------------------------------------------------------------------------------
    def audit(
        self,
        *,
        target: str | None = None,
        target_prefix: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Audit records, newest first, filtered by target (or its start: ``models:/churn``
        also finds ``models:/churn@champion``), actor, action and time."""
        return self.workspace.store.audit.list(
            target=target,
            target_prefix=target_prefix,
            actor=actor,
            action=action,
            since=since,
            limit=limit,
            offset=offset,
        )

    # -- tokens ------------------------------------------------------------------------------
    def create_token(
        self, name: str, role: str, *, expires_in_s: float | None = None
    ) -> tuple[TokenRecord, str]:
        """Create an API token; return its record and its secret (shown this once only)."""
        from podium.auth import create_token

        return create_token(self.workspace.store.tokens, name, role, expires_in_s=expires_in_s)

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, revoked and expired ones too (never a secret)."""
        return self.workspace.store.tokens.all()

    def revoke_token(self, name: str) -> TokenRecord:
        """Revoke token ``name``; servers refuse it within a few seconds."""
        return self.workspace.store.tokens.revoke(name)

    # -- policies and approvals ----------------------------------------------------------------
    def set_policy(
        self,
        kind: str,
        name: str,
        *,
        protected_aliases: list[str] | None = None,
        approver_role: str | None = None,
        gates: list[str] | None = None,
        allow_self_approval: bool = False,
    ) -> dict[str, Any]:
        """Create or replace the approval policy (G2) of a model or a deployment.

        A model policy protects aliases (moving or deleting them); a deployment policy
        guards promotion. Gates must pass first (``"accuracy>=0.9"`` on the version being
        promoted; ``"canary"``: the canary analysis, deployments only); with an
        ``approver_role``, someone with that role (not the requester, unless
        ``allow_self_approval``) must then approve the request the move makes. Needs admin.

        >>> client.set_policy("model", "churn", protected_aliases=["champion"],
        ...                   approver_role="admin", gates=["accuracy>=0.9"])  # doctest: +SKIP
        {'kind': 'model', 'name': 'churn', 'protected_aliases': ['champion'], ...}
        """
        from podium.core.policy import check_rules, require_role

        require_role("admin", "Setting an approval policy")
        rules = check_rules(
            kind,
            name,
            protected_aliases=protected_aliases,
            approver_role=approver_role,
            gates=gates,
            allow_self_approval=allow_self_approval,
        )
        return self.workspace.store.approvals.put_policy(kind, name, rules).to_dict()

    def get_policy(self, kind: str, name: str) -> dict[str, Any]:
        from podium.core.policy import check_kind

        return self.workspace.store.approvals.get_policy(check_kind(kind), name).to_dict()

    def list_policies(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.workspace.store.approvals.policies()]

    def delete_policy(self, kind: str, name: str) -> None:
        """Remove a policy: its moves need no gate or approval any more. Needs admin."""
        from podium.core.policy import check_kind, require_role

        check_kind(kind)
        require_role("admin", "Deleting an approval policy")
        self.workspace.store.approvals.delete_policy(kind, name)

    def approval_requests(
        self, *, status: str | None = None, target: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """Approval requests, newest first (status: pending, approved, rejected, applied,
        superseded; target: e.g. ``models:/churn@champion``)."""
        return self.workspace.store.approvals.list(status=status, target=target, limit=limit)

    def approve(self, request_id: str) -> ApprovalRequest:
        """Approve a request and carry out the move it asks for (an alias move, a promotion):
        needs the policy's approver role, and another person than the requester."""
        from podium.deploy.approvals import approve

        return approve(self.workspace, request_id)

    def reject(self, request_id: str, reason: str = "") -> ApprovalRequest:
        """Reject a pending request (its requester may withdraw it)."""
        from podium.deploy.approvals import reject

        return reject(self.workspace, request_id, reason)


def _window(rows: int | None, minutes: float | None) -> Any:
    """A window override, or None for the deployment's own."""
    if rows is None and minutes is None:
        return None
    from podium.deploy.watch_spec import WindowSpec

    return WindowSpec(rows=rows, minutes=minutes)
