"""``podium env create``: an isolated virtual environment from a bundle's lock, and, inside
it, the proof that the model still predicts what it did at registration.

uv is used when it is on PATH (much faster), pip otherwise. The environment lives beside the
bundle (``BUNDLE.venv``), never inside it: a bundle's files are exactly those it lists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.core.errors import ConfigError, ValidationError
from podium.packaging.bundle import META, open_bundle


@dataclass
class EnvResult:
    venv: Path
    python: str
    installer: str
    packages: int
    seconds_install: float
    parity: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.parity.get("ok"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "venv": str(self.venv),
            "python": self.python,
            "installer": self.installer,
            "packages": self.packages,
            "seconds_install": round(self.seconds_install, 1),
            "parity": self.parity,
        }


def find_python(version: str | None) -> str:
    """The interpreter for ``--python X.Y`` (this one by default)."""
    if version is None:
        return sys.executable
    if not (len(version.split(".")) == 2 and all(p.isdigit() for p in version.split("."))):
        raise ValidationError(
            f"--python must look like 3.11, got {version!r}.", field="python", hint="e.g. 3.12"
        )
    if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None and shutil.which("uv") is None:
        raise ConfigError(
            f"No python{version} on PATH.",
            hint=f"Install Python {version}, or install uv, which can fetch it.",
        )
    return found or version  # uv resolves a bare version itself


def _run(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-12:]
        raise ConfigError(
            f"{what} failed ({' '.join(cmd[:4])} ...):\n" + "\n".join(tail),
            hint="Check the package index is reachable and the lock fits this platform.",
        )


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def create(bundle_dir: Path, *, python: str | None = None, venv: Path | None = None) -> EnvResult:
    """Create the environment the bundle's lock describes, then check parity inside it."""
    bundle = open_bundle(bundle_dir)  # refuses a changed bundle before anything is installed
    interpreter = find_python(python)
    target = venv or bundle_dir.with_name(bundle_dir.name + ".venv")
    if target.exists():
        if not _bin(target, "python").exists():
            raise ValidationError(
                f"{target} exists and is not a virtual environment.",
                field="venv",
                hint="Choose another --venv, or remove it.",
            )
        shutil.rmtree(target)
    lock = bundle_dir / "requirements.lock"
    wheel = bundle.meta["built"].get("podium_wheel")
    if wheel:  # open_bundle refused a name leading outside the bundle; this is its path
        wheel = str(bundle.member(wheel, "podium wheel", f"{META}: built.podium_wheel"))
    uv = shutil.which("uv")
    started = time.perf_counter()
    if uv:
        _run([uv, "venv", "-q", "--python", interpreter, str(target)], "uv venv")
        py = str(_bin(target, "python"))
        install = [uv, "pip", "install", "-q", "--python", py, "--no-deps"]
        _run([*install, "-r", str(lock)], "Installing the lock")
        if wheel:
            _run([*install, wheel], "Installing podium")
    else:
        _run([interpreter, "-m", "venv", str(target)], "Creating the virtual environment")
        py = str(_bin(target, "python"))
        install = [py, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check"]
        # Hash-checked when the lock has hashes; podium's own wheel, which has none, after.
        _run([*install, "-r", str(lock)], "Installing the lock")
        if wheel:
            _run([*install, wheel], "Installing podium")
    seconds = time.perf_counter() - started
    parity = check_inside(py, bundle_dir)
    version = subprocess.run(
        [py, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    packages = sum(1 for line in lock.read_text().splitlines() if "==" in line)
    return EnvResult(target, version, "uv" if uv else "pip", packages, seconds, parity)


def check_inside(python: str, bundle_dir: Path) -> dict[str, Any]:
    """Run ``podium env check`` with the environment's own interpreter: the model is loaded
    and compared by the packages the lock installed, not by this process's."""
    r = subprocess.run(
        [python, "-m", "podium", "env", "check", str(bundle_dir), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},  # nothing of this environment leaks in
    )
    try:
        report: dict[str, Any] = json.loads(r.stdout)
    except ValueError:
        raise ConfigError(
            "The parity check could not run inside the new environment:\n"
            + "\n".join((r.stderr or r.stdout).strip().splitlines()[-12:]),
            hint="The lock may not install a working podium for this Python.",
        ) from None
    return report
