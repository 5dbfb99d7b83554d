"""The ``monitoring:`` and ``retrain:`` blocks of a deployment: what to watch, when to alert,
and how a retrained model is rolled out.

::

    monitoring:
      window: {rows: 1000}               # or {minutes: 60}
      drift: {alpha: 0.05, min_samples: 100}
      sinks:
        ops: {type: webhook, url: "http://127.0.0.1:9000/alerts"}
      alerts:
        - {name: drift, figure: drift.share, op: ">=", threshold: 0.3, sinks: [log, ops],
           retrain: true}
    retrain:
      pipeline: "examples/churn.py:train"
      shadow: {requests: 200}
      canary: {steps: [25, 100], min_requests: 100}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Figures an alert can watch; columns are named after the sections: drift.column.age.effect.
FIGURE_SECTIONS = ("drift", "prediction_drift", "performance", "concept", "health")


Detector = Literal["adwin", "ddm", "page_hinkley"]
DETECTORS: tuple[Detector, ...] = ("adwin", "ddm", "page_hinkley")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowSpec(_Strict):
    rows: int | None = Field(None, ge=1, description="The newest N predictions (default 1000).")
    minutes: float | None = Field(None, gt=0, description="Or: the last N minutes.")

    @model_validator(mode="after")
    def _default_rows(self) -> WindowSpec:
        # {minutes: 60} means the whole hour, not its newest 1,000 predictions.
        if self.rows is None and self.minutes is None:
            self.rows = 1000
        return self

    def key(self) -> tuple[int | None, float | None]:
        return (self.rows, self.minutes)


class DriftSpec(_Strict):
    """See :class:`podium.monitoring.DriftSettings` for what each field means."""

    alpha: float = Field(0.05, gt=0, lt=1)
    min_samples: int = Field(100, ge=2)
    large_sample: int = Field(1000, ge=2)
    numeric: Literal["auto", "ks", "wasserstein", "psi"] = "auto"
    categorical: Literal["auto", "chi2", "jensenshannon"] = "auto"
    wasserstein: float = Field(0.1, gt=0)
    psi: float = Field(0.2, gt=0)
    jensenshannon: float = Field(0.1, gt=0, le=1)
    cohen_h: float = Field(0.2, gt=0)
    correction: Literal["bh", "bonferroni", "none"] = "bh"
    drift_share: float = Field(0.5, gt=0, le=1)


class ConceptSpec(_Strict):
    detectors: list[Detector] = Field(default_factory=lambda: list(DETECTORS))
    params: dict[Detector, dict[str, float]] = Field(default_factory=dict)


class WebhookSink(_Strict):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="Receives the alert as a JSON POST.")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(5.0, gt=0)


class EmailSink(_Strict):
    type: Literal["email"]
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    sender: str = Field(pattern=r".+@.+")
    to: list[Annotated[str, Field(pattern=r".+@.+")]] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the SMTP password."
    )
    timeout_s: float = Field(10.0, gt=0)


Sink = Annotated[WebhookSink | EmailSink, Field(discriminator="type")]


class AlertSpec(_Strict):
    name: str
    figure: str = Field(description="e.g. drift.share, performance.accuracy, health.p99_ms")
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    threshold: float
    window: WindowSpec | None = None
    cooldown_s: float = Field(3600, ge=0, description="No new alert of this rule until then.")
    severity: Literal["info", "warning", "critical"] = "warning"
    sinks: list[str] = Field(default_factory=lambda: ["log"])
    retrain: bool = Field(False, description="Start the retraining loop (the retrain block).")
    event: str | None = Field(
        None, description="Also emit this orchestration event: schedules on it run."
    )


class MonitoringSpec(_Strict):
    reference: str | None = Field(
        None,
        description="The model whose reference profile drift compares with "
        "(default: the model serving most traffic).",
    )
    window: WindowSpec = Field(default_factory=WindowSpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)
    concept: ConceptSpec = Field(default_factory=ConceptSpec)
    sinks: dict[str, Sink] = Field(default_factory=dict)
    alerts: list[AlertSpec] = Field(default_factory=list)


class ShadowStageSpec(_Strict):
    requests: int = Field(200, ge=1, description="Mirrored requests before the canary.")
    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_wait_s: float = Field(3600, gt=0, description="Give up (roll back) after this.")


class CanaryStageSpec(_Strict):
    steps: list[float] = Field(default_factory=lambda: [10.0, 50.0, 100.0])
    min_duration_s: float = Field(60, ge=0)
    min_requests: int = Field(100, ge=1)
    max_wait_s: float = Field(3600, gt=0)
    gates: dict[str, Any] = Field(default_factory=dict, description="As canary.gates.")


class RetrainSpec(_Strict):
    pipeline: str = Field(description="module:function or path/to/file.py:function")
    params: dict[str, Any] = Field(default_factory=dict)
    model: str | None = Field(
        None, description="The model the pipeline registers (default: the reference's model)."
    )
    shadow: ShadowStageSpec = Field(default_factory=ShadowStageSpec)
    canary: CanaryStageSpec = Field(default_factory=CanaryStageSpec)
    cooldown_s: float = Field(3600, ge=0, description="No new loop until then after one ends.")


def check(monitoring: MonitoringSpec | None, retrain: RetrainSpec | None) -> list[tuple[str, str]]:
    """Cross-field problems as (field, message); empty when consistent."""
    problems: list[tuple[str, str]] = []
    if monitoring is not None:
        names: set[str] = set()
        for i, a in enumerate(monitoring.alerts):
            if a.name in names:
                problems.append((f"monitoring.alerts[{i}].name", f"{a.name!r} is used twice"))
            names.add(a.name)
            if a.figure.split(".")[0] not in FIGURE_SECTIONS:
                problems.append(
                    (
                        f"monitoring.alerts[{i}].figure",
                        f"{a.figure!r} is not a figure; it starts with one of "
                        + ", ".join(FIGURE_SECTIONS),
                    )
                )
            for s in a.sinks:
                if s != "log" and s not in monitoring.sinks:
                    known = ", ".join(["log", *monitoring.sinks])
                    problems.append(
                        (f"monitoring.alerts[{i}].sinks", f"no sink named {s!r} (sinks: {known})")
                    )
            if a.retrain and retrain is None:
                problems.append(
                    (f"monitoring.alerts[{i}].retrain", "needs a retrain block in the deployment")
                )
    if retrain is not None and monitoring is None:
        problems.append(("retrain", "needs a monitoring block with an alert that has retrain"))
    return problems
