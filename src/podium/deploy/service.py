"""Apply deployments: validate, resolve every variant's model, store as desired state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podium.core.errors import IntegrityError, NotFoundError, PromotionRefusedError
from podium.core.records import Deployment
from podium.deploy.approvals import guard_promotion
from podium.deploy.spec import DeploymentSpec, load_file, parse
from podium.registry import Registry
from podium.rollout import state as rollout_state
from podium.workspace import Workspace


def apply(
    ws: Workspace,
    source: DeploymentSpec | dict[str, Any] | str | Path,
    *,
    validate: bool = True,
) -> Deployment:
    """Store a deployment (a spec, a mapping, or a YAML file path) as desired state.

    Every variant's model reference must resolve now, and each version a variant newly
    points at must answer its input example with the predictions recorded at registration
    (``validate``); otherwise the deployment is refused with the rows that differ. Running
    servers make the same check before a new version takes traffic, in their own
    environment, and pick up the new revision without a restart.
    """
    if isinstance(source, DeploymentSpec):
        spec = source
    elif isinstance(source, dict):
        spec = parse(source)
    else:
        spec = load_file(source)
    registry = Registry(ws.store, ws.artifacts)
    serving = _current_versions(ws, spec.name)
    for name, variant in spec.variants.items():
        try:
            mv = registry.get(variant.model)
        except NotFoundError as exc:
            raise NotFoundError(
                f"Deployment {spec.name!r}, variant {name!r}: {exc.message}", hint=exc.hint
            ) from None
        if validate and mv.uri not in serving:
            try:
                registry.verify(registry.load(mv.uri))
            except IntegrityError as exc:
                raise IntegrityError(
                    f"Deployment {spec.name!r} refused: variant {name!r}: {exc.message}",
                    hint="Deploy a version that reproduces its registration-time predictions.",
                ) from None
    data = spec.model_dump(mode="json", exclude_none=True)
    return ws.store.deployments.apply(spec.name, data, rollout_state.initial(data))


def _current_versions(ws: Workspace, name: str) -> set[str]:
    """The versions a stored deployment already serves (validated when they were deployed)."""
    try:
        dep = ws.store.deployments.get(name)
    except NotFoundError:
        return set()
    return set(resolved_versions(ws, dep).values())


def revert(
    ws: Workspace, name: str, from_revision: int, spec: dict[str, Any], reason: str
) -> Deployment:
    """Put ``spec`` back as desired state after revision ``from_revision`` failed to roll out,
    unless a newer revision was applied meanwhile."""
    return ws.store.deployments.apply(
        name,
        spec,
        rollout_state.initial(spec),
        expect_revision=from_revision,
        kind="rolled_back",
        detail={"reason": reason, "failed_revision": from_revision},
    )


def promote(ws: Workspace, name: str) -> Deployment:
    """Blue-green: switch to the idle colour. Canary: give the candidate all traffic.

    A deployment with an approval policy (``podium policies``) is promoted only past its
    gates and with an approved request; otherwise the error names the request to approve.
    """
    dep = ws.store.deployments.get(name)
    rollout_state.promote(dep.spec, dep.state)  # a move that makes no sense asks nobody
    approval = guard_promotion(ws, dep)
    return ws.store.deployments.transition(
        name, "promoted", rollout_state.promote, approval=approval
    )


def rollback(ws: Workspace, name: str) -> Deployment:
    """Blue-green: back to the previous colour. Canary: take the candidate's traffic away."""
    return ws.store.deployments.transition(name, "rolled_back", rollout_state.rollback)


def set_traffic(ws: Workspace, name: str, shares: dict[str, float]) -> Deployment:
    """Change traffic shares (percent) of an A/B, canary or blue-green deployment.

    Under a deployment policy, shares that would hand a canary's candidate all traffic, or
    switch a blue-green deployment's live colour, are a promotion: refused here, so the
    policy's gates and approval cannot be stepped around.
    """
    guarded = ws.store.approvals.policy("deployment", name) is not None

    def change(spec: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        after = rollout_state.set_traffic(spec, state, shares)
        if guarded and _promotes(spec["strategy"], state, after):  # checked under the lock
            raise PromotionRefusedError(
                f"Those shares would promote deployment {name!r}, which has an approval "
                "policy: a promotion goes through its gates and approval.",
                target=f"deployments:/{name}",
                missing=["a promotion through `podium deployments promote`"],
                hint=f"Run `podium deployments promote {name}`; `podium policies show "
                f"deployment {name}` shows what it needs.",
            )
        return after

    return ws.store.deployments.transition(name, "traffic", change, {"shares": shares})


def deploy_model(ws: Workspace, uri: str, name: str) -> Deployment:
    """One registered version as a single-variant deployment (the one-off method)."""
    return apply(ws, {"name": name, "strategy": "single", "variants": {"main": {"model": uri}}})


def resolved_versions(ws: Workspace, dep: Deployment) -> dict[str, str]:
    """Each variant's model reference and the version it points at now."""
    registry = Registry(ws.store, ws.artifacts)
    out = {}
    for name, variant in dep.spec["variants"].items():
        try:
            out[name] = registry.get(variant["model"]).uri
        except NotFoundError:
            out[name] = f"{variant['model']} (no longer resolves)"
    return out


def set_flag(
    ws: Workspace,
    name: str,
    flag: str,
    *,
    enabled: bool | None = None,
    percent: float | None = None,
    kill: bool | None = None,
) -> Deployment:
    """Change a feature flag at run time: no redeploy; servers follow within a second."""
    return ws.store.deployments.transition(
        name,
        "flag",
        lambda spec, state: rollout_state.set_flag(
            spec, state, flag, enabled=enabled, percent=percent, kill=kill
        ),
        {"flag": flag},
    )


def _promotes(strategy: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a state change gives all traffic to the incoming version."""
    if strategy == "canary":
        return float(after.get("percent", 0)) >= 100 > float(before.get("percent", 0))
    if strategy == "bluegreen":
        return bool(after.get("live") != before.get("live"))
    return False
