"""Model flavors: skops (default for scikit-learn), river, python (cloudpickle), joblib, onnx."""

from __future__ import annotations

from typing import Any

from podium.core.errors import ValidationError
from podium.registry.flavors.base import Flavor
from podium.registry.flavors.onnx_flavor import OnnxFlavor
from podium.registry.flavors.pickled import JoblibFlavor, PythonFlavor
from podium.registry.flavors.river_flavor import RiverFlavor, RiverModel
from podium.registry.flavors.skops_flavor import SkopsFlavor

__all__ = [
    "FLAVORS",
    "Flavor",
    "JoblibFlavor",
    "OnnxFlavor",
    "PythonFlavor",
    "RiverFlavor",
    "RiverModel",
    "SkopsFlavor",
    "choose",
    "get",
]

# In order of preference when none is asked for.
# onnx is made by `podium export` from a registered version, never chosen at registration.
FLAVORS: dict[str, Flavor] = {
    f.name: f for f in (SkopsFlavor(), RiverFlavor(), PythonFlavor(), JoblibFlavor(), OnnxFlavor())
}


def get(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise ValidationError(
            f"Unknown flavor {name!r}; known flavors: {', '.join(FLAVORS)}.", field="flavor"
        ) from None


def choose(model: Any, name: str | None = None) -> Flavor:
    """The flavor asked for, or the safest one that accepts ``model``."""
    if name is not None:
        flavor = get(name)
        if not flavor.accepts(model):
            raise ValidationError(
                f"Flavor {name!r} cannot save a {type(model).__name__}.", field="flavor"
            )
        return flavor
    for flavor in FLAVORS.values():
        if flavor.accepts(model):
            return flavor
    raise ValidationError(
        f"Cannot register a {type(model).__name__}: it has no predict() method.",
        field="model",
        hint="Register a scikit-learn estimator or any object with a predict(X) method.",
    )
