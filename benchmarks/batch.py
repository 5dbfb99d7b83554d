"""Batch scoring: podium batch against the floor, a plain pyarrow loop, same data and model.

The input is N rows x 30 columns of Parquet (the breast-cancer features, resampled with
noise). The floor reads it with ``ParquetFile.iter_batches``, calls ``predict_proba`` on
each batch as a numpy array and writes the probabilities with one ``ParquetWriter``: the
least a batch job can do. podium adds validation, ids, labels, the model version, time,
partitioned output and the manifest. Each contender runs in its own process (peak RSS is
the process's), one BLAS thread, pinned to one CPU when taskset exists.

    python benchmarks/batch.py                     # 2,000,000 rows
    python benchmarks/batch.py --rows 200000       # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHUNK = 100_000
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_input(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer(as_frame=True).data
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.Table.from_pandas(x.head(1)).schema) as w:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            sample = x.sample(n, replace=True, random_state=start).reset_index(drop=True)
            w.write_table(pa.Table.from_pandas(sample * rng.uniform(0.95, 1.05, sample.shape)))


def setup(work: Path) -> None:
    """A podium workspace with the model registered, and the same model as joblib."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import podium

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    os.environ["PODIUM_HOME"] = str(work / "home")
    podium.register_model(model, "bench", input_example=x, alias="champion")
    joblib.dump(model, work / "model.joblib")


def floor(work: Path) -> dict[str, Any]:
    import joblib
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = joblib.load(work / "model.joblib")
    t = time.perf_counter()
    rows = 0
    pf = pq.ParquetFile(work / "in.parquet")
    writer = None
    for batch in pf.iter_batches(batch_size=CHUNK):
        x = batch.to_pandas().to_numpy()
        proba = model.predict_proba(x)
        out = pa.table({"proba_0": proba[:, 0], "proba_1": proba[:, 1]})
        if writer is None:
            writer = pq.ParquetWriter(work / "floor.parquet", out.schema)
        writer.write_table(out)
        rows += len(x)
    assert writer is not None
    writer.close()
    return {"rows": rows, "seconds": time.perf_counter() - t}


def podium_batch(work: Path, executor: str = "local") -> dict[str, Any]:
    os.environ["PODIUM_HOME"] = str(work / "home")
    import podium
    from podium.batch import score

    predictor = podium.load("bench@champion")
    extra: dict[str, Any] = {}
    if executor == "ray":
        # A Ray cluster is up, its workers warm, before jobs arrive: that start is shown
        # apart. The warm-up scores a small file in four parts, so both workers have
        # imported scikit-learn and loaded the model.
        import pyarrow.parquet as pq
        import ray

        t = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, num_cpus=2)
        small = pq.ParquetFile(work / "in.parquet").read_row_group(0).slice(0, 4_000)
        pq.write_table(small, work / "warm.parquet")
        score(
            predictor,
            str(work / "warm.parquet"),
            str(work / "warm-out"),
            chunk_size=1_000,
            executor="ray",
        )
        extra["ray_init_s"] = time.perf_counter() - t
    t = time.perf_counter()
    r = score(
        predictor,
        str(work / "in.parquet"),
        str(work / "podium-out"),
        chunk_size=CHUNK,
        executor=executor,
    )
    return {"rows": r.rows, "seconds": time.perf_counter() - t, **extra}


def child(name: str, work: Path) -> None:
    runs = {
        "floor": floor,
        "podium": podium_batch,
        "podium-ray": lambda w: podium_batch(w, "ray"),
    }
    got = runs[name](work)
    got["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(got))


def run(name: str, work: Path) -> dict[str, Any]:
    # One CPU for the single-process contenders; Ray gets both, for its two workers.
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and name != "podium-ray" else []
    out = subprocess.run(
        [*pin, sys.executable, __file__, "--child", name, "--work", str(work)],
        env={**os.environ, **THREADS},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "batch.json"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        make_input(work / "in.parquet", args.rows)
        setup(work)
        size = (work / "in.parquet").stat().st_size / 2**20
        print(
            f"{args.rows:,} rows x 30 columns, {size:.0f} MB of Parquet "
            f"({time.perf_counter() - t:.0f} s to make)"
        )
        results: dict[str, list[dict[str, Any]]] = {"floor": [], "podium": [], "podium-ray": []}
        for _ in range(args.rounds):  # alternate, so drift of the machine hits both alike
            for name in results:
                shutil.rmtree(work / "podium-out", ignore_errors=True)
                results[name].append(run(name, work))
    best = {n: min(rs, key=lambda r: r["seconds"]) for n, rs in results.items()}
    print(f"\n{'contender':<10} {'rows/s':>12} {'seconds':>8} {'peak RSS MB':>12}")
    for name, r in best.items():
        rate = r["rows"] / r["seconds"]
        print(f"{name:<10} {rate:>12,.0f} {r['seconds']:>8.2f} {r['peak_rss_mb']:>12.0f}")
    ratio = (best["podium"]["rows"] / best["podium"]["seconds"]) / (
        best["floor"]["rows"] / best["floor"]["seconds"]
    )
    mem = best["podium"]["peak_rss_mb"] / best["floor"]["peak_rss_mb"]
    print(
        f"\npodium: {ratio:.0%} of the floor's rows/s, {mem:.2f}x its peak memory "
        "(targets: >= 90%, <= 1.5x)"
    )
    speedup = best["podium"]["seconds"] / best["podium-ray"]["seconds"]
    print(
        f"podium on Ray, 2 workers on 2 cores: {speedup:.2f}x one local process "
        f"(Ray's start and warm-up, apart: {best['podium-ray'].get('ray_init_s', 0):.1f} s)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": args.rows, "results": results, "best": best}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
