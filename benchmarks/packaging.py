"""Packaging: bundle build time and size, environment re-creation time, image size.

Registers the reference model (StandardScaler + LogisticRegression on breast cancer) in a
throw-away workspace, then times, in one run:

- ``podium build`` with podium's own wheel not cached yet (cold) and cached (warm), with and
  without looking up hashes in the package indexes;
- the bundle's size on disk and as ``--archive``;
- ``podium env create`` (a fresh virtual environment from the lock, then the parity check
  inside it) with the package cache warm from the first run; the floor beside it is a bare
  ``python -m venv`` + ``pip install -r`` of the same lock (no parity check);
- the image size when a Docker engine answers (``--image``), else says why not.

    python benchmarks/packaging.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def podium(*args: str, env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "podium", *args], capture_output=True, text=True, env=env
    )
    if r.returncode != 0:
        raise SystemExit(f"podium {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t, r.stdout


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podium-pack-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "PODIUM_HOME": str(root / "home"), "XDG_CACHE_HOME": str(root)}
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        os.environ.update({"PODIUM_HOME": env["PODIUM_HOME"]})
        import podium as pd_

        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
        pd_.register_model(model, "cancer", input_example=x, alias="champion")

        rows: list[tuple[str, str]] = []
        cold, _ = podium("build", "cancer@champion", "--out", str(root / "b1"), env=env)
        rows.append(("build, podium wheel not cached, hashes", f"{cold:.2f} s"))
        warm, out = podium(
            "build", "cancer@champion", "--out", str(root / "b2"), "--archive", "--json", env=env
        )
        rows.append(("build, wheel cached, hashes", f"{warm:.2f} s"))
        nohash, _ = podium(
            "build", "cancer@champion", "--out", str(root / "b3"), "--no-hashes", env=env
        )
        rows.append(("build, wheel cached, --no-hashes", f"{nohash:.2f} s"))
        built = json.loads(out)
        rows.append(
            ("bundle size (files, incl. podium's wheel)", f"{size(root / 'b2') / 1e6:.2f} MB")
        )
        rows.append(("bundle size (.tar.gz)", f"{size(Path(built['archive'])) / 1e6:.2f} MB"))
        rows.append(("packages locked", str(built["packages"])))

        # The floor: the same lock installed by hand, nothing checked.
        venv = root / "floor.venv"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps"]
        subprocess.run([*pip, "-r", str(root / "b2" / "requirements.lock")], check=True)
        floor = time.perf_counter() - t
        rows.append(("floor: venv + pip install -r lock (warm cache)", f"{floor:.1f} s"))
        created, out = podium("env", "create", str(root / "b2"), "--json", env=env)
        made = json.loads(out)
        rows.append(
            (
                f"podium env create ({made['installer']}, warm cache, parity inside)",
                f"{created:.1f} s (install {made['seconds_install']:.1f} s, parity "
                f"{'PASS' if made['parity']['ok'] else 'FAIL'})",
            )
        )
        rows.append(("environment size", f"{size(Path(made['venv'])) / 1e6:.0f} MB"))
        slim = sum(
            p.stat().st_size
            for p in Path(made["venv"]).rglob("*")
            if p.is_file()
            and not {"tests", "__pycache__"} & set(p.parts)
            and not any(part.startswith(("pip", "setuptools")) for part in p.parts)
        )
        rows.append(
            ("environment as the image holds it (no tests, bytecode, pip)", f"{slim / 1e6:.0f} MB")
        )
        docker = shutil.which("docker")
        engine = docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0
        if engine:
            _, out = podium(
                "build", "cancer@champion", "--out", str(root / "b4"), "--image",
                "podium-bench:1", "--json", env=env,
            )  # fmt: skip
            rows.append(("image size", f"{json.loads(out)['image_bytes'] / 1e6:.0f} MB"))
        else:
            rows.append(("image size", "no Docker engine answers here: not measured"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
