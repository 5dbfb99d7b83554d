"""The deployment spec: what a YAML file (or the Python API) declares, validated by field.

::

    name: churn
    strategy: canary
    variants:
      stable: {model: "models:/churn@champion"}
      candidate: {model: "models:/churn@challenger"}
    canary: {steps: [5, 25, 50, 100], min_duration_s: 60, min_requests: 100}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from podium.core.errors import InvalidNameError, ValidationError
from podium.core.names import ModelRef, check_name
from podium.deploy.watch_spec import MonitoringSpec, RetrainSpec
from podium.deploy.watch_spec import check as check_watch

STRATEGIES = ("single", "shadow", "ab", "bandit", "bluegreen", "canary", "flags", "rolling")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Strict):
    model: str = Field(description="A model reference: models:/NAME/3 or models:/NAME@alias.")
    flavor: Literal["auto", "sklearn", "onnx"] | None = Field(
        None,
        description="What answers: auto (the default) is the ONNX fast path when its parity "
        "held, else the model as registered; sklearn or onnx force one.",
    )


class ShadowSpec(_Strict):
    primary: str
    shadows: list[str] = Field(min_length=1)


class ABSpec(_Strict):
    weights: dict[str, float]
    key: str = Field("header:x-podium-key", description="header:NAME or field:NAME")
    metric: str = "reward"


class BanditSpec(_Strict):
    policy: Literal["thompson", "ucb1", "epsilon_greedy"] = "thompson"
    epsilon: float = Field(0.1, ge=0, le=1)


class BlueGreenSpec(_Strict):
    live: str
    idle: str
    keep_warm_s: float = Field(300, ge=0)


class GatesSpec(_Strict):
    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_p99_ratio: float = Field(1.5, gt=0)
    p99_slack_ms: float = Field(5.0, ge=0)
    max_p99_ms: float | None = Field(None, gt=0)
    max_prediction_drift: float = Field(0.2, ge=0, le=1)
    feedback_alpha: float = Field(0.05, gt=0, lt=1)
    min_feedback: int = Field(30, ge=1)


class CanarySpec(_Strict):
    stable: str = "stable"
    candidate: str = "candidate"
    steps: list[float] = Field(default_factory=lambda: [5.0, 25.0, 50.0, 100.0])
    min_duration_s: float = Field(60, ge=0)
    min_requests: int = Field(100, ge=1)
    max_wait_s: float = Field(3600, gt=0)
    gates: GatesSpec = Field(default_factory=GatesSpec)


class RuleSpec(_Strict):
    attribute: str
    op: str
    value: Any = None


class FlagSpec(_Strict):
    name: str
    variant: str | None = Field(None, description="Route the requests the flag is on for here.")
    step: str | None = Field(
        None,
        description="Or: a step of the models' scikit-learn pipeline that runs only for the "
        "requests the flag is on for (skipped for the others).",
    )
    rules: list[RuleSpec] = Field(default_factory=list)
    percent: float = Field(100, ge=0, le=100)
    enabled: bool = True


class FlagsSpec(_Strict):
    default: str
    flags: list[FlagSpec] = Field(default_factory=list)


class RollingSpec(_Strict):
    max_parallel: int = Field(
        1, ge=1, le=64, description="Workers that may swap to the new version at the same time."
    )


class BatchingSpec(_Strict):
    max_batch: int = Field(32, ge=1, le=10_000)
    max_wait_ms: float = Field(2.0, ge=0, le=1000)


class OnlineSpec(_Strict):
    """Learn from feedback labels (models with partial_fit); see podium.serving.online."""

    batch: int = Field(32, ge=1, le=100_000, description="Labels per learning step.")
    max_wait_s: float = Field(1.0, gt=0, description="Learn what is queued at least this often.")
    window: int = Field(500, ge=10, description="Labels in the rolling prequential metric.")
    min_labels: int = Field(100, ge=1, description="Labels before the metric is trusted.")
    snapshot_every: int = Field(1000, ge=1, description="Register a snapshot every N labels.")
    snapshot_every_s: float = Field(600, gt=0, description="... or every T seconds.")
    revert_margin: float = Field(
        0.1, ge=0, description="Revert when the metric falls this far below the snapshot's."
    )


class DeploymentSpec(_Strict):
    name: str
    strategy: Literal[
        "single", "shadow", "ab", "bandit", "bluegreen", "canary", "flags", "rolling"
    ] = "single"
    variants: dict[str, Variant] = Field(min_length=1)
    description: str = ""
    workers: int = Field(1, ge=1, le=64, description="Processes for `podium serve NAME`.")
    shadow: ShadowSpec | None = None
    ab: ABSpec | None = None
    bandit: BanditSpec | None = None
    bluegreen: BlueGreenSpec | None = None
    canary: CanarySpec | None = None
    flags: FlagsSpec | None = None
    rolling: RollingSpec | None = None
    batching: BatchingSpec | None = None
    online: OnlineSpec | None = None
    monitoring: MonitoringSpec | None = None
    retrain: RetrainSpec | None = None

    def settings(self) -> Any:
        """The settings block of the chosen strategy (None for single)."""
        return getattr(self, self.strategy, None) if self.strategy != "single" else None


def parse(data: Any, source: str = "deployment") -> DeploymentSpec:
    """Validate a mapping into a :class:`DeploymentSpec`; every bad field is named."""
    if not isinstance(data, dict):
        raise ValidationError(
            f"{source}: a deployment is a mapping of fields, got {type(data).__name__}.",
            field="deployment",
        )
    try:
        spec = DeploymentSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'deployment'}: {e['msg']}"
            for e in exc.errors()
        ]
        first = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ValidationError(
            f"{source} is not a valid deployment: " + "; ".join(problems) + ".",
            field=first or "deployment",
            hint="See examples/deployments/ for one commented file per pattern.",
        ) from None
    _check_consistency(spec, source)
    return spec


def load_file(path: str | Path) -> DeploymentSpec:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"No such deployment file: {str(p)!r}.", field="file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ValidationError(f"{p} is not valid YAML: {exc}.", field="file") from None
    return parse(data, str(p))


def _check_consistency(spec: DeploymentSpec, source: str) -> None:
    def fail(field: str, message: str) -> ValidationError:
        return ValidationError(f"{source}: {field}: {message}.", field=field)

    try:
        check_name(spec.name, "deployment name")
    except InvalidNameError as exc:
        raise fail("name", exc.message) from None
    for name, variant in spec.variants.items():
        try:
            check_name(name, "variant name")
            ModelRef.parse(variant.model)
        except InvalidNameError as exc:
            raise fail(f"variants.{name}.model", exc.message) from None
    known = set(spec.variants)

    def need(field: str, names: list[str]) -> None:
        for n in names:
            if n not in known:
                raise fail(field, f"no variant named {n!r} (variants: {', '.join(sorted(known))})")

    for field, message in check_watch(spec.monitoring, spec.retrain):
        raise fail(field, message)
    if spec.monitoring is not None and spec.monitoring.reference is not None:
        try:
            ModelRef.parse(spec.monitoring.reference)
        except InvalidNameError as exc:
            raise fail("monitoring.reference", exc.message) from None
    if spec.online is not None and spec.strategy not in ("single", "rolling"):
        raise fail("online", "an online model serves alone: use strategy single")
    for name, variant in spec.variants.items():
        if variant.flavor == "onnx" and (spec.online is not None or step_flags(spec)):
            raise fail(
                f"variants.{name}.flavor",
                "onnx cannot learn online or skip a flagged pipeline step: use sklearn or auto",
            )
    if spec.online is not None and spec.workers > 1:
        # Each process would learn from the labels that happen to reach it, and snapshot
        # its own diverging model.
        raise fail("workers", "an online model learns in one process: use workers: 1")
    settings = spec.settings()
    if spec.strategy not in ("single", "rolling", "bandit") and settings is None:
        raise fail(spec.strategy, f"strategy {spec.strategy!r} needs a {spec.strategy!r} block")
    if spec.strategy in ("single", "rolling") and len(known) != 1:
        raise fail("variants", f"strategy {spec.strategy!r} serves exactly one variant")
    if spec.strategy == "shadow":
        need("shadow", [spec.shadow.primary, *spec.shadow.shadows])  # type: ignore[union-attr]
    if spec.strategy == "ab":
        need("ab.weights", list(spec.ab.weights))  # type: ignore[union-attr]
        from podium.rollout import ABSplit

        ABSplit(spec.ab.weights)  # type: ignore[union-attr]
        if not spec.ab.key.startswith(("header:", "field:")):  # type: ignore[union-attr]
            raise fail("ab.key", "use header:NAME or field:NAME")
    if spec.strategy == "bandit" and len(known) < 2:
        raise fail("variants", "a bandit needs at least two variants")
    if spec.strategy == "bluegreen":
        need("bluegreen", [spec.bluegreen.live, spec.bluegreen.idle])  # type: ignore[union-attr]
    if spec.strategy == "canary":
        c = spec.canary
        need("canary", [c.stable, c.candidate])  # type: ignore[union-attr]
        from podium.rollout import Canary

        Canary(steps=tuple(c.steps))  # type: ignore[union-attr]
    if spec.strategy == "flags":
        need("flags.default", [spec.flags.default])  # type: ignore[union-attr]
        from podium.rollout import Rule

        for i, f in enumerate(spec.flags.flags):  # type: ignore[union-attr]
            if (f.variant is None) == (f.step is None):
                raise fail(f"flags.flags[{i}]", "give either variant (to route) or step")
            if f.variant is not None:
                need(f"flags.flags[{i}].variant", [f.variant])
            for r in f.rules:
                Rule(r.attribute, r.op, r.value)


def step_flags(spec: DeploymentSpec | dict[str, Any]) -> bool:
    """Whether flags switch pipeline steps (only the scikit-learn model can skip one)."""
    data = spec.model_dump() if isinstance(spec, DeploymentSpec) else spec
    flags = (data.get("flags") or {}).get("flags") or []
    return any(f.get("step") for f in flags)


def variant_flavor(
    name: str, spec: dict[str, Any], variant: str, override: str | None = None
) -> str:
    """The flavor deployment ``name`` asks for ``variant``: ``override`` (the server's
    ``--flavor``), else the variant's ``flavor``, else auto (the ONNX fast path where its
    parity held). A deployment that learns online or skips flagged pipeline steps needs the
    scikit-learn model itself: auto becomes sklearn, and onnx is refused naming why."""
    asked = override or spec["variants"][variant].get("flavor") or "auto"
    if asked == "sklearn" or not (spec.get("online") or step_flags(spec)):
        return str(asked)
    if asked == "onnx":
        raise ValidationError(
            f"Deployment {name!r} learns online or skips flagged pipeline "
            "steps, which only the scikit-learn model can: it cannot be served with flavor onnx.",
            field="flavor",
            hint="Serve it with --flavor auto or sklearn.",
        )
    return "sklearn"
