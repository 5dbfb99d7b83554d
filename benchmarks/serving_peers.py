"""Peers for ``serving.py --peers``: ``mlflow models serve`` and ``bentoml serve``, same model.

Each peer is installed from PyPI into its own virtual environment under
``~/.cache/podium/bench-venvs/<peer>`` (``python -m venv`` + pip: the peer and the
scikit-learn version the model was fitted with). A venv is reused when its marker file says
it is complete and was made for the same requirements and Python; otherwise it is made
again. The marker records how long the set-up took.

The fitted model (``model.joblib``, dumped by ``serving.py``) is saved the peer's own way
inside its venv (``mlflow.sklearn.save_model`` twice: with an input example, so with the
signature MLflow infers from it and enforces on every request, and without one;
``bentoml.sklearn.save_model`` plus a minimal service using the current ``@bentoml.service``
API), so each peer serves exactly the same estimator.

Set the venvs up without benchmarking (prints the set-up time)::

    python benchmarks/serving_peers.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VENV_ROOT = Path.home() / ".cache" / "podium" / "bench-venvs"
MARKER = "podium-bench.json"
# What each venv gets from PyPI besides scikit-learn (pinned to the model's version).
PEER_PACKAGES = {"mlflow": ["mlflow"], "bentoml": ["bentoml"]}
# Versions to report for each venv.
REPORTED = {
    "mlflow": ["mlflow", "scikit-learn", "numpy", "pandas", "uvicorn", "fastapi", "pip"],
    "bentoml": ["bentoml", "scikit-learn", "numpy", "pandas", "uvicorn", "starlette", "pip"],
}
BENTO_SERVICE = "BenchService"


@dataclass
class PeerEnv:
    """A peer's virtual environment, ready to use."""

    name: str
    path: Path
    requirements: list[str]
    versions: dict[str, str]
    setup_s: float  # how long making it took (when it was made, perhaps in an earlier run)
    reused: bool  # found complete rather than made by this run
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def script(self, name: str) -> str:
        return str(self.path / "bin" / name)


def _versions(python: Path, packages: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(python), "-c", code, *packages], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def ensure_venv(name: str, sklearn_version: str, log: Any = sys.stdout) -> PeerEnv:
    """The venv of peer ``name``, reused if complete, else (re)made; prints what it does."""
    path = VENV_ROOT / name
    requirements = [*PEER_PACKAGES[name], f"scikit-learn=={sklearn_version}"]
    python_version = platform.python_version()
    marker = path / MARKER
    if marker.exists() and (path / "bin" / "python").exists():
        info = json.loads(marker.read_text())
        if info.get("requirements") == requirements and info.get("python") == python_version:
            print(f"{name}: reusing {path} (made in {info['setup_s']:.0f}s)", file=log, flush=True)
            return PeerEnv(name, path, requirements, info["versions"], info["setup_s"], True)
    if path.exists():  # incomplete or made for something else: ours to replace
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"{name}: making {path}: pip install {' '.join(requirements)} ...", file=log, flush=True)
    pip_log = path.parent / f"{name}-pip.log"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    with pip_log.open("w") as out:
        proc = subprocess.run(
            [str(path / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             *requirements],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if proc.returncode != 0:
        tail = "\n".join(pip_log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"pip install into {path} failed (log {pip_log}):\n{tail}")
    setup_s = time.perf_counter() - t0
    versions = _versions(path / "bin" / "python", REPORTED[name])
    marker.write_text(
        json.dumps(
            {
                "requirements": requirements,
                "python": python_version,
                "versions": versions,
                "setup_s": setup_s,
                "made": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            indent=2,
        )
    )
    print(f"{name}: ready in {setup_s:.0f}s: {versions}", file=log, flush=True)
    return PeerEnv(name, path, requirements, versions, setup_s, False)


# -- saving the model the peer's way ---------------------------------------------------------
SAVE_MLFLOW = """\
import sys
import warnings

import joblib
import mlflow.sklearn
from sklearn.datasets import load_breast_cancer

warnings.filterwarnings("ignore")
model = joblib.load(sys.argv[1])
example = load_breast_cancer(as_frame=True).data.head(5)
mlflow.sklearn.save_model(model, sys.argv[2], input_example=example)  # signature inferred
mlflow.sklearn.save_model(model, sys.argv[3])  # no signature: nothing checked per request
"""

SAVE_BENTOML = """\
import sys

import bentoml
import joblib

model = joblib.load(sys.argv[1])
print(bentoml.sklearn.save_model("bench", model).tag)
"""

BENTO_SERVICE_FILE = '''\
"""The same records -> numpy row -> predict_proba as the hand-written app, as a BentoML service."""

import warnings

import bentoml
import numpy as np

warnings.filterwarnings("ignore", message="X does not have valid feature names")


@bentoml.service
class {service}:
    bento_model = bentoml.models.BentoModel("bench:latest")

    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model(self.bento_model)
        self.columns = list(self.model.feature_names_in_)

    @bentoml.api
    def predict(self, records: list[dict[str, float]]) -> dict:
        X = np.array([[r[c] for c in self.columns] for r in records])
        proba = self.model.predict_proba(X)
        labels = self.model.classes_[proba.argmax(axis=1)]
        return {{"predictions": labels.tolist(), "probabilities": proba.tolist()}}
'''


def bentoml_home(workdir: Path) -> Path:
    return workdir / "bentoml-home"


def save_models(envs: dict[str, PeerEnv], model_path: Path, workdir: Path) -> None:
    """Save ``model_path`` in each peer's format, in ``workdir``; write the BentoML service."""
    if "mlflow" in envs:
        script = workdir / "save_mlflow.py"
        script.write_text(SAVE_MLFLOW)
        dirs = [str(mlflow_model_dir(workdir, signature)) for signature in (True, False)]
        _run(envs["mlflow"], [str(script), str(model_path), *dirs], workdir)
    if "bentoml" in envs:
        script = workdir / "save_bentoml.py"
        script.write_text(SAVE_BENTOML)
        env = {"BENTOML_HOME": str(bentoml_home(workdir))}
        _run(envs["bentoml"], [str(script), str(model_path)], workdir, env)
        service_dir = workdir / "bento"
        service_dir.mkdir(exist_ok=True)
        (service_dir / "service.py").write_text(BENTO_SERVICE_FILE.format(service=BENTO_SERVICE))


def _run(env: PeerEnv, args: list[str], cwd: Path, extra: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        [str(env.python), *args],
        cwd=cwd,
        env={**os.environ, **(extra or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{env.name}: saving the model failed:\n{proc.stdout}\n{proc.stderr}")


def mlflow_model_dir(workdir: Path, signature: bool = True) -> Path:
    return workdir / ("mlflow-model" if signature else "mlflow-model-nosig")


# -- how to start each peer ------------------------------------------------------------------
def mlflow_argv(
    env: PeerEnv, workdir: Path, host: str, port: int, signature: bool = True
) -> list[str]:
    model = str(mlflow_model_dir(workdir, signature))
    return [
        env.script("mlflow"), "models", "serve", "-m", model, "--env-manager", "local",
        "-h", host, "-p", str(port),
    ]  # fmt: skip


def bentoml_argv(env: PeerEnv, workdir: Path, host: str, port: int) -> list[str]:
    return [
        env.script("bentoml"), "serve", f"service:{BENTO_SERVICE}", "--working-dir",
        str(workdir / "bento"), "--host", host, "--port", str(port),
    ]  # fmt: skip


def peer_env_vars(name: str, env: PeerEnv, workdir: Path) -> dict[str, str]:
    """Environment for the peer's server: its venv first on PATH (for the subprocesses it
    starts) and, for BentoML, the model store the model was saved into."""
    out = {
        "PATH": f"{env.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(env.path),
    }
    if name == "bentoml":
        out["BENTOML_HOME"] = str(bentoml_home(workdir))
        out["BENTOML_DO_NOT_TRACK"] = "True"
    if name == "mlflow":
        out["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return out


def main() -> int:
    from importlib.metadata import version

    sklearn = version("scikit-learn")
    for name in PEER_PACKAGES:
        env = ensure_venv(name, sklearn)
        how = "reused" if env.reused else "made"
        print(f"{name}: {how}, set-up {env.setup_s:.0f}s, {env.versions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
