"""podium: ML orchestration and deployment in one pip install.

>>> import podium
>>> mv = podium.register_model(model, "churn", input_example=X, alias="champion")  # doctest: +SKIP
>>> podium.load("models:/churn@champion").predict(X[:5])  # doctest: +SKIP

Names are imported on first use (PEP 562) so ``import podium`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from podium._version import __version__

if TYPE_CHECKING:
    from podium.client import Client
    from podium.core.errors import PodiumError
    from podium.core.names import ModelRef
    from podium.core.records import ModelVersion
    from podium.core.settings import Settings
    from podium.core.signature import Signature
    from podium.data import load_data, register_data
    from podium.pipelines import Pipeline, RunResult, Step, pipeline, step
    from podium.registry import Predictor

_LAZY = {
    "Client": "podium.client",
    "ModelRef": "podium.core.names",
    "ModelVersion": "podium.core.records",
    "Pipeline": "podium.pipelines",
    "PodiumError": "podium.core.errors",
    "Predictor": "podium.registry",
    "RunResult": "podium.pipelines",
    "Settings": "podium.core.settings",
    "Signature": "podium.core.signature",
    "Step": "podium.pipelines",
    "load_data": "podium.data",
    "register_data": "podium.data",
    "pipeline": "podium.pipelines",
    "step": "podium.pipelines",
}

__all__ = [
    "Client",
    "ModelRef",
    "ModelVersion",
    "Pipeline",
    "PodiumError",
    "Predictor",
    "RunResult",
    "Settings",
    "Signature",
    "Step",
    "__version__",
    "load",
    "load_data",
    "pipeline",
    "register_data",
    "register_model",
    "step",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def register_model(model: Any, name: str, **kwargs: Any) -> ModelVersion:
    """Register ``model`` as the next version of ``name`` in the default workspace.

    Keyword arguments are those of :meth:`podium.Client.register_model`: ``signature``,
    ``input_example``, ``metrics``, ``params``, ``tags``, ``description``, ``data``,
    ``alias``, ``flavor``, ``reference_data``.
    """
    from podium.client import Client

    return Client().register_model(model, name, **kwargs)


def load(uri: str, *, flavor: str | None = None) -> Predictor:
    """Load a model version (``models:/NAME/3``, ``NAME@champion`` ...) as a predictor."""
    from podium.client import Client

    return Client().load(uri, flavor=flavor)
