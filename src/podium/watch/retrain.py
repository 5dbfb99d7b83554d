"""A ready-made retraining pipeline: refit the served model on its latest labelled traffic.

For a deployment whose model is a scikit-learn estimator, ``retrain: {pipeline:
"podium.watch.retrain:from_log"}`` needs no code: the pipeline takes the newest ``rows``
predictions that got a label through ``/feedback``, refits a fresh copy of the watched
model (same class, same hyper-parameters) on most of them, scores it on the newest rest,
and registers it with those rows as its reference profile. The retraining loop then shadows
and canaries it like any candidate.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from podium.core.errors import ValidationError
from podium.core.signature import Signature
from podium.pipelines import pipeline, step
from podium.registry import Registry
from podium.watch.snapshot import served_model
from podium.workspace import Workspace

LABEL = "__label__"


def labelled(ws: Workspace, deployment: str, rows: int = 5_000) -> pd.DataFrame:
    """The inputs of the newest ``rows`` labelled predictions, with their labels in the
    ``__label__`` column, oldest first. Shadows and failed requests are left out."""
    dep = ws.store.deployments.get(deployment)
    mv = Registry(ws.store, ws.artifacts).get(served_model(dep))
    if mv.signature is None:
        raise ValidationError(f"{mv.uri} has no signature: its inputs cannot be read back.")
    columns = Signature.from_dict(mv.signature).columns
    got = ws.store.predictions.recent(deployment, limit=rows * 4)
    data: list[list[Any]] = []
    labels: list[Any] = []
    for r in reversed(got):
        label = (r.get("feedback") or {}).get("label")
        outputs = r["outputs"] or {}
        if label is None or "error" in outputs or "shadow_of" in outputs or not r["inputs"]:
            continue
        values = label if isinstance(label, list) else [label]
        if len(values) != len(r["inputs"]):
            continue  # one label for a many-row request: not attributable to a row
        data.extend(r["inputs"])
        labels.extend(values)
    frame = pd.DataFrame(data[-rows:], columns=columns)
    frame[LABEL] = labels[-rows:]
    return frame


@step(cache=False)  # the log moves on: always read it afresh
def latest_labelled(deployment: str, rows: int) -> pd.DataFrame:
    frame = labelled(Workspace.current(), deployment, rows)
    if len(frame) < 50:
        raise ValidationError(
            f"Only {len(frame)} labelled predictions of {deployment!r} to retrain on.",
            hint="Send labels to POST /feedback; retraining needs at least 50.",
        )
    return frame


@step(cache=False)  # a side effect: it registers a version
def refit(data: pd.DataFrame, deployment: str, holdout: float) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, r2_score

    ws = Workspace.current()
    registry = Registry(ws.store, ws.artifacts)
    current = registry.load(served_model(ws.store.deployments.get(deployment)))
    cut = int(len(data) * (1 - holdout))
    train, test = data.iloc[:cut], data.iloc[cut:]  # the newest rows judge the refit
    x_train, y_train = train.drop(columns=LABEL), train[LABEL].tolist()
    x_test, y_test = test.drop(columns=LABEL), test[LABEL].tolist()
    model = clone(current.model).fit(x_train, y_train)
    pred = model.predict(x_test)
    is_classifier = getattr(model, "_estimator_type", None) == "classifier" or hasattr(
        model, "predict_proba"
    )
    metrics = (
        {"accuracy": float(accuracy_score(y_test, pred))}
        if is_classifier
        else {"r2": float(r2_score(y_test, pred))}
    )
    name = current.version.model if current.version else deployment
    mv = registry.register(
        model,
        name,
        input_example=x_test.head(50),
        reference_data=data.drop(columns=LABEL),  # all it learnt from and was judged on
        metrics=metrics,
        description=f"Refit on {len(train)} labelled predictions of {deployment!r}.",
        data=f"deployments:/{deployment}",
        tags={"source": "podium retraining"},
    )
    return {"uri": mv.uri, **metrics}


@pipeline(name="retrain-from-log")
def from_log(deployment: str, rows: int = 5_000, holdout: float = 0.2) -> Any:
    """Refit the deployment's model on its newest labelled predictions and register it."""
    return refit(latest_labelled(deployment, rows), deployment, holdout)
