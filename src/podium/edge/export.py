"""``podium export``: a registered scikit-learn version as ONNX, checked against the original.

The conversion (skl2onnx, float32 input, ZipMap off) is kept only if it reproduces the
version's own predictions on its input example (the rows recorded at registration): every
label, and every probability within ``max_proba_diff``. The ONNX file then becomes the
``onnx`` flavor of the same version, with the parity figures in its metadata, so
``podium serve --flavor onnx`` and ``podium batch --flavor onnx`` run it.

``--quantize int8`` applies onnxruntime's dynamic quantization. It shrinks models with
MatMul/Gemm weights (neural networks); for linear models and trees it finds nothing to
quantize, and podium says so instead of registering a model that is not smaller.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from podium.core.errors import ValidationError
from podium.core.records import FlavorRecord
from podium.registry import Predictor, Registry, fastpath
from podium.workspace import Workspace

# Float32 arithmetic against float64: differences of about 1e-7 are expected.
MAX_PROBA_DIFF = {None: 1e-4, "int8": 0.05}
MIN_AGREEMENT = {None: 1.0, "int8": 0.95}


@dataclass
class Export:
    model: str
    flavor: str
    bytes: int
    rows_checked: int
    label_agreement: float
    max_proba_diff: float | None
    quantized: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_onnx(
    ws: Workspace,
    uri: str,
    *,
    quantize: str | None = None,
    max_proba_diff: float | None = None,
    min_agreement: float | None = None,
) -> Export:
    """Convert ``uri``, check it, and record it as the version's ``onnx`` (or ``onnx-int8``)
    flavor. Raises :class:`ValidationError` when parity fails, naming the figures.

    The conversion and the figures are the fast path's (:mod:`podium.registry.fastpath`),
    which registration already ran: a version whose fast path is ready has its ``onnx``
    flavor, and exporting it checks that flavor again at the export's own bounds.
    """
    if quantize not in (None, "int8"):
        raise ValidationError(f"--quantize takes int8, got {quantize!r}.", field="quantize")
    registry = Registry(ws.store, ws.artifacts)
    source = registry.load(uri)  # the registered flavor, the reference
    mv, sig = source.version, source.signature
    if mv is None or sig is None or mv.input_example is None or mv.reference_output is None:
        raise ValidationError(
            f"{uri} has no input example to check an export against.",
            field="model",
            hint="Register it with input_example=... .",
        )
    if not sig.all_numeric:
        raise ValidationError(
            f"{mv.uri} takes non-numeric columns; podium exports all-numeric models to ONNX.",
            field="signature",
        )
    if source._order is not None:
        raise ValidationError(
            f"{mv.uri} was fitted with its columns in another order than its signature's.",
            field="signature",
            hint="Re-register it with an input example in the order it was fitted on.",
        )
    converted = mv.flavor("onnx")  # the fast path's, made at registration
    onnx_bytes = (
        ws.artifacts.get(converted.digest)
        if converted is not None
        else fastpath.convert(source.model, len(sig.columns))
    )
    note = ""
    flavor = "onnx"
    if quantize == "int8":
        smaller = _quantize(onnx_bytes)
        if smaller is None or len(smaller) >= len(onnx_bytes):
            note = "nothing to quantize (no MatMul/Gemm weights): the float model is kept"
            quantize = None
        else:
            onnx_bytes, flavor = smaller, "onnx-int8"
    existing = mv.flavor(flavor)
    if existing is not None:  # a version's flavors never change: check the one it has
        onnx_bytes = ws.artifacts.get(existing.digest)
        note = "; ".join(filter(None, [note, "already exported: its parity checked again"]))
    x = np.asarray(mv.input_example["data"], dtype=np.float64)
    meta: dict[str, Any] = {
        "classes": source.classes if source.has_proba else None,
        "threads": 1,
        "opset": fastpath.opset(onnx_bytes),
        "quantized": quantize,
    }
    exported = Predictor(fastpath.onnx_model(onnx_bytes, meta), sig, None, flavor)
    limit = max_proba_diff if max_proba_diff is not None else MAX_PROBA_DIFF[quantize]
    floor = min_agreement if min_agreement is not None else MIN_AGREEMENT[quantize]
    fig = fastpath.figures(source, exported, x, limit)
    agreement = fig["label_agreement"]
    diff = fig["max_proba_diff"]
    if agreement < floor or (diff is not None and diff > limit):
        shown = "-" if diff is None else f"{diff:.2g}"
        raise ValidationError(
            f"The ONNX export of {mv.uri} differs from it on its {len(x)} example rows: label "
            f"agreement {agreement:.2%} (at least {floor:.2%}), max probability difference "
            f"{shown} (at most {limit:g}).",
            field="parity",
            hint="The model may use an operator skl2onnx converts loosely; it is not exported.",
        )
    meta.update({"label_agreement": agreement, "max_proba_diff": diff, "rows": len(x)})
    if existing is None:
        digest = ws.artifacts.put(onnx_bytes)
        ws.store.models.add_flavor(
            mv.model, mv.version, FlavorRecord(flavor, digest, len(onnx_bytes), meta)
        )
    return Export(mv.uri, flavor, len(onnx_bytes), len(x), agreement, diff, bool(quantize), note)


def _quantize(data: bytes) -> bytes | None:
    """Dynamic int8 quantization, or None when onnxruntime finds nothing to quantize."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load_from_string(data)
    # skl2onnx can list the default domain twice; the quantizer refuses that.
    seen: dict[str, Any] = {}
    for o in model.opset_import:
        if o.domain not in seen or o.version > seen[o.domain].version:
            seen[o.domain] = o
    del model.opset_import[:]
    model.opset_import.extend(seen.values())
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        import logging

        logging.disable(logging.WARNING)  # it advises pre-processing through the root logger
        try:
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        except Exception:  # the quantizer has no clean error type for "not applicable"
            return None
        finally:
            logging.disable(logging.NOTSET)
        return dst.read_bytes() if dst.exists() else None
