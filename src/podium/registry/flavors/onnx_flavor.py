"""The ONNX flavor: a model exported with ``podium export``, run by onnxruntime.

Loading an ONNX graph runs no Python code, so no hash check is needed to stay safe (the
registry still verifies it). The loaded model speaks scikit-learn's ``predict`` /
``predict_proba`` with ``classes_``, so the server, batch scoring and ``podium.load`` use it
like any other flavor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.core.errors import ConfigError, ValidationError
from podium.registry.flavors.base import Flavor


def session(data: bytes, threads: int = 1) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            "The onnx flavor needs onnxruntime, which is not installed.",
            hint="pip install 'podium[onnx]'",
        ) from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


class OnnxRegressor:
    """An ONNX graph with one float input ``[n, columns]`` and a prediction output."""

    def __init__(self, data: bytes, meta: dict[str, Any]) -> None:
        self.session = session(data, int(meta.get("threads", 1)))
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        # InferenceSession.run re-validates the input names, checks graph capture and handles
        # a failing accelerator's fallback on every call: a third of a one-row run. Here the
        # session is CPU-only and its one input is named by us, so the compiled session is
        # called directly (the public run stays the fallback for a build without it).
        compiled = getattr(self.session, "_sess", None)
        self._graph_run: Any = getattr(compiled, "run", None)

    def _run(self, X: Any) -> list[Any]:
        x = np.asarray(X, dtype=np.float32)
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        if self._graph_run is not None:
            return list(self._graph_run(self.outputs, {self.input: x}, None))
        return list(self.session.run(self.outputs, {self.input: x}))

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self._run(X)[0]).reshape(-1)


class OnnxClassifier(OnnxRegressor):
    """Outputs: the label, then the class probabilities (exported with ZipMap off)."""

    def __init__(self, data: bytes, meta: dict[str, Any]) -> None:
        super().__init__(data, meta)
        self.classes_ = np.asarray(meta["classes"])

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self._run(X)[1], dtype=np.float64)

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Labels and probabilities from one run of the graph (it computes both anyway)."""
        labels, proba = self._run(X)[:2]
        return np.asarray(labels).reshape(-1), np.asarray(proba, dtype=np.float64)

    def predict_lists(self, X: Any) -> tuple[list[Any], list[list[float]]]:
        """:meth:`predict_with_proba` as Python lists, straight from the graph's outputs (the
        server's path: float32 to Python float is exact, so no float64 copy is needed)."""
        labels, proba = self._run(X)[:2]
        return labels.ravel().tolist(), proba.tolist()


class OnnxFlavor(Flavor):
    name = "onnx"

    def accepts(self, model: Any) -> bool:
        return isinstance(model, OnnxRegressor)

    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        raise ValidationError(
            "ONNX models are made from a registered version, not registered directly.",
            field="flavor",
            hint="Register the scikit-learn model, then `podium export MODEL_URI --format onnx`.",
        )

    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        if meta.get("classes") is not None:
            return OnnxClassifier(data, meta)
        return OnnxRegressor(data, meta)
