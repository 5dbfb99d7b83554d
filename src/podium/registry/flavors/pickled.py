"""Pickle-based flavors: joblib, and cloudpickle for any Python object with ``predict``.

Both can execute code when loaded, so they load only bytes whose sha256 equals the
digest the registry recorded when the version was created.
"""

from __future__ import annotations

import io
from typing import Any

from podium.registry.flavors.base import Flavor, require_recorded_hash


class JoblibFlavor(Flavor):
    name = "joblib"
    executes_code = True

    def accepts(self, model: Any) -> bool:
        return hasattr(model, "predict")

    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        import joblib

        buf = io.BytesIO()
        joblib.dump(model, buf)
        return buf.getvalue(), {"joblib": joblib.__version__, "type": _qualname(model)}

    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import joblib

        require_recorded_hash(self.name, data, digest)
        return joblib.load(io.BytesIO(data))


class PythonFlavor(Flavor):
    """Any object with ``predict``, pickled by value so classes from a script survive."""

    name = "python"
    executes_code = True

    def accepts(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any) -> tuple[bytes, dict[str, Any]]:
        import cloudpickle

        # cloudpickle pickles classes defined in __main__ (a script, a notebook) by value.
        return cloudpickle.dumps(model), {"type": _qualname(model)}

    def load(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import cloudpickle

        require_recorded_hash(self.name, data, digest)
        return cloudpickle.loads(data)


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
