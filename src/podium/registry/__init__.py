"""Model registry: versions, aliases, flavors and the predictor that serves them."""

from podium.registry.flavors import Flavor
from podium.registry.predictor import Predictor
from podium.registry.registry import Registry

__all__ = ["Flavor", "Predictor", "Registry"]
