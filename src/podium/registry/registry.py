"""The model registry: versions saved through flavors into the artifact store."""

from __future__ import annotations

import logging
import subprocess
from typing import Any

import numpy as np

from podium.artifacts import ArtifactStore
from podium.core.context import current_actor, run_id_var
from podium.core.errors import ApprovalRequiredError, IntegrityError, ValidationError
from podium.core.names import ModelRef, check_name
from podium.core.records import FlavorRecord, Model, ModelVersion
from podium.core.signature import Signature
from podium.registry import approvals, fastpath, flavors
from podium.registry.predictor import Predictor
from podium.store import MetadataStore

log = logging.getLogger("podium.registry")

# Rows of the input example kept in the registry (the reference for parity checks).
EXAMPLE_ROWS = 100
# Rows the model predicts on for the reference prediction distribution.
REFERENCE_PREDICT_ROWS = 200_000


class Registry:
    """Register, find and load model versions.

    >>> reg = Registry(store, artifacts)  # doctest: +SKIP
    >>> mv = reg.register(model, "churn", input_example=X_test, alias="champion")  # doctest: +SKIP
    >>> reg.load("churn@champion").predict(X_test[:3])  # doctest: +SKIP
    """

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    def register(
        self,
        model: Any,
        name: str,
        *,
        signature: Signature | dict[str, Any] | None = None,
        input_example: Any = None,
        metrics: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        data: str | None = None,
        alias: str | None = None,
        flavor: str | None = None,
        reference_data: Any = None,
    ) -> ModelVersion:
        check_name(name, "model name")
        if alias is not None:
            check_name(alias, "alias")
        if data is not None and (not isinstance(data, str) or len(data) > 256):
            raise ValidationError(
                "data must be a reference of at most 256 characters (a data version, a path "
                f"or a URL), got {str(data)[:40]!r}...",
                field="data",
            )
        metrics = _metrics(metrics)
        policy = approvals.alias_policy(self.store, name, alias) if alias is not None else None
        if policy is not None:  # failing gates refuse the registration before it stores anything
            approvals.check_gates(
                policy,
                f"models:/{name}@{alias}",
                approvals.metric_failures(policy, metrics, "the new version"),
                f"Registering a version of {name!r} as {alias!r}",
            )
        fl = flavors.choose(model, flavor)
        sig = _signature(signature, input_example, model)
        reference_rows = None
        if reference_data is not None:
            if sig is None:
                raise ValidationError(
                    "reference_data needs the model's signature.",
                    field="reference_data",
                    hint="Pass input_example too (a few rows of X).",
                )
            reference_rows = _features(reference_data, sig)  # fail before anything is stored
        tolerance = fastpath.tolerance()  # a bad setting fails here, before anything is stored
        example = _example(input_example, sig)
        blob, meta = fl.save(model)
        # Blobs first, then one transaction for the version and everything it points at: a
        # crash in between leaves only unreferenced blobs (collected by `podium gc`), never
        # a version whose blob is missing or a version without its reference profile.
        digest = self.artifacts.put(blob)
        reference = None
        loaded = None  # the model as serving will load it
        if example is not None and sig is not None:
            # Prove the serialized model predicts exactly as the one in memory.
            reference = reference_output(Predictor(model, sig), example)
            loaded = Predictor(fl.load(blob, meta, digest), sig)
            if reference_output(loaded, example) != reference:
                raise ValidationError(
                    f"The {fl.name} copy of the model predicts differently from the model in "
                    "memory on the input example.",
                    field="flavor",
                    hint="Register it with another flavor (flavor='joblib').",
                )
        profile = None
        if reference_data is not None and sig is not None:
            if loaded is None:
                loaded = Predictor(fl.load(blob, meta, digest), sig)
            profile = self._reference_profile(loaded, sig, reference_data, data_ref=data)
        # The ONNX fast path: converted and checked now, as serving will load the model. Its
        # outcome is recorded either way; it never makes the registration fail.
        outcome = fastpath.check(
            loaded if loaded is not None else Predictor(model, sig),
            fastpath.reference_rows(example, reference_rows),
            tol=tolerance,
        )
        registered = [FlavorRecord(fl.name, digest, len(blob), meta)]
        if outcome.onnx is not None and outcome.meta is not None:
            onnx_digest = self.artifacts.put(outcome.onnx)
            registered.append(
                FlavorRecord(fastpath.FLAVOR, onnx_digest, len(outcome.onnx), outcome.meta)
            )
        mv = self.store.models.create_version(
            name,
            flavors=registered,
            signature=sig.to_dict() if sig else None,
            input_example=example,
            reference_output=reference,
            metrics=_metrics(metrics),
            params=params if params is not None else _params(model),
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            description=description,
            run_id=run_id_var.get(),
            data_ref=data,
            code_version=_git_commit(),
            alias=None if policy is not None and policy.approver_role else alias,
            created_by=current_actor(),
            reference=profile,
            fast_path=outcome.record,
        )
        if policy is None or not policy.approver_role or alias is None:
            return mv
        try:  # the version stays registered; the alias waits for its approval
            return self.set_alias(name, alias, mv.version)
        except ApprovalRequiredError as exc:
            raise ApprovalRequiredError(
                f"{mv.uri} is registered, but {alias!r} does not point at it yet: {exc.message}",
                target=exc.target,
                missing=list(exc.missing),
                request_id=exc.request_id,
                approver_role=exc.approver_role,
                created=exc.created,
                hint=exc.hint,
            ) from None

    # -- reference profiles (what monitoring compares production with) --------------------
    def set_reference(
        self, uri: str | ModelRef, data: Any, *, data_ref: str | None = None
    ) -> dict[str, Any]:
        """Profile ``data`` (the training or holdout features) and the version's predictions
        on it, and store the profile as the version's reference for drift monitoring.

        Extra columns (a target, ids) are ignored; the signature's columns must be there.
        """
        predictor = self.load(uri)
        mv = predictor.version
        sig = predictor.signature
        if mv is None or sig is None:
            raise ValidationError(
                f"{uri} has no signature, so its reference data cannot be read.",
                field="reference_data",
                hint="Register the model with an input_example.",
            )
        ref = self._reference_profile(predictor, sig, data, data_ref=data_ref)
        self.store.models.set_reference(
            mv.model, mv.version, ref["digest"], ref["rows"], ref["summary"], data_ref
        )
        return {"digest": ref["digest"], **ref["summary"]}

    def _reference_profile(
        self, predictor: Predictor, sig: Signature, data: Any, *, data_ref: str | None
    ) -> dict[str, Any]:
        """Profile ``data`` and the predictions on it; store the profile's blob and return
        the record the registry keeps (digest, rows, summary, data_ref)."""
        from podium.monitoring import reference as ref_mod

        frame = _features(data, sig)
        if len(frame) == 0:
            raise ValidationError("The reference data has no rows.", field="reference_data")
        sample = (
            frame
            if len(frame) <= REFERENCE_PREDICT_ROWS
            else frame.sample(REFERENCE_PREDICT_ROWS, random_state=0)
        )
        labels, proba = predictor.infer(predictor.validate(sample))
        scores = None
        if proba is not None and len(proba[0]) == 2:
            scores = [p[1] for p in proba]  # the second class's probability
        task = "classification" if predictor.classes is not None else "regression"
        profile = ref_mod.build(frame, predictions=labels, scores=scores, task=task)
        digest = self.artifacts.put(profile.to_bytes())
        return {
            "digest": digest,
            "rows": profile.rows,
            "summary": profile.describe(),
            "data_ref": data_ref,
        }

    def reference(self, uri: str | ModelRef) -> Any:
        """The version's reference profile (:class:`podium.monitoring.Reference`), or None."""
        from podium.monitoring.reference import Reference

        mv = self.get(uri)
        rec = self.store.models.reference(mv.model, mv.version)
        if rec is None:
            return None
        return Reference.from_bytes(self.artifacts.get(rec["digest"]))

    # -- reads -----------------------------------------------------------------------------
    def get(self, uri: str | ModelRef) -> ModelVersion:
        ref = uri if isinstance(uri, ModelRef) else ModelRef.parse(uri)
        return self.store.models.resolve(ref)

    def load(self, uri: str | ModelRef, *, flavor: str | None = None) -> Predictor:
        """A :class:`Predictor` for the version ``uri`` names.

        ``flavor``: None or ``"sklearn"`` for the model as registered; ``"onnx"`` for its ONNX
        fast path (an error naming the reason when it has none); ``"auto"`` for the fast path
        when its parity held, else the registered model (what servers use); or any flavor
        the version has by name. ``"auto"`` and ``"onnx"`` check a version registered before
        podium recorded fast paths, once, and record the outcome.
        """
        mv = self.get(uri)
        mv, rec = self._flavor_record(mv, flavor)
        model = flavors.get(rec.flavor).load(self.artifacts.get(rec.digest), rec.meta, rec.digest)
        sig = Signature.from_dict(mv.signature) if mv.signature else None
        return Predictor(model, sig, mv, rec.flavor)

    def _flavor_record(
        self, mv: ModelVersion, flavor: str | None
    ) -> tuple[ModelVersion, FlavorRecord]:
        if flavor in ("auto", fastpath.FLAVOR):
            mv = self.fast_path(mv)
            onnx = mv.flavor(fastpath.FLAVOR)
            if flavor == "auto":
                flavor = fastpath.FLAVOR if fastpath.ready(mv.fast_path) and onnx else None
            elif onnx is None:
                why = fastpath.describe(mv.fast_path).rstrip(".")
                raise ValidationError(
                    f"{mv.uri} has no ONNX fast path: {why}.",
                    field="flavor",
                    hint="Serve it with --flavor sklearn, or --flavor auto (the default), which "
                    "uses the fast path only where its parity held.",
                )
        if flavor in (None, "sklearn"):
            rec = mv.flavors[0] if mv.flavors else None  # the flavor it was registered with
        else:
            rec = mv.flavor(flavor)
        if rec is None:
            have = ", ".join(f.flavor for f in mv.flavors) or "none"
            raise ValidationError(
                f"{mv.uri} has no {flavor!r} flavor (it has: {have}).",
                field="flavor",
                hint="Ask for sklearn, onnx or auto, or one of the flavors it has.",
            )
        return mv, rec

    def fast_path(self, uri: str | ModelRef | ModelVersion) -> ModelVersion:
        """The version with its ONNX fast path checked (:mod:`podium.registry.fastpath`).

        Versions are checked when registered; one registered before podium did that (or
        while the ``onnx`` extra was missing) is converted and checked now, on its input
        example, and the outcome recorded, so this happens once per version.
        """
        mv = uri if isinstance(uri, ModelVersion) else self.get(uri)
        if not fastpath.recheck(mv.fast_path) or not mv.flavors:
            return mv
        registered = mv.flavors[0]
        model = flavors.get(registered.flavor).load(
            self.artifacts.get(registered.digest), registered.meta, registered.digest
        )
        sig = Signature.from_dict(mv.signature) if mv.signature else None
        existing = mv.flavor(fastpath.FLAVOR)  # from `podium export`: checked, not redone
        outcome = fastpath.check(
            Predictor(model, sig, mv, registered.flavor),
            fastpath.reference_rows(mv.input_example),
            existing=None if existing is None else self.artifacts.get(existing.digest),
        )
        rec = None
        if outcome.onnx is not None and outcome.meta is not None and existing is None:
            digest = self.artifacts.put(outcome.onnx)
            rec = FlavorRecord(fastpath.FLAVOR, digest, len(outcome.onnx), outcome.meta)
        log.info("%s: ONNX fast path %s", mv.uri, fastpath.describe(outcome.record))
        return self.store.models.set_fast_path(
            mv.model, mv.version, outcome.record, rec, expected=mv.fast_path
        )

    def verify(self, predictor: Predictor) -> None:
        """Prove a loaded model reproduces the predictions recorded when it was registered.

        The check a server makes before a new version takes traffic: a model that loads but
        predicts differently here (another library version, a damaged environment) is
        refused. Labels must match exactly, probabilities to 1e-9; the ONNX fast path's
        probabilities (float32) to the tolerance its parity check recorded.
        """
        mv = predictor.version
        if mv is None or mv.input_example is None or mv.reference_output is None:
            return
        got = reference_output(predictor, mv.input_example)
        if predictor.flavor == fastpath.FLAVOR:
            tol = float((mv.fast_path or {}).get("tolerance") or fastpath.DEFAULT_TOLERANCE)
            diff = converted_differences(got, mv.reference_output, tol)
        else:
            diff = reference_differences(got, mv.reference_output)
        if diff:
            raise IntegrityError(
                f"{mv.uri} predicts differently here from when it was registered, on its own "
                f"input example: {describe_differences(diff)}.",
                hint="Check the library versions of this environment against the model's.",
            )

    def list_models(self, *, limit: int = 100, offset: int = 0) -> list[Model]:
        return self.store.models.list_models(limit=limit, offset=offset)

    def get_model(self, name: str) -> Model:
        return self.store.models.get_model(name)

    def list_versions(self, name: str, *, limit: int = 100, offset: int = 0) -> list[ModelVersion]:
        return self.store.models.list_versions(name, limit=limit, offset=offset)

    # -- aliases -----------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version``. A protected alias (``podium policies``) moves only
        past the model policy's gates and, when it names an approver role, with an approved
        request: otherwise :class:`ApprovalRequiredError` names the pending one."""
        approval = approvals.guard_alias(self.store, name, alias, version)
        return self.store.models.set_alias(name, alias, version, approval=approval)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias``; a protected one needs an approval, as :meth:`set_alias`."""
        approval = approvals.guard_alias(self.store, name, alias, None)
        self.store.models.delete_alias(name, alias, approval=approval)


def _signature(signature: Any, example: Any, model: Any) -> Signature | None:
    if isinstance(signature, Signature):
        return signature
    if isinstance(signature, dict):
        return Signature.from_dict(signature)
    if signature is not None:
        raise ValidationError(
            f"signature must be a Signature or a dict, got {type(signature).__name__}.",
            field="signature",
        )
    if example is None:
        return None
    head = _head(example)
    sig = Signature.infer(head)
    out = predict_example(
        model,
        sig,
        head,
        field="input_example",
        hint="Pass an input example the model was trained on (a few rows of X).",
    )
    return Signature.infer(head, output=out)


def predict_example(model: Any, sig: Signature, example: Any, *, field: str, hint: str) -> Any:
    """``model``'s predictions on ``example``; a model that cannot predict on its own
    example is a :class:`ValidationError` naming ``field``, never a traceback."""
    try:
        return Predictor(model, sig).predict(example)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(
            f"The model failed to predict on its input example: {type(exc).__name__}: {exc}.",
            field=field,
            hint=hint,
        ) from exc


def _example(example: Any, sig: Signature | None) -> dict[str, Any] | None:
    """The first rows of the example as ``{"columns": [...], "data": [[...], ...]}``."""
    if example is None or sig is None:
        return None
    import pandas as pd

    head = _head(example)
    frame = head if isinstance(head, pd.DataFrame) else pd.DataFrame(head, columns=sig.columns)
    data = frame.astype(object).where(frame.notna(), None).values.tolist()
    return {"columns": [str(c) for c in frame.columns], "data": _plain(data)}


def _features(data: Any, sig: Signature) -> Any:
    """The signature's columns of ``data`` (a DataFrame, dict of columns or 2-D array)."""
    import pandas as pd

    if isinstance(data, dict):
        data = pd.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        missing = [c for c in sig.columns if c not in data.columns]
        if missing:
            raise ValidationError(
                f"The reference data lacks column(s) {', '.join(map(repr, missing[:5]))}.",
                field="reference_data",
                hint=f"It needs the model's input columns: {', '.join(sig.columns[:8])}...",
            )
        return data[list(sig.columns)]
    arr = np.asarray(data)
    if arr.ndim != 2 or arr.shape[1] != len(sig.columns):
        raise ValidationError(
            f"The reference data has shape {arr.shape}; the model takes {len(sig.columns)} "
            "columns.",
            field="reference_data",
        )
    return pd.DataFrame(arr, columns=list(sig.columns))


def _head(example: Any) -> Any:
    """The first EXAMPLE_ROWS rows of a DataFrame, dict of columns or array."""
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        return example.head(EXAMPLE_ROWS)
    if isinstance(example, dict):
        return pd.DataFrame(example).head(EXAMPLE_ROWS)
    return np.asarray(example)[:EXAMPLE_ROWS]


def reference_output(pred: Predictor, example: dict[str, Any]) -> dict[str, Any]:
    """What ``pred`` answers on a stored input example: labels, and probabilities with
    the classes when the model has them (the registry records this at registration)."""
    import pandas as pd

    frame = pd.DataFrame(example["data"], columns=example["columns"])
    labels, proba = pred.infer(pred.validate(frame))
    out: dict[str, Any] = {"predictions": _plain(labels)}
    if proba is not None:
        out["probabilities"] = proba
        out["classes"] = _plain(pred.classes)
    return out


PROBA_RTOL, PROBA_ATOL = 1e-7, 1e-9  # probabilities: float noise, nothing more


def reference_differences(
    got: dict[str, Any], want: dict[str, Any], *, rtol: float = PROBA_RTOL, atol: float = PROBA_ATOL
) -> list[dict[str, Any]]:
    """The rows where ``got`` differs from the recorded reference ``want``: labels exactly,
    probabilities within the tolerance. Empty means parity."""
    g, w = got.get("predictions") or [], want.get("predictions") or []
    if len(g) != len(w):
        return [{"row": None, "expected": f"{len(w)} predictions", "got": f"{len(g)}"}]
    out = [
        {"row": i, "expected": b, "got": a}
        for i, (a, b) in enumerate(zip(g, w, strict=True))
        if a != b
    ]
    if "probabilities" in want:
        p = np.asarray(got.get("probabilities"), dtype=float)
        q = np.asarray(want["probabilities"], dtype=float)
        if p.shape != q.shape:
            shapes = {"row": None, "expected": f"probabilities {q.shape}", "got": f"{p.shape}"}
            return [*out, shapes]
        bad = ~np.isclose(p, q, rtol=rtol, atol=atol).all(axis=1)
        labelled = {d["row"] for d in out}
        for i in np.flatnonzero(bad).tolist():
            if i not in labelled:
                out.append(
                    {
                        "row": i,
                        "expected": q[i].tolist(),
                        "got": p[i].tolist(),
                        "max_abs_diff": float(np.abs(p[i] - q[i]).max()),
                    }
                )
        out.sort(key=lambda d: d["row"])
    return out


def converted_differences(
    got: dict[str, Any], want: dict[str, Any], tol: float
) -> list[dict[str, Any]]:
    """:func:`reference_differences` for a converted model (float32): labels exactly,
    probabilities within ``tol``, a regressor's values within ``tol`` of ``max(1, |y|)``."""
    if "classes" in want or "probabilities" in want:
        return reference_differences(got, want, rtol=0.0, atol=tol)
    g, w = got.get("predictions") or [], want.get("predictions") or []
    try:
        a, b = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):  # labels of a classifier without probabilities
        return reference_differences(got, want)
    if a.shape != b.shape:
        return [{"row": None, "expected": f"{len(b)} predictions", "got": f"{len(a)}"}]
    bad = np.abs(a - b) > tol * np.maximum(1.0, np.abs(b))
    return [{"row": i, "expected": w[i], "got": g[i]} for i in np.flatnonzero(bad).tolist()]


def describe_differences(diff: list[dict[str, Any]], shown: int = 3) -> str:
    parts = [
        f"row {d['row']}: expected {d['expected']!r}, got {d['got']!r}"
        if d["row"] is not None
        else f"expected {d['expected']}, got {d['got']}"
        for d in diff[:shown]
    ]
    more = f" (and {len(diff) - shown} more rows)" if len(diff) > shown else ""
    return "; ".join(parts) + more


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones and times to ISO strings, recursively (JSON columns)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "isoformat"):  # datetime, date, pandas Timestamp
        return value.isoformat()
    return value


def _metrics(metrics: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise ValidationError(
                f"Metric {key!r} must be a number, got {value!r}.", field=f"metrics.{key}"
            ) from None
    return out


def _params(model: Any) -> dict[str, Any]:
    """Top-level hyper-parameters of a scikit-learn estimator, when JSON-able."""
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return {}
    try:
        raw = get_params(deep=False)
    except Exception:
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, str | int | float | bool | type(None))}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
