"""``podium edge bundle``: a folder that predicts with nothing but onnxruntime and numpy.

model.onnx        the exported model (a flavor of the registry version)
signature.json    input columns in order, classes, the version, parity figures
example.json      the version's input example, as records
expected.json     what the registry recorded the model answering on it
predict.py        python predict.py RECORDS.json -> {"predictions": [...], ...}
README.md         how to run and check it
SHA256SUMS        sha256sum -c SHA256SUMS
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podium.core.errors import NotFoundError, ValidationError
from podium.core.sums import write_sums
from podium.registry import Registry
from podium.workspace import Workspace

PREDICT_PY = '''"""Predict with {model} using only onnxruntime and numpy.

    python predict.py RECORDS.json      # a JSON list of {{column: value}} records
    python predict.py -                 # the same on standard input
"""

import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort

HERE = pathlib.Path(__file__).resolve().parent
SIGNATURE = json.loads((HERE / "signature.json").read_text())


def predict(records):
    columns = SIGNATURE["columns"]
    missing = sorted({{c for r in records for c in columns if c not in r}})
    if missing:
        raise SystemExit(f"records lack column(s): {{', '.join(missing[:5])}}")
    x = np.array([[r[c] for c in columns] for r in records], dtype=np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(HERE / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    outputs = session.run(None, {{session.get_inputs()[0].name: x}})
    labels = np.asarray(outputs[0]).reshape(-1).tolist()
    result = {{"predictions": labels}}
    if SIGNATURE.get("classes") is not None:
        result["probabilities"] = np.asarray(outputs[1], dtype=np.float64).tolist()
        result["classes"] = SIGNATURE["classes"]
    return result


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python predict.py RECORDS.json (or - for standard input)")
    text = sys.stdin.read() if sys.argv[1] == "-" else pathlib.Path(sys.argv[1]).read_text()
    records = json.loads(text)
    if isinstance(records, dict):
        records = [records]
    print(json.dumps(predict(records)))
'''

README = """# {model} for the edge

Made by `podium edge bundle` from the registry version {model} (flavor {flavor}).

```sh
pip install onnxruntime numpy
python predict.py example.json     # compare with expected.json
sha256sum -c SHA256SUMS            # the files are the ones podium wrote
```

Input: a JSON list of records with the columns {columns}.
Checked at export on {rows} rows: labels agree {agreement}, max probability difference {diff}.
"""


def write_bundle(ws: Workspace, uri: str, out: Path, *, flavor: str = "onnx") -> dict[str, Any]:
    registry = Registry(ws.store, ws.artifacts)
    mv = registry.get(uri)
    rec = mv.flavor(flavor)
    if rec is None:
        fast = mv.fast_path or {}
        why = f" (its ONNX fast path: {fast['reason']})" if fast.get("reason") else ""
        raise NotFoundError(
            f"{mv.uri} has no {flavor!r} flavor yet{why}.",
            hint=f"Make it with `podium export {mv.uri} --format onnx`.",
        )
    if mv.signature is None or mv.input_example is None:
        raise ValidationError(f"{mv.uri} has no signature or input example.", field="model")
    if out.exists() and any(out.iterdir()):
        raise ValidationError(
            f"{out} exists and is not empty.", field="out", hint="Choose a new folder."
        )
    out.mkdir(parents=True, exist_ok=True)
    columns = [c["name"] for c in mv.signature["inputs"]]
    example = [
        dict(zip(mv.input_example["columns"], row, strict=True)) for row in mv.input_example["data"]
    ]
    meta = rec.meta
    files = {
        "model.onnx": ws.artifacts.get(rec.digest),
        "signature.json": json.dumps(
            {
                "model": mv.uri,
                "flavor": flavor,
                "columns": columns,
                "classes": meta.get("classes"),
                "parity": {k: meta.get(k) for k in ("rows", "label_agreement", "max_proba_diff")},
            },
            indent=2,
        ).encode(),
        "example.json": json.dumps(example).encode(),
        "expected.json": json.dumps(mv.reference_output).encode(),
        "predict.py": PREDICT_PY.format(model=mv.uri).encode(),
        "README.md": README.format(
            model=mv.uri,
            flavor=flavor,
            columns=", ".join(columns[:8]) + (" ..." if len(columns) > 8 else ""),
            rows=meta.get("rows"),
            agreement=f"{meta.get('label_agreement', 0):.2%}",
            diff=meta.get("max_proba_diff"),
        ).encode(),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    write_sums(out)
    return {"model": mv.uri, "flavor": flavor, "out": str(out), "files": [*files, "SHA256SUMS"]}
