"""The closed loop: an alert retrains the model, and the candidate earns its place.

Phases, each stored (table ``retrain_loops``), audited and written to the deployment's
history, so a monitor that restarts picks the loop up where it was:

1. ``training``: the deployment's ``retrain.pipeline`` runs (a ``deployment`` parameter,
   if it has one, gets the deployment's name). The newest version of the model it
   registered becomes ``challenger``.
2. ``shadow``: the deployment serves the current version and mirrors every request to the
   candidate, until ``shadow.requests`` were mirrored (too many candidate errors: rolled
   back).
3. ``canary``: the candidate takes a growing share, the canary gates decide at each step.
4. ``promoted`` (the candidate becomes ``champion``) or ``rolled_back``, or ``failed`` (the
   pipeline failed or registered nothing). Either way the deployment's own spec is applied
   again, so it serves ``@champion`` as declared.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from podium.core.errors import PodiumError, PromotionRefusedError
from podium.core.names import ModelRef
from podium.core.records import Deployment
from podium.deploy import apply
from podium.deploy.controller import canary_step
from podium.deploy.watch_spec import RetrainSpec
from podium.registry import Registry
from podium.watch.snapshot import served_model
from podium.workspace import Workspace

log = logging.getLogger("podium.retrain")
ACTIVE = ("training", "shadow", "canary")
STABLE, CANDIDATE = "stable", "candidate"


class Loops:
    """Starts and advances the retraining loops of one monitor process.

    With ``background=True`` pipelines run in a thread, so alerts keep being evaluated
    while a model trains; otherwise :meth:`advance` runs them to completion.
    """

    def __init__(self, ws: Workspace, *, background: bool = False) -> None:
        self.ws = ws
        self.background = background
        self.threads: dict[str, threading.Thread] = {}

    # -- starting ------------------------------------------------------------------------
    def start(self, dep: Deployment, alert: dict[str, Any], now: datetime) -> bool:
        """Begin a loop for ``dep`` unless one is running or the last ended too recently."""
        retrain = RetrainSpec.model_validate(dep.spec["retrain"])
        loop = self.ws.store.loops.get(dep.name)
        if loop is not None and loop["phase"] in ACTIVE:
            return False
        if loop is not None and (now - loop["updated_at"]).total_seconds() < retrain.cooldown_s:
            return False
        stable = Registry(self.ws.store, self.ws.artifacts).get(served_model(dep)).uri
        detail = {
            "trigger": {"rule": alert["rule"], "figure": alert["figure"], "value": alert["value"]},
            "stable": stable,
            "spec": dep.spec,
            "state": dep.state,  # live colour, flags, bandit counts: restored at the end
            "since": now.isoformat(),
        }
        self._phase(dep.name, "training", detail, new=True)
        return True

    # -- advancing -----------------------------------------------------------------------
    def advance(self, name: str, now: datetime) -> str | None:
        """Move the loop of ``name`` on as far as it can go now; return its phase."""
        loop = self.ws.store.loops.get(name)
        if loop is None or loop["phase"] not in ACTIVE:
            return None if loop is None else str(loop["phase"])
        detail = dict(loop["detail"])
        try:
            if loop["phase"] == "training":
                self._training(name, detail, now)
            elif loop["phase"] == "shadow":
                self._shadow(name, detail, now)
            else:
                self._canary(name, detail, now)
        except PodiumError as exc:
            self._finish(name, detail, "failed", f"{type(exc).__name__}: {exc.message}")
        after = self.ws.store.loops.get(name)
        return None if after is None else str(after["phase"])

    def _training(self, name: str, detail: dict[str, Any], now: datetime) -> None:
        thread = self.threads.get(name)
        if thread is not None and thread.is_alive():
            return
        run_id = detail.get("run_id")
        if run_id is None and thread is None:  # not started (or its process died first)
            if self.background:
                t = threading.Thread(
                    target=self._train, args=(name, detail), name=f"retrain-{name}", daemon=True
                )
                self.threads[name] = t
                t.start()
            else:
                self._train(name, detail)
            return
        if run_id is not None:
            from podium.pipelines.runner import recover_crashed

            recover_crashed(self.ws)  # a monitor that died mid-training left it "running"
            run = self.ws.store.runs.get(run_id)
            if run.status in ("running", "pending"):
                return
            self.threads.pop(name, None)
            if run.status != "succeeded":
                self._finish(name, detail, "failed", f"retraining run {run_id} {run.status}")
                return
            self._to_shadow(name, detail, now)

    def _train(self, name: str, detail: dict[str, Any]) -> None:
        from podium.pipelines import load_pipeline

        dep = self.ws.store.deployments.get(name)
        retrain = RetrainSpec.model_validate(detail["spec"]["retrain"])
        try:
            pipe = load_pipeline(retrain.pipeline)
            params = dict(retrain.params)
            if "deployment" in pipe.signature.parameters:
                params.setdefault("deployment", name)

            def started(run: Any) -> None:
                detail["run_id"] = run.id
                self.ws.store.loops.put(name, "training", detail)

            pipe.run(
                workspace=self.ws,
                raise_on_failure=False,
                trigger="retrain",
                on_start=started,
                **params,
            )
        except PodiumError as exc:
            self._finish(name, detail, "failed", f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:  # the user's pipeline module failed to import or bind
            log.exception("Retraining of %s failed", dep.name)
            self._finish(name, detail, "failed", f"{type(exc).__name__}: {exc}")

    def _to_shadow(self, name: str, detail: dict[str, Any], now: datetime) -> None:
        spec = detail["spec"]
        retrain = RetrainSpec.model_validate(spec["retrain"])
        model = retrain.model or ModelRef.parse(detail["stable"]).name
        made = [
            v
            for v in self.ws.store.models.list_versions(model, limit=1000)
            if v.run_id == detail["run_id"]
        ]
        if not made:
            self._finish(
                name,
                detail,
                "failed",
                f"the retraining run registered no version of {model!r}",
            )
            return
        candidate = max(made, key=lambda v: v.version)
        Registry(self.ws.store, self.ws.artifacts).set_alias(model, "challenger", candidate.version)
        detail["candidate"] = candidate.uri
        detail["shadow_since"] = now.isoformat()
        apply(
            self.ws,
            _variant_spec(
                spec,
                detail,
                "shadow",
                {"shadow": {"primary": STABLE, "shadows": [CANDIDATE]}},
            ),
        )
        self._phase(name, "shadow", detail)

    def _shadow(self, name: str, detail: dict[str, Any], now: datetime) -> None:
        stage = RetrainSpec.model_validate(detail["spec"]["retrain"]).shadow
        since = datetime.fromisoformat(detail["shadow_since"])
        rows = self.ws.store.predictions.recent(name, since=since, limit=stage.requests * 20)
        mirrored = [r for r in rows if r["variant"] == CANDIDATE and "shadow_of" in r["outputs"]]
        errors = sum("error" in r["outputs"] for r in mirrored)
        agree = [r["outputs"]["agrees"] for r in mirrored if "agrees" in r["outputs"]]
        detail["shadow"] = {
            "mirrored": len(mirrored),
            "errors": errors,
            "agreement": sum(agree) / len(agree) if agree else None,
        }
        if len(mirrored) >= stage.requests:
            if errors / len(mirrored) > stage.max_error_rate:
                self._finish(
                    name,
                    detail,
                    "rolled_back",
                    f"the candidate failed {errors} of {len(mirrored)} mirrored requests",
                )
                return
            canary = RetrainSpec.model_validate(detail["spec"]["retrain"]).canary
            block = {"stable": STABLE, "candidate": CANDIDATE, **canary.model_dump()}
            detail["canary_since"] = now.isoformat()
            apply(self.ws, _variant_spec(detail["spec"], detail, "canary", {"canary": block}))
            self._phase(name, "canary", detail)
        elif (now - since).total_seconds() > stage.max_wait_s:
            self._finish(
                name,
                detail,
                "rolled_back",
                f"only {len(mirrored)} of {stage.requests} requests mirrored in "
                f"{stage.max_wait_s:g} s",
            )
        else:
            self.ws.store.loops.put(name, "shadow", detail)

    def _canary(self, name: str, detail: dict[str, Any], now: datetime) -> None:
        decision = canary_step(self.ws, name, now)
        if decision is not None:
            detail["last_decision"] = decision.to_dict()
        status = self.ws.store.deployments.get(name).state.get("status")
        if status == "promoted":
            ref = ModelRef.parse(detail["candidate"])
            registry = Registry(self.ws.store, self.ws.artifacts)
            try:  # through the model's approval policy, if it protects champion
                registry.set_alias(ref.name, "champion", int(ref.version or 0))
                outcome = f"{detail['candidate']} is champion"
            except PromotionRefusedError as exc:
                outcome = f"{detail['candidate']} won its canary; champion not moved: {exc.message}"
            self._finish(name, detail, "promoted", outcome)
        elif status in ("rolled_back", "paused"):
            reason = (detail.get("last_decision") or {}).get("reason", f"canary {status}")
            self._finish(name, detail, "rolled_back", reason)
        elif decision is not None:
            self.ws.store.loops.put(name, "canary", detail)

    # -- helpers -------------------------------------------------------------------------
    def _finish(self, name: str, detail: dict[str, Any], phase: str, reason: str) -> None:
        """End the loop: the deployment's own spec is applied again, with the rollout state it
        had (the live colour, runtime flags, bandit counts), unless someone else applied a
        new revision meanwhile, which then stands."""
        detail["reason"] = reason
        dep = self.ws.store.deployments.get(name)
        ours = dep.spec.get("description", "").startswith("retraining loop") or (
            dep.spec == detail["spec"]
        )
        if ours:
            restored = apply(self.ws, detail["spec"])
            saved = detail.get("state")
            if saved is not None and restored.state != saved:
                self.ws.store.deployments.transition(
                    name, "retrain_restored", lambda _spec, _state: dict(saved)
                )
        else:
            detail["reason"] += " (the deployment was changed meanwhile: left as it is)"
        self._phase(name, phase, detail)
        log.info("Retraining loop of %s: %s (%s)", name, phase, reason)

    def _phase(self, name: str, phase: str, detail: dict[str, Any], *, new: bool = False) -> None:
        self.ws.store.loops.put(name, phase, detail, new=new)
        summary: dict[str, Any] = {
            k: detail[k] for k in ("trigger", "candidate", "reason", "shadow") if k in detail
        }
        self.ws.store.deployments.record(name, f"retrain_{phase}", summary)


def _variant_spec(
    spec: dict[str, Any], detail: dict[str, Any], strategy: str, block: dict[str, Any]
) -> dict[str, Any]:
    """The deployment serving the pinned stable version and the candidate."""
    keep: dict[str, Any] = {
        k: spec[k] for k in ("workers", "batching", "monitoring", "retrain") if k in spec
    }
    return {
        "name": spec["name"],
        "description": f"retraining loop ({strategy}) of {spec['name']}",
        "strategy": strategy,
        "variants": {
            STABLE: {"model": detail["stable"]},
            CANDIDATE: {"model": detail["candidate"]},
        },
        **keep,
        **block,
    }
