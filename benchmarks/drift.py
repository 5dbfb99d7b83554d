"""Data drift: podium against a plain scipy loop over the columns (the floor), same data.

Reference and current frames of N rows x C numeric columns, 5 of them shifted by half a
standard deviation. For each contender: compute time, the extra memory its computation
allocates (tracemalloc peak), and the columns it flags. podium's reference profile is built
once (at model registration in real use), so its time is shown apart.

    python benchmarks/drift.py                      # 100k x 20 and 1M x 50
    python benchmarks/drift.py --sizes 100000x20    # one size

Evidently runs too, side by side, given an interpreter that has it (it is not a dependency
and brings its own pins): python -m venv /tmp/ev && /tmp/ev/bin/pip install evidently, then
--evidently-python /tmp/ev/bin/python. It runs in that process on the same generated data.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SHIFTED = 5
SHIFT = 0.5  # in standard deviations


def frames(rows: int, cols: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(cols)]
    ref = pd.DataFrame(rng.normal(0, 1, (rows, cols)), columns=names)
    cur = pd.DataFrame(rng.normal(0, 1, (rows, cols)), columns=names)
    shifted = names[:: cols // SHIFTED][:SHIFTED]
    cur[shifted] += SHIFT
    return ref, cur, shifted


def measure(fn: Callable[[], list[str]], repeat: int = 3) -> tuple[float, float, list[str]]:
    """(best seconds of ``repeat`` calls, extra peak MB one call allocates, flagged columns).
    Memory is traced in a separate call: tracing slows what it watches."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        flagged = fn()
        times.append(time.perf_counter() - t)
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak / 2**20, sorted(flagged, key=lambda c: int(c[1:]))


def scipy_ks(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    from scipy import stats

    p = [stats.ks_2samp(ref[c].to_numpy(), cur[c].to_numpy()).pvalue for c in ref.columns]
    return [c for c, v in zip(ref.columns, p, strict=True) if v < 0.05 / len(p)]


def scipy_wasserstein(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    from scipy import stats

    out = []
    for c in ref.columns:
        r = ref[c].to_numpy()
        if stats.wasserstein_distance(r, cur[c].to_numpy()) / r.std() >= 0.1:
            out.append(c)
    return out


def evidently_preset(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:  # pragma: no cover
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snap = Report([DataDriftPreset()]).run(cur, ref)
    found = []
    for m in snap.dict()["metrics"]:
        name = str(m.get("metric_name", ""))
        if name.startswith("ValueDrift(column=") and m["value"] >= 0.1:
            found.append(name.split("=")[1].split(",")[0])
    return found


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def run(rows: int, cols: int, evidently_python: str | None = None) -> dict[str, Any]:
    from podium.monitoring import build, detect

    ref, cur, truth = frames(rows, cols)
    results: dict[str, Any] = {"rows": rows, "columns": cols, "shifted": truth, "contenders": {}}

    def record(name: str, fn: Callable[[], list[str]]) -> None:
        s, mb, flagged = measure(fn)
        results["contenders"][name] = {"seconds": s, "peak_mb": mb, "flagged": flagged}
        mark = "the shifted" if flagged == truth else f"{flagged}"
        print(f"  {name:<34} {s:8.3f} s {mb:9.1f} MB   flags {mark}", flush=True)

    print(f"{rows:,} rows x {cols} columns, {SHIFTED} shifted by {SHIFT} std", flush=True)
    t = time.perf_counter()
    profile = build(ref)
    results["profile"] = {
        "seconds": time.perf_counter() - t,
        "bytes": len(profile.to_bytes()),
    }
    print(
        f"  podium reference profile (once)    {results['profile']['seconds']:8.3f} s, "
        f"{results['profile']['bytes'] / 2**20:.1f} MB stored",
        flush=True,
    )
    record("scipy ks_2samp loop (floor)", lambda: scipy_ks(ref, cur))
    record("scipy wasserstein/std loop", lambda: scipy_wasserstein(ref, cur))
    record("podium detect (auto: wasserstein)", lambda: detect(profile, cur).drifted)
    record(
        "podium detect (ks)",
        lambda: detect(profile, cur, settings=_ks()).drifted,
    )
    if evidently_python:
        got = subprocess.run(
            [evidently_python, __file__, "--evidently-only", f"{rows}x{cols}"],
            capture_output=True,
            text=True,
            check=True,
        )
        ev = json.loads(got.stdout.strip().splitlines()[-1])
        results["contenders"]["evidently DataDriftPreset"] = ev
        mark = "the shifted" if ev["flagged"] == truth else f"{ev['flagged']}"
        print(
            f"  {'evidently DataDriftPreset':<34} {ev['seconds']:8.3f} s "
            f"{ev['peak_mb']:9.1f} MB   flags {mark}   (import {ev['import_s']:.1f} s)",
            flush=True,
        )
    else:
        print("  evidently: not run (--evidently-python); FLOORS.md: 6.9 s on 100k x 20")
    floor = results["contenders"]["scipy ks_2samp loop (floor)"]["seconds"]
    for c in results["contenders"].values():
        c["vs_floor"] = c["seconds"] / floor
    return results


def _ks() -> Any:
    from podium.monitoring import DriftSettings

    return DriftSettings(numeric="ks", correction="bonferroni")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000x20,1000000x50", help="ROWSxCOLS,...")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "drift.json"
    )
    parser.add_argument("--evidently-python", help="An interpreter with evidently installed.")
    parser.add_argument("--evidently-only", help=argparse.SUPPRESS)  # ROWSxCOLS, in that one
    args = parser.parse_args()
    if args.evidently_only:
        rows, cols = (int(v) for v in args.evidently_only.split("x"))
        t = time.perf_counter()
        import importlib

        importlib.import_module("evidently.presets")  # its import time is part of its cost
        import_s = time.perf_counter() - t
        ref, cur, _ = frames(rows, cols)
        s, mb, flagged = measure(lambda: evidently_preset(ref, cur), repeat=1)
        print(json.dumps({"seconds": s, "peak_mb": mb, "flagged": flagged, "import_s": import_s}))
        return
    imports = {
        "podium.monitoring": import_time("podium.monitoring"),
        "scipy.stats": import_time("scipy.stats"),
    }
    print(
        f"import: podium.monitoring {imports['podium.monitoring']:.2f} s, "
        f"scipy.stats {imports['scipy.stats']:.2f} s"
    )
    out = {"imports": imports, "runs": []}
    for size in args.sizes.split(","):
        rows, cols = (int(v) for v in size.lower().split("x"))
        out["runs"].append(run(rows, cols, args.evidently_python))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
