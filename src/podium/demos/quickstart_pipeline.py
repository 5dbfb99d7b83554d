"""The quickstart's training pipeline: plain Python, as a user would write it."""

from __future__ import annotations

from typing import Any

import pandas as pd

import podium
from podium.pipelines import check_metrics, check_serialization, pipeline, step

MODEL_NAME = "breast-cancer"
TARGET = "target"


@step
def load_data() -> pd.DataFrame:
    """scikit-learn's bundled breast-cancer data: 569 rows, 30 numeric features."""
    from sklearn.datasets import load_breast_cancer

    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame


@step
def features(data: pd.DataFrame) -> pd.DataFrame:
    return data.drop(columns=TARGET)


@step(outputs=["train", "test"])
def split(data: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        data, test_size=test_size, random_state=seed, stratify=data[TARGET]
    )
    return train, test


@step
def train(data: pd.DataFrame, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline(
        [("scale", StandardScaler()), ("classify", LogisticRegression(C=c, max_iter=1000))]
    )
    return model.fit(data.drop(columns=TARGET), data[TARGET])


@step
def evaluate(model: Any, test: pd.DataFrame) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    X, y = test.drop(columns=TARGET), test[TARGET]
    proba = model.predict_proba(X)[:, 1]
    pred = model.predict(X)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred)),
        "roc_auc": float(roc_auc_score(y, proba)),
    }


@step(cache=False)  # a side effect: registering must happen on every run
def register(model: Any, metrics: dict[str, float], test: pd.DataFrame) -> dict[str, Any]:
    mv = podium.register_model(
        model,
        MODEL_NAME,
        input_example=test.drop(columns=TARGET),
        reference_data=test.drop(columns=TARGET),  # what drift monitoring compares with
        metrics=metrics,
        description="Logistic regression on scikit-learn's breast-cancer data (quickstart).",
        data="sklearn:load_breast_cancer",
        alias="champion",
        tags={"source": "podium quickstart"},
    )
    return {"name": mv.model, "version": mv.version, "uri": mv.uri}


@pipeline(name="quickstart-training")
def training(
    test_size: float = 0.25, seed: int = 42, c: float = 1.0, min_accuracy: float = 0.9
) -> Any:
    data = load_data()
    train_set, test_set = split(data, test_size, seed)
    model = train(train_set, c)
    # Gates: a model below the accuracy floor, or whose saved copy predicts differently,
    # stops the run before registration. `podium check` runs just these and what they need.
    metrics = check_metrics(evaluate(model, test_set), {"accuracy": f">= {min_accuracy}"})
    model = check_serialization(model, features(test_set))
    return register(model, metrics, test_set), test_set
