"""``podium build``: a self-contained bundle of one registered version, and its proof.

    podium-bundle.json   the version: flavor, digest, signature, lineage, server settings
    model/               the model in its safe flavor (skops or ONNX: nothing to unpickle)
    signature.json       input columns, types, classes
    input_example.json   the rows the registry kept at registration
    reference.json       what the model answered on them then, and the parity tolerance
    requirements.lock    the exact package versions (hashes where PyPI provides them)
    wheels/              podium itself, when it is installed from source, not an index
    MODEL_CARD.md        purpose, data version, metrics, signature, lineage, limitations
    SHA256SUMS           every file's sha256 (``sha256sum -c SHA256SUMS`` works too)

A bundle is opened only after its sums check out, and its model is loaded only from a
flavor that cannot execute code, so a bundle never needs the registry to be trusted.
"""

from __future__ import annotations

import json
import platform
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from podium._version import __version__
from podium.core.clock import utcnow
from podium.core.errors import IntegrityError, ValidationError
from podium.core.hashing import sha256_bytes
from podium.core.names import check_member, check_name
from podium.core.records import FlavorRecord, ModelVersion
from podium.core.signature import Signature
from podium.core.sums import SUMS, verify_sums, write_sums
from podium.registry import Predictor, Registry, flavors
from podium.registry.registry import (
    PROBA_ATOL,
    PROBA_RTOL,
    describe_differences,
    reference_differences,
    reference_output,
)
from podium.workspace import Workspace

FORMAT = 1
META = "podium-bundle.json"
SUFFIX = {"skops": ".skops", "onnx": ".onnx", "onnx-int8": ".onnx"}


@dataclass
class BuildResult:
    out: Path
    model: str
    flavor: str
    files: int
    bytes: int
    packages: int
    hashed: bool
    archive: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "model": self.model,
            "flavor": self.flavor,
            "files": self.files,
            "bytes": self.bytes,
            "packages": self.packages,
            "hashed": self.hashed,
            "archive": str(self.archive) if self.archive else None,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Parity:
    """The bundle's model against the predictions recorded at registration."""

    ok: bool
    rows: int
    differences: list[dict[str, Any]] = field(default_factory=list)
    max_abs_diff: float = 0.0
    tolerance: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "differences": self.differences,
        }

    def describe(self) -> str:
        return describe_differences(self.differences)


# -- building --------------------------------------------------------------------------------
def resolve_target(ws: Workspace, target: str) -> tuple[str, dict[str, Any] | None]:
    """The model URI a target names, and the deployment spec when it is a deployment."""
    from podium.core.errors import NotFoundError

    if any(c in target for c in "/@:"):  # a model reference, not a deployment name
        return target, None
    try:
        dep = ws.store.deployments.get(target)
    except NotFoundError:
        return target, None
    spec, variants = dep.spec, dep.spec["variants"]
    live = {
        "single": lambda: next(iter(variants)),
        "rolling": lambda: next(iter(variants)),
        "shadow": lambda: spec["shadow"]["primary"],
        "bluegreen": lambda: dep.state.get("live") or spec["bluegreen"]["live"],
        "canary": lambda: (spec.get("canary") or {}).get("stable", "stable"),
        "flags": lambda: spec["flags"]["default"],
    }.get(spec["strategy"])
    if live is None:
        raise ValidationError(
            f"{target!r} ({spec['strategy']}) answers from several models at once; a bundle "
            "holds one.",
            field="target",
            hint="Build a bundle per model URI: "
            + ", ".join(v["model"] for v in variants.values()),
        )
    return variants[live()]["model"], spec


def build(
    ws: Workspace,
    target: str,
    out: Path,
    *,
    archive: bool = False,
    docker: bool = False,
    hashes: bool = True,
    force: bool = False,
) -> BuildResult:
    """Write the bundle of ``target`` (a model URI or a deployment) into ``out``."""
    import time

    from podium.packaging.card import model_card
    from podium.packaging.lock import make_lock

    started = time.perf_counter()
    uri, spec = resolve_target(ws, target)
    registry = Registry(ws.store, ws.artifacts)
    mv = registry.get(uri)
    rec = _safe_flavor(mv)
    if mv.signature is None or mv.input_example is None or mv.reference_output is None:
        raise ValidationError(
            f"{mv.uri} has no input example, so nothing could prove the bundle predicts as it "
            "did at registration.",
            field="model",
            hint="Register the model with input_example=X (a few rows).",
        )
    _prepare(out, force)
    model_file = f"model/model{SUFFIX.get(rec.flavor, '.bin')}"
    (out / "model").mkdir()
    (out / model_file).write_bytes(ws.artifacts.get(rec.digest))
    lock = make_lock(rec.flavor, out / "wheels", wheel_cache(), hashes=hashes)
    (out / "requirements.lock").write_text(lock.text())
    sig = Signature.from_dict(mv.signature)
    tolerance = {"probabilities_rtol": PROBA_RTOL, "probabilities_atol": PROBA_ATOL}
    if rec.flavor.startswith("onnx"):  # float32: the tolerance its parity check held to
        tolerance = {"probabilities_rtol": 0.0, "probabilities_atol": _onnx_tolerance(mv, rec)}
    meta = {
        "format": FORMAT,
        # The example and its reference live in their own files, checked on their own.
        "model": mv.to_dict()
        | {"uri": mv.uri, "flavors": None, "input_example": None, "reference_output": None},
        "flavor": {**rec.to_dict(), "file": model_file},
        "built": {
            "at": utcnow().isoformat(),
            "podium": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "podium_wheel": f"wheels/{lock.podium_wheel}" if lock.podium_wheel else None,
        },
        "server": {"port": 8080, "workers": 1, "deployment": spec},
        "tolerance": tolerance,
    }
    _write_json(out / META, meta)
    _write_json(out / "signature.json", {**sig.to_dict(), "columns": sig.columns})
    _write_json(out / "input_example.json", mv.input_example)
    _write_json(out / "reference.json", {**mv.reference_output, "tolerance": tolerance})
    (out / "MODEL_CARD.md").write_text(model_card(mv, rec.flavor, sig, lock, registry))
    if docker:
        from podium.packaging.docker import write_docker_files

        write_docker_files(out, meta)
    write_sums(out)
    files = [p for p in out.rglob("*") if p.is_file()]
    result = BuildResult(
        out=out,
        model=mv.uri,
        flavor=rec.flavor,
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        packages=len(lock.pins) + (1 if lock.podium_wheel else 0),
        hashed=all(p.hashes for p in lock.pins),
    )
    if archive:
        result.archive = _archive(out)
    result.seconds = time.perf_counter() - started
    return result


def wheel_cache() -> Path:
    """Where podium's own wheel is kept between builds (per source content)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podium" / "wheels"


def _onnx_tolerance(mv: ModelVersion, rec: FlavorRecord) -> float:
    """The probability tolerance an ONNX flavor was checked at: the fast path's, else that
    of `podium export` (1e-4; 0.05 for int8)."""
    if "tolerance" in rec.meta:
        return float(rec.meta["tolerance"])
    return 0.05 if rec.meta.get("quantized") else 1e-4


def _safe_flavor(mv: ModelVersion) -> FlavorRecord:
    for rec in mv.flavors:
        if not flavors.get(rec.flavor).executes_code:
            return rec
    have = ", ".join(f.flavor for f in mv.flavors) or "none"
    raise ValidationError(
        f"{mv.uri} has no flavor that loads without executing code (it has: {have}); a bundle "
        "must be safe to open anywhere.",
        field="model",
        hint="Register it with the skops flavor, or add an ONNX flavor with "
        f"`podium export {mv.uri} --format onnx`.",
    )


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise ValidationError(
                f"{out} exists and is not empty.",
                field="out",
                hint="Choose a new folder, or pass --force to replace it.",
            )
        if (out / SUMS).is_file():  # only ever delete what looks like a bundle
            shutil.rmtree(out)
        else:
            raise ValidationError(
                f"{out} is not a bundle; --force replaces bundles only.", field="out"
            )
    out.mkdir(parents=True, exist_ok=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _archive(out: Path) -> Path:
    target = out.with_name(out.name + ".tar.gz")
    with tarfile.open(target, "w:gz") as tar:
        for p in sorted(out.rglob("*")):
            tar.add(p, arcname=f"{out.name}/{p.relative_to(out).as_posix()}", recursive=False)
    return target


# -- opening ---------------------------------------------------------------------------------
@dataclass
class Bundle:
    """A verified bundle: its metadata, and its model loaded from the safe flavor."""

    path: Path
    meta: dict[str, Any]

    @property
    def uri(self) -> str:
        return str(self.meta["model"]["uri"])

    def member(self, name: object, what: str, field: str) -> Path:
        """The bundle's file ``name`` (read from its metadata), refused with a
        :class:`ValidationError` naming ``field`` if it would lead outside the bundle."""
        return check_member(self.path, name, what=what, field=field, source=META)

    def check_names(self) -> None:
        """Refuse metadata naming a file outside the bundle or an unsafe model name (the
        sums prove the files agree with each other, not that whoever wrote them is kind)."""
        blocks: dict[str, dict[str, Any]] = {}
        for key in ("flavor", "built", "model"):
            block = self.meta.get(key)
            if not isinstance(block, dict):
                raise ValidationError(
                    f"{self.path / META} has no {key!r} block.",
                    field=f"{META}: {key}",
                    hint="Rebuild the bundle with `podium build`.",
                )
            blocks[key] = block
        self.member(blocks["flavor"].get("file"), "model file", f"{META}: flavor.file")
        wheel = blocks["built"].get("podium_wheel")
        if wheel is not None:
            self.member(wheel, "podium wheel", f"{META}: built.podium_wheel")
        check_name(blocks["model"].get("model"), "model name")

    def version(self) -> ModelVersion:
        m, f = self.meta["model"], self.meta["flavor"]
        rec = FlavorRecord(f["flavor"], f["digest"], f["size"], f["meta"])
        return ModelVersion(
            model=check_name(m["model"], "model name"),
            version=int(m["version"]),
            created_at=datetime.fromisoformat(m["created_at"]),
            created_by=m["created_by"],
            description=m["description"],
            flavors=(rec,),
            signature=m["signature"],
            input_example=json.loads((self.path / "input_example.json").read_text()),
            reference_output=self._reference()[0],
            metrics=m["metrics"],
            params=m["params"],
            tags=m["tags"],
            run_id=m["run_id"],
            data_ref=m["data_ref"],
            code_version=m["code_version"],
        )

    def load(self) -> Predictor:
        mv = self.version()
        rec = mv.flavors[0]
        fl = flavors.get(rec.flavor)
        if fl.executes_code:  # a hand-edited bundle.json cannot smuggle a pickle in
            raise ValidationError(
                f"{self.path / META} names the {rec.flavor} flavor, which executes code.",
                field="flavor",
            )
        path = self.member(self.meta["flavor"].get("file"), "model file", f"{META}: flavor.file")
        data = path.read_bytes()
        if sha256_bytes(data) != rec.digest:  # the sums prove the files agree, not the model
            raise IntegrityError(
                f"{path.relative_to(self.path.resolve())} in {self.path} does not match the "
                f"digest sha256:{rec.digest} of {META}: it is not the registered model.",
                hint="Rebuild the bundle from the registry with `podium build`.",
            )
        model = fl.load(data, rec.meta, rec.digest)
        sig = Signature.from_dict(mv.signature) if mv.signature else None
        return Predictor(model, sig, mv, rec.flavor)

    def _reference(self) -> tuple[dict[str, Any], dict[str, float]]:
        want = json.loads((self.path / "reference.json").read_text())
        return want, want.pop("tolerance", {})

    def parity(self, predictor: Predictor | None = None) -> Parity:
        """Predict on the input example and compare with the recorded reference."""
        import numpy as np

        p = predictor or self.load()
        example = json.loads((self.path / "input_example.json").read_text())
        want, tol = self._reference()
        got = reference_output(p, example)
        diff = reference_differences(
            got,
            want,
            rtol=tol.get("probabilities_rtol", PROBA_RTOL),
            atol=tol.get("probabilities_atol", PROBA_ATOL),
        )
        max_diff = 0.0
        if "probabilities" in want and "probabilities" in got:
            a = np.asarray(got["probabilities"], dtype=float)
            b = np.asarray(want["probabilities"], dtype=float)
            if a.shape == b.shape:
                max_diff = float(np.abs(a - b).max(initial=0.0))
        return Parity(not diff, len(example["data"]), diff, max_diff, tol)


def open_bundle(path: str | Path) -> Bundle:
    """Check ``path`` against its sums (refusing a changed, missing or added file by name),
    then read it."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValidationError(
            f"{folder} is not a folder.", field="bundle", hint="Build one with `podium build`."
        )
    verify_sums(folder)
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{folder / META} cannot be read: {exc}.", field="bundle") from None
    if meta.get("format") != FORMAT:
        raise ValidationError(
            f"{folder} is a bundle of format {meta.get('format')!r}; this podium reads {FORMAT}.",
            field="bundle",
            hint="Rebuild it with this version of podium.",
        )
    bundle = Bundle(folder, meta)
    bundle.check_names()
    return bundle
