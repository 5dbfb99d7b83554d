"""Pipelines the dashboard tests fill the store with: one that reads a data version and
registers a challenger, one with a step that fails after a retry (and a cached step on its
second run), and one that waits, to watch a running run update live."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd

import podium
from podium.pipelines import pipeline, step

MODEL = "breast-cancer"
TARGET = "target"
release = threading.Event()  # the slow pipeline's step waits for it


@step
def read(ref: str) -> pd.DataFrame:
    frame: pd.DataFrame = podium.load_data(ref)
    return frame


@step
def fit(frame: pd.DataFrame, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=c, max_iter=500))])
    return model.fit(frame.drop(columns=TARGET), frame[TARGET])


@step(cache=False)
def publish(model: Any, frame: pd.DataFrame, ref: str) -> str:
    X = frame.drop(columns=TARGET)
    accuracy = float((model.predict(X) == frame[TARGET]).mean())
    mv = podium.register_model(
        model,
        MODEL,
        input_example=X.head(20),
        reference_data=X,
        metrics={"accuracy": accuracy, "f1": accuracy - 0.01, "roc_auc": min(accuracy + 0.01, 1)},
        params={"C": 0.3},
        data=ref,
        alias="challenger",
        description="A more regularised challenger, trained on a registered data version.",
        tags={"limitations": "Trained on 569 rows of one hospital's data."},
    )
    return mv.uri


@pipeline(name="challenger-training")
def challenger(ref: str = "data:/cancer-features/1", c: float = 0.3) -> Any:
    frame = read(ref)
    return publish(fit(frame, c), frame, ref)


@step
def prepare(n: int) -> list[int]:
    return list(range(n))


@step(retries=1, retry_delay=0)
def score(rows: list[int]) -> int:
    raise RuntimeError(f"the scoring service refused a batch of {len(rows)} rows (HTTP 503)")


@step
def summarise(total: int) -> str:
    return f"{total} scored"


@pipeline(name="nightly-scoring")
def flaky(n: int = 10) -> Any:
    return summarise(score(prepare(n)))


@step(cache=False)
def wait_for_release() -> str:
    if not release.wait(60):
        raise TimeoutError("nobody released the slow step")
    return "released"


@step(cache=False)
def after(x: str) -> str:
    return x.upper()


@pipeline(name="slow-report")
def slow() -> Any:
    return after(wait_for_release())
