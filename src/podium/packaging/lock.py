"""The lock: the exact package versions a bundle's model and server need.

The closure of podium's own requirements (with the extras the model's flavor needs) is
walked through the installed distributions' metadata, markers evaluated for this
interpreter, and each package pinned to the version installed here: the environment the
model was registered and proven in. Hashes come from the configured indexes' simple pages
(PEP 503 links carry them), when every pinned release has them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from podium.core.errors import ConfigError

# What each flavor needs beyond podium's own requirements.
FLAVOR_EXTRAS = {"onnx": ["onnxruntime"], "onnx-int8": ["onnxruntime"]}
# podium's requirements a bundle's server never imports: batch files (pyarrow, a third of
# an image), online learning (river), store migrations (alembic) and schedules (croniter).
# The bundle tests serve every protocol from an environment without them.
NOT_FOR_SERVING = frozenset({"pyarrow", "river", "alembic", "croniter"})


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...] = ()

    def line(self) -> str:
        hashes = "".join(f" \\\n    --hash=sha256:{h}" for h in self.hashes)
        return f"{self.name}=={self.version}{hashes}\n"


@dataclass
class Lock:
    pins: list[Pin]
    python: str = field(default_factory=lambda: python_version())
    podium_wheel: str | None = None  # a wheel in the bundle when podium is not on an index

    def text(self) -> str:
        head = (
            f"# podium bundle lock: Python {self.python}, {len(self.pins)} packages.\n"
            "# pip install --no-deps -r requirements.lock"
            + (" wheels/*.whl" if self.podium_wheel else "")
            + "\n"
        )
        return head + "".join(p.line() for p in self.pins)

    @staticmethod
    def parse(text: str) -> list[Pin]:
        pins, current = [], ""
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            if current.strip():
                parts = current.split()
                name, _, version = parts[0].partition("==")
                hashes = tuple(p.split(":", 1)[1] for p in parts[1:] if p.startswith("--hash="))
                pins.append(Pin(name, version, hashes))
            current = ""
        return pins


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: list[str], skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every installed distribution ``roots`` need (``name`` or ``name[extra,...]``), with
    its installed version, by normalized name; requirements named in ``skip`` are left out
    with what only they need."""
    from packaging.requirements import Requirement

    env = {"python_version": python_version()}
    seen: dict[str, str] = {}
    todo = [Requirement(r) for r in roots]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (_norm(req.name), frozenset(req.extras))
        if key in done:
            continue
        done.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise ConfigError(
                f"{req.name} is needed by the model's environment but is not installed here.",
                hint=f"pip install {req.name}",
            ) from None
        seen[_norm(dist.metadata["Name"])] = dist.version
        for spec in dist.requires or []:
            sub = Requirement(spec)
            extras = req.extras or {""}
            if _norm(sub.name) in skip:
                continue
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e}) for e in extras):
                todo.append(sub)
    return seen


def podium_source() -> Path | None:
    """The source folder podium is installed from (an editable or local install), if any."""
    dist = metadata.distribution("podium")
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    if not url.startswith("file://"):
        return None
    path = Path(url[len("file://") :])
    return path if (path / "pyproject.toml").is_file() else None


def build_podium_wheel(out: Path, cache: Path) -> Path | None:
    """A wheel of this podium when it is installed from source (so a fresh environment can
    install it without an index). Built once per source content, then cached."""
    src = podium_source()
    if src is None:
        return None
    from podium.core.hashing import sha256_parts

    tree = (src / "src" / "podium").rglob("*")
    files = sorted(p for p in tree if p.is_file() and p.suffix != ".pyc")
    key = sha256_parts(
        [str(p.relative_to(src)).encode() + p.read_bytes() for p in files]
        + [(src / "pyproject.toml").read_bytes()]
    )[:16]
    cached = cache / key
    wheels = sorted(cached.glob("podium-*.whl")) if cached.is_dir() else []
    if not wheels:
        cached.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(cached), str(src)],
            capture_output=True,
            text=True,
        )
        wheels = sorted(cached.glob("podium-*.whl"))
        if r.returncode != 0 or not wheels:
            raise ConfigError(
                f"Could not build a wheel of podium from {src}: {r.stderr.strip()[-400:]}",
                hint="Check that `pip wheel` works here (it needs the build backend, hatchling).",
            )
    out.mkdir(parents=True, exist_ok=True)
    target = out / wheels[0].name
    target.write_bytes(wheels[0].read_bytes())
    return target


def index_urls() -> list[str]:
    """The package indexes pip is configured with here (environment, then pip's config)."""
    import os

    found: list[str] = []
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        found += os.environ.get(var, "").split()
    r = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    for line in r.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(("index-url", "extra-index-url")):
            found += value.strip().strip("'\"").split()
    if not any(k.endswith("index-url") and "extra" not in k for k in r.stdout.split()):
        found.append("https://pypi.org/simple")
    return list(dict.fromkeys(u.rstrip("/") for u in found))


_LINK = re.compile(r'href="([^"#]+)#sha256=([0-9a-f]{64})"')


def _release_files(page: str, name: str, version: str) -> set[str]:
    """sha256 of the files of ``name`` ``version`` on a PEP 503 simple page."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )
    from packaging.version import InvalidVersion, Version

    want = (canonicalize_name(name), Version(version))
    out = set()
    for href, digest in _LINK.findall(page):
        file = href.rsplit("/", 1)[-1]
        try:
            if file.endswith(".whl"):
                got = parse_wheel_filename(file)[:2]
            else:
                got = parse_sdist_filename(file)
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if got == want:
            out.add(digest)
    return out


def index_hashes(pins: dict[str, str], timeout: float = 10.0) -> dict[str, tuple[str, ...]]:
    """sha256 of every file the configured indexes list for each pinned release (PEP 503
    pages carry them); {} unless every pin has some (pip wants hashes on every line or
    none)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    found: dict[str, set[str]] = {n: set() for n in pins}
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:

        def page(url: str) -> str:
            try:
                if url.startswith("file://"):
                    path = Path(url[len("file://") :]) / "index.html"
                    return path.read_text() if path.is_file() else ""
                r = client.get(url)
                return r.text if r.status_code == 200 else ""
            except (OSError, httpx.HTTPError):
                return ""

        jobs = [(n, v, f"{i}/{_norm(n)}/") for i in index_urls() for n, v in pins.items()]
        with ThreadPoolExecutor(16) as pool:
            pages = pool.map(page, [url for _, _, url in jobs])
            for (name, version, _), text in zip(jobs, pages, strict=True):
                found[name] |= _release_files(text, name, version)
    if not all(found.values()):
        return {}
    return {n: tuple(sorted(h)) for n, h in found.items()}


def make_lock(flavor: str, wheels: Path, cache: Path, *, hashes: bool = True) -> Lock:
    """Pin what a bundle of a model in ``flavor`` needs; podium itself as a wheel in
    ``wheels`` when it is installed from source, else pinned like the rest."""
    pins = closure(["podium", *FLAVOR_EXTRAS.get(flavor, [])], skip=NOT_FOR_SERVING)
    wheel = build_podium_wheel(wheels, cache)
    if wheel is not None:
        pins.pop("podium", None)
    found = index_hashes(pins) if hashes else {}
    lock = Lock([Pin(n, v, found.get(n, ())) for n, v in sorted(pins.items())])
    lock.podium_wheel = wheel.name if wheel else None
    return lock
