"""skops: the safe default for scikit-learn. Loading trusts only the types recorded at save."""

from __future__ import annotations

from typing import Any

from podium.core.errors import UnsafeModelError
from podium.registry.flavors.base import Flavor


class SkopsFlavor(Flavor):
    name = "skops"

    def accepts(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover - scikit-learn is a dependency
            return False
        return isinstance(model, BaseEstimator)

    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        import sklearn
        import skops
        import skops.io as sio

        data: bytes = sio.dumps(model)
        # Types beyond skops' safe defaults (e.g. the user's own transformer) are trusted
        # by the act of registering; they are recorded so loading trusts nothing more.
        trusted = sorted(sio.get_untrusted_types(data=data))
        meta = {
            "trusted_types": trusted,
            "skops": skops.__version__,
            "sklearn": sklearn.__version__,
        }
        return data, meta

    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import skops.io as sio

        trusted = list(meta.get("trusted_types", []))
        unexpected = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        if unexpected:
            raise UnsafeModelError(
                f"The skops blob sha256:{digest} contains types the registry did not record "
                f"as trusted: {', '.join(unexpected)}.",
                hint="Re-register the model from code you trust.",
            )
        return sio.loads(data, trusted=trusted)
