"""Periodic batch retraining on a window of the newest data versions, then batch scoring.

Each day a new version of the ``customers`` dataset is registered (``podium data add
customers.parquet --name customers``). Two pipelines run on schedules:

    # every night: retrain on the last 3 versions; deploy only if it beats the champion
    podium schedules add examples/batch_retraining.py:retrain --cron '0 2 * * *'
    # or on each new data version
    podium schedules add examples/batch_retraining.py:retrain --on-data customers

    # every morning: score the newest version into a folder of Parquet parts
    podium schedules add examples/batch_retraining.py:score --cron '0 6 * * *' \
        -p output=scores/

``python examples/batch_retraining.py`` runs both once on generated data, in ./.podium.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

import podium
from podium import pipeline, step
from podium.batch import batch_score
from podium.pipelines import beat_champion, check_data, deploy

DATASET = "customers"
MODEL = "churn"
TARGET = "churned"


@step(cache=False)  # a new data version may have arrived since the last run
def newest(versions: int) -> pd.DataFrame:
    """The newest ``versions`` versions of the dataset, concatenated (oldest first)."""
    found = podium.Client().list_data(DATASET, limit=versions)
    if not found:
        raise ValueError(f"No version of {DATASET!r} yet: `podium data add FILE --name {DATASET}`.")
    return pd.concat([podium.load_data(dv.uri) for dv in reversed(found)], ignore_index=True)


@step(outputs=["train_set", "holdout"])
def split(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The newest fifth of the rows judges the model; the rest trains it."""
    cut = len(data) - len(data) // 5
    return data.iloc[:cut], data.iloc[cut:]


@step(outputs=["x", "y"])
def xy(data: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    return data.drop(columns=TARGET), data[TARGET].astype(int).tolist()


@step
def train(data: pd.DataFrame) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
        data.drop(columns=TARGET), data[TARGET]
    )


@step(cache=False)  # registering is a side effect: it must happen on every run
def register(model: Any, x: pd.DataFrame, y: list[int]) -> str:
    mv = podium.register_model(
        model,
        MODEL,
        input_example=x.head(50),
        reference_data=x,  # what drift monitoring will compare production with
        metrics={"accuracy": float(model.score(x, y))},
        alias="champion",  # it beat the champion: it is the champion now
    )
    return mv.uri


@pipeline
def retrain(versions: int = 3, deployment: str = "churn") -> Any:
    data = check_data(newest(versions), not_null=[TARGET], min_rows=500)
    train_set, holdout = split(data)
    x, y = xy(holdout)
    model = beat_champion(train(train_set), x, y, MODEL, metric="accuracy")
    return deploy(register(model, x, y), deployment)


@step(cache=False)
def newest_uri() -> str:
    return podium.Client().list_data(DATASET, limit=1)[0].uri


@step(cache=False)
def export_features(uri: str, folder: str) -> str:
    """The newest version's features as one Parquet file (the batch job's input)."""
    from pathlib import Path

    path = Path(folder) / (uri.replace(":/", "-").replace("/", "-") + ".parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    podium.load_data(uri).drop(columns=TARGET).to_parquet(path, index=False)
    return str(path)


@pipeline
def score(output: str = "scores/", staging: str = "staging/") -> Any:
    return batch_score(f"models:/{MODEL}@champion", export_features(newest_uri(), staging), output)


def generated_day(day: int, rows: int = 2_000) -> pd.DataFrame:
    """A day of customers; who churns drifts slowly with the day."""
    import numpy as np

    rng = np.random.default_rng(day)
    x = pd.DataFrame(rng.normal(0, 1, (rows, 4)), columns=["age", "income", "visits", "tenure"])
    x[TARGET] = ((x.age * (1 - day / 20) + x.income * day / 20 - x.tenure) > 0).astype(int)
    return x


if __name__ == "__main__":
    for day in range(4):
        podium.register_data(generated_day(day), DATASET)
    print(retrain.run().outputs)
    print(score.run().outputs)
