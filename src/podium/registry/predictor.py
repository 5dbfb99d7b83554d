"""A loaded model version: predictions with inputs validated against its signature."""

from __future__ import annotations

import sys
import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from podium.core.errors import ValidationError
from podium.core.records import ModelVersion
from podium.core.signature import InputValidator, ModelInput, Signature

# The array path feeds scikit-learn a float64 array in signature order, 3x faster than a
# one-row DataFrame. Column names and order were checked against ``feature_names_in_``
# when the predictor was built, so this warning would only be noise.
_FEATURE_NAMES_WARNING = "X does not have valid feature names"


class Predictor:
    """Wraps a model with its signature and registry record.

    >>> import podium
    >>> p = podium.load("models:/churn@champion")  # doctest: +SKIP
    >>> p.predict([{"age": 41, "plan": "pro"}])  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        signature: Signature | None,
        version: ModelVersion | None = None,
        flavor: str = "",
    ) -> None:
        self.model = model
        self.signature = signature
        self.version = version
        self.flavor = flavor
        self.validator: InputValidator | None = signature.validator() if signature else None
        self.has_proba = callable(getattr(model, "predict_proba", None))
        classes = getattr(model, "classes_", None)
        self.classes: list[Any] | None = (
            [c.item() if hasattr(c, "item") else c for c in classes]
            if classes is not None
            else None
        )
        self._as_frame = False
        self._finite_input = bool(
            self.validator and self.validator.numeric and not self.validator.nullable
        )
        names = getattr(model, "feature_names_in_", None)
        if signature is not None and names is not None:
            if [str(n) for n in names] != signature.columns:
                self._as_frame = True  # model wants its own column order: let pandas align
            elif signature.all_numeric:
                warnings.filterwarnings("ignore", message=_FEATURE_NAMES_WARNING)

    @property
    def name(self) -> str:
        return self.version.model if self.version else "model"

    @property
    def version_number(self) -> int | None:
        return self.version.version if self.version else None

    # -- public API: any tabular input ------------------------------------------------------
    def validate(self, X: Any) -> ModelInput:
        """Turn ``X`` (DataFrame, 2-D array, records, dict of columns) into model input."""
        import pandas as pd

        v = self.validator
        if v is None:
            return X
        if isinstance(X, pd.DataFrame):
            return self._frame(v.from_frame(X))
        if isinstance(X, np.ndarray):
            return self._frame(v.from_array(X))
        if isinstance(X, dict) and X and all(isinstance(x, list) for x in X.values()):
            return self._frame(v.from_columns(dict(X)))
        if isinstance(X, dict | list):
            return self._frame(v.from_records(X))
        raise ValidationError(
            f"Cannot predict on a {type(X).__name__}.",
            field="X",
            hint="Pass a DataFrame, a 2-D array, a list of records or a dict of columns.",
        )

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(self.validate(X)))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        if not self.has_proba:
            raise ValidationError(
                f"{type(self.model).__name__} has no predict_proba.", field="predict_proba"
            )
        return np.asarray(self.model.predict_proba(self.validate(X)))

    # -- the serving path: input already validated ----------------------------------------------
    def infer(self, model_input: ModelInput) -> tuple[list[Any], list[list[float]] | None]:
        """Labels (and class probabilities when the model has them) for validated input.

        For classifiers with ``predict_proba`` one call gives both: the label is the
        class of highest probability, as scikit-learn's own ``predict`` does.
        """
        x = self._frame(model_input)
        with self._model_config():
            if self.has_proba and self.classes is not None:
                proba = np.asarray(self.model.predict_proba(x))
                idx = proba.argmax(axis=1)
                labels = [self.classes[i] for i in idx.tolist()]
                return labels, proba.tolist()
            out = np.asarray(self.model.predict(x))
        return out.tolist(), None

    def _model_config(self) -> AbstractContextManager[Any]:
        """scikit-learn re-checks every input for NaN and inf (a quarter of a one-row call);
        when the validator has already proven the input finite, that check is skipped."""
        sklearn = sys.modules.get("sklearn")
        if (
            self._finite_input
            and sklearn is not None
            and type(self.model).__module__.startswith("sklearn")
        ):
            return sklearn.config_context(assume_finite=True)  # type: ignore[no-any-return]
        return nullcontext()

    def _frame(self, model_input: ModelInput) -> ModelInput:
        if self._as_frame and isinstance(model_input, np.ndarray) and self.signature:
            import pandas as pd

            return pd.DataFrame(model_input, columns=self.signature.columns)
        return model_input
