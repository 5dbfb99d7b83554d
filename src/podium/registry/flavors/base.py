"""The flavor interface: how one kind of model becomes bytes and comes back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from podium.core.errors import UnsafeModelError
from podium.core.hashing import sha256_bytes


class Flavor(ABC):
    """Serialize and load one kind of model. Implementations hold no state.

    ``load`` receives the digest the registry recorded for the blob. Flavors whose
    format can execute code (pickle, joblib) must refuse bytes that do not hash to it.
    """

    name: str
    #: True when loading can run arbitrary code (pickle-based formats).
    executes_code: bool = False

    @abstractmethod
    def accepts(self, model: Any) -> bool:
        """Whether this flavor can save ``model``."""

    @abstractmethod
    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        """Return the serialized model and metadata needed to load it back safely."""

    @abstractmethod
    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        """Rebuild the model from ``data`` whose recorded hash is ``digest``."""


def require_recorded_hash(flavor: str, data: bytes, digest: str) -> None:
    """Refuse to unpickle bytes whose hash the registry did not record."""
    actual = sha256_bytes(data)
    if actual != digest:
        raise UnsafeModelError(
            f"Refusing to load a {flavor} blob whose hash sha256:{actual} is not the one "
            f"the registry recorded (sha256:{digest}).",
            hint="Pickle-based models load only from registry records; re-register the model.",
        )
