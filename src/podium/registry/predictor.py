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

# Classifiers whose predict() is, by construction, the argmax of predict_proba().
ARGMAX_CLASSIFIERS = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._logistic.LogisticRegressionCV",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.naive_bayes.ComplementNB",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    }
)


def final_estimator(model: Any) -> Any:
    """The last step of a scikit-learn pipeline (of nested pipelines), else the model."""
    steps = getattr(model, "steps", None)  # a scikit-learn Pipeline
    return final_estimator(steps[-1][1]) if steps else model


def runtime_of(flavor: str, model: Any) -> str:
    """What answers for a model, as servers name it (``X-Podium-Flavor``, the ``flavor``
    label of their metrics): ``onnx`` for an ONNX flavor, ``sklearn`` for a scikit-learn
    estimator whatever its serialization, else the flavor's name."""
    if flavor.startswith("onnx"):
        return flavor
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(model, base.BaseEstimator):
        return "sklearn"
    return flavor or "python"


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
        self.runtime = runtime_of(flavor, model)
        self.validator: InputValidator | None = signature.validator() if signature else None
        self.has_proba = callable(getattr(model, "predict_proba", None))
        classes = getattr(model, "classes_", None)
        self.classes: list[Any] | None = (
            [c.item() if hasattr(c, "item") else c for c in classes]
            if classes is not None
            else None
        )
        final = type(final_estimator(model))
        self._label_is_argmax = f"{final.__module__}.{final.__qualname__}" in ARGMAX_CLASSIFIERS
        # Models that give labels and probabilities from one call say so.
        self._both: Any = getattr(model, "predict_with_proba", None) if self.has_proba else None
        self._lists: Any = getattr(model, "predict_lists", None) if self.has_proba else None
        self._order: list[int] | None = None  # column permutation to the model's fitted order
        self._finite_input = bool(
            self.validator and self.validator.numeric and not self.validator.nullable
        )
        # Decided once here, not per request: a scikit-learn model fed proven-finite input.
        self._skip_finite_check = (
            self._finite_input
            and "sklearn" in sys.modules
            and type(model).__module__.startswith("sklearn")
        )
        names = getattr(model, "feature_names_in_", None)
        if signature is not None and names is not None:
            fitted = [str(n) for n in names]
            if fitted != signature.columns and sorted(fitted) == sorted(signature.columns):
                self._order = [signature.columns.index(n) for n in fitted]
            if signature.all_numeric:
                # A process-wide filter for this one message: podium checked names and order.
                warnings.filterwarnings("ignore", message=_FEATURE_NAMES_WARNING)

    def without_steps(self, steps: frozenset[str]) -> Predictor:
        """This model with the named steps of its scikit-learn pipeline skipped ("passthrough"),
        sharing every fitted step; the model itself when it has none of them."""
        named = getattr(self.model, "named_steps", None)
        present = sorted(s for s in steps if named is not None and s in named)
        if not present:
            return self
        import copy

        model = copy.copy(self.model)  # set_params replaces the steps list, never mutates it
        model.set_params(**dict.fromkeys(present, "passthrough"))
        return Predictor(model, self.signature, self.version, self.flavor)

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

        Labels always equal the model's own ``predict``. For estimators whose ``predict`` is
        by definition the class of highest probability (see :data:`ARGMAX_CLASSIFIERS`), one
        ``predict_proba`` call gives both; others (thresholds, SVC's Platt scaling) are
        asked twice.
        """
        if self._lists is not None:  # one call gives both (an ONNX graph)
            return self._lists(self._frame(model_input))  # type: ignore[no-any-return]
        x = self._frame(model_input)
        with self._model_config():
            if not (self.has_proba and self.classes is not None):
                return np.asarray(self.model.predict(x)).tolist(), None
            proba = np.asarray(self.model.predict_proba(x))
            if self._label_is_argmax:
                labels = [self.classes[i] for i in proba.argmax(axis=1).tolist()]
            else:
                labels = np.asarray(self.model.predict(x)).tolist()
        return labels, proba.tolist()

    def infer_arrays(self, model_input: ModelInput) -> tuple[np.ndarray[Any, Any], Any]:
        """:meth:`infer` as arrays (labels, probabilities or None), for large batches."""
        if self._both is not None:
            return self._both(self._frame(model_input))  # type: ignore[no-any-return]
        x = self._frame(model_input)
        with self._model_config():
            if not (self.has_proba and self.classes is not None):
                return np.asarray(self.model.predict(x)), None
            proba = np.asarray(self.model.predict_proba(x))
            if self._label_is_argmax:
                labels = np.asarray(self.model.classes_)[proba.argmax(axis=1)]
            else:
                labels = np.asarray(self.model.predict(x))
        return labels, proba

    def _model_config(self) -> AbstractContextManager[Any]:
        """scikit-learn re-checks every input for NaN and inf (a quarter of a one-row call);
        when the validator has already proven the input finite, that check is skipped."""
        if self._skip_finite_check:
            return sys.modules["sklearn"].config_context(assume_finite=True)  # type: ignore[no-any-return]
        return nullcontext()

    def _frame(self, model_input: ModelInput) -> ModelInput:
        if self._order is None:
            return model_input
        if isinstance(model_input, np.ndarray):
            return model_input[:, self._order]
        return model_input[[model_input.columns[i] for i in self._order]]
