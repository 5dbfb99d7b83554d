"""The River flavor: online models from River, behind scikit-learn's batch interface.

River estimators learn and predict one dict at a time (``learn_one``, ``predict_one``).
:class:`RiverModel` gives them ``predict``, ``predict_proba``, ``classes_`` and
``partial_fit``, so podium serves them, batch-scores them and lets an ``online``
deployment teach them from feedback. River has no safe format of its own: the flavor
pickles (cloudpickle) and, like every pickle-based flavor, loads only bytes whose hash the
registry recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.registry.flavors.base import Flavor, require_recorded_hash


class RiverModel:
    """Wrap a River estimator (or pipeline). ``classes`` fixes the probability columns of a
    classifier (River discovers classes as it learns; a served model must not).

    >>> from river import linear_model, preprocessing  # doctest: +SKIP
    >>> model = RiverModel(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
    ...                    classes=[0, 1])  # doctest: +SKIP
    """

    def __init__(self, estimator: Any, classes: list[Any] | None = None) -> None:
        self.estimator = estimator
        if classes is not None:
            self.classes_ = np.asarray(classes)

    @staticmethod
    def _rows(X: Any) -> list[dict[str, Any]]:
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            return [{str(k): v for k, v in r.items()} for r in X.to_dict("records")]
        arr = np.asarray(X)
        return [{f"f{i}": v for i, v in enumerate(row)} for row in arr.tolist()]

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        out = [self.estimator.predict_one(r) for r in self._rows(X)]
        classes = getattr(self, "classes_", None)
        if classes is not None and len(classes) == 2:
            # River's binary classifiers answer True/False whatever the labels they learnt.
            out = [classes[int(p)] if isinstance(p, bool) else p for p in out]
        return np.asarray(out)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> RiverModel:
        for row, target in zip(self._rows(X), np.asarray(y).tolist(), strict=True):
            self.estimator.learn_one(row, target)
        return self

    def fit(self, X: Any, y: Any) -> RiverModel:
        return self.partial_fit(X, y)

    def __getattr__(self, name: str) -> Any:
        if (
            name == "predict_proba"
            and hasattr(self, "classes_")
            and hasattr(self.estimator, "predict_proba_one")
        ):
            return self._predict_proba
        raise AttributeError(name)

    def _predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        out = []
        for r in self._rows(X):
            p = self.estimator.predict_proba_one(r)
            out.append([float(p.get(c, 0.0)) for c in self.classes_.tolist()])
        return np.asarray(out)


class RiverFlavor(Flavor):
    name = "river"
    executes_code = True

    def accepts(self, model: Any) -> bool:
        return isinstance(model, RiverModel)

    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        import cloudpickle

        inner = type(model.estimator)
        return cloudpickle.dumps(model), {"type": f"{inner.__module__}.{inner.__qualname__}"}

    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import cloudpickle

        require_recorded_hash(self.name, data, digest)
        return cloudpickle.loads(data)
