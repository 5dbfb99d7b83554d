"""Edge: the ONNX flavor against the scikit-learn one, same model, same rows, one process.

Single-row latency through ``podium.load(...)`` (what a server calls per request), and
rows/s on 1,000,000 rows, for the registered scikit-learn flavor and the exported ONNX
flavor, beside the raw floors (``predict_proba`` on a numpy row; ``InferenceSession.run``).
One BLAS/onnxruntime thread; pinned to CPU 0 when taskset exists.

    python benchmarks/edge.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")


def per_call_us(fn: Any, n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n * 1e6)
    return best


def rows_per_s(fn: Any, x: Any) -> float:
    fn(x[:1000])
    t = time.perf_counter()
    fn(x)
    return len(x) / (time.perf_counter() - t)


def main() -> None:
    if shutil.which("taskset") and os.environ.get("PODIUM_BENCH_PINNED") != "1":
        os.environ["PODIUM_BENCH_PINNED"] = "1"
        os.execvp("taskset", ["taskset", "-c", "0", sys.executable, *sys.argv])
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PODIUM_HOME"] = tmp
        import podium
        from podium.edge import export_onnx
        from podium.workspace import Workspace

        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
        podium.register_model(model, "bench", input_example=x)
        e = export_onnx(Workspace.current(), "bench/1")
        sk = podium.load("bench/1")
        ox = podium.load("bench/1", flavor="onnx")
        row = x.iloc[:1].to_numpy()
        rng = np.random.default_rng(0)
        big = x.to_numpy()[rng.integers(0, len(x), 1_000_000)]
        session = ox.model.session
        name = session.get_inputs()[0].name
        row32 = row.astype(np.float32)
        single = {
            "sklearn predict_proba (raw floor)": per_call_us(
                lambda: model.predict_proba(row), 2000
            ),
            "podium, scikit-learn flavor": per_call_us(lambda: sk.infer(sk.validate(row)), 2000),
            "onnxruntime run (raw floor)": per_call_us(
                lambda: session.run(None, {name: row32}), 20000
            ),
            "podium, onnx flavor": per_call_us(lambda: ox.infer(ox.validate(row)), 20000),
        }
        bulk = {
            "sklearn predict_proba": rows_per_s(model.predict_proba, big),
            "onnxruntime run (float32 input)": rows_per_s(
                lambda a: session.run(None, {name: a.astype(np.float32)}), big
            ),
        }
    print(
        f"ONNX export: {e.bytes:,} bytes, labels agree {e.label_agreement:.2%}, "
        f"max probability difference {e.max_proba_diff:.2g} on {e.rows_checked} rows\n"
    )
    print(f"{'single row':<40} {'us/call':>10}")
    for k, v in single.items():
        print(f"{k:<40} {v:>10.1f}")
    print(f"\n{'1,000,000 rows':<40} {'rows/s':>12}")
    for k, v in bulk.items():
        print(f"{k:<40} {v:>12,.0f}")
    out = Path(__file__).parent / "results" / "edge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"export": e.to_dict(), "single_us": single, "rows_per_s": bulk}, indent=2)
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
