"""A retraining pipeline that produces a worse model: it learns the labels upside down."""

from __future__ import annotations

from typing import Any

import pandas as pd

import podium
from podium.watch.retrain import LABEL, labelled
from podium.workspace import Workspace


@podium.step(cache=False)
def flipped(deployment: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    data: pd.DataFrame = labelled(Workspace.current(), deployment, 1_000)
    x, y = data.drop(columns=LABEL), 1 - data[LABEL].astype(int)
    mv = podium.register_model(
        LogisticRegression().fit(x, y), "gen", input_example=x.head(50), reference_data=x
    )
    return {"uri": mv.uri}


@podium.pipeline(name="retrain-flipped")
def retrain(deployment: str) -> Any:
    return flipped(deployment)
