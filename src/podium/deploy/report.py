"""What a deployment is doing: per-variant figures from the prediction log, the A/B test,
shadow agreement, bandit allocation and the workers serving it (``podium deployments
status``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.core.errors import PodiumError
from podium.deploy.controller import figures
from podium.deploy.service import resolved_versions
from podium.deploy.spec import variant_flavor
from podium.registry import Registry, fastpath
from podium.rollout import compare
from podium.workspace import Workspace

# A worker silent this long has died: it drops out of status and loses its rolling turn.
STALE_S = 10.0


def summary(ws: Workspace, name: str, *, window: int = 10_000) -> dict[str, Any]:
    """The deployment with figures over its newest ``window`` logged predictions."""
    dep = ws.store.deployments.get(name)
    rows = ws.store.predictions.recent(name, limit=window, inputs=False)
    stats = figures(rows)
    versions = resolved_versions(ws, dep)
    flavors = _flavors(ws, dep)
    variants = {}
    for v in dep.spec["variants"]:
        s = stats.get(v)
        lat = s.latencies_ms if s else []
        variants[v] = {
            "model": dep.spec["variants"][v]["model"],
            "resolves_to": versions[v],
            "flavor": flavors[v],
            "requests": s.requests if s else 0,
            "errors": s.errors if s else 0,
            "error_rate": s.error_rate if s else 0.0,
            "p50_ms": float(np.percentile(lat, 50)) if lat else None,
            "p99_ms": float(np.percentile(lat, 99)) if lat else None,
            "feedback": len(s.feedback) if s else 0,
            "feedback_mean": float(np.mean(s.feedback)) if s and s.feedback else None,
        }
    out: dict[str, Any] = {
        **dep.to_dict(),
        "window": len(rows),
        "variants": variants,
        "shadows": _shadows(rows),
        "workers": [w.to_dict() for w in ws.store.deployments.workers(name, STALE_S)],
    }
    served = {v: s.feedback for v, s in stats.items() if v in dep.spec["variants"]}
    if dep.spec["strategy"] in ("ab", "bandit", "canary") and len(served) >= 2:
        metric = dep.spec.get("ab", {}).get("metric", "reward")
        out["significance"] = compare(served, metric=metric).to_dict()
    if dep.spec["strategy"] == "bandit":
        arms = dep.state.get("arms", {})
        total = sum(variants[v]["requests"] for v in variants) or 1
        out["bandit"] = {
            v: {
                "share": variants[v]["requests"] / total,
                "rewarded": arms.get(v, {}).get("pulls", 0),
                "mean_reward": _mean_reward(arms.get(v, {})),
            }
            for v in variants
        }
    return out


def _mean_reward(arm: dict[str, Any]) -> float | None:
    """Stored arms count rewarded pulls and sum their rewards."""
    return float(arm["reward"]) / arm["pulls"] if arm.get("pulls") else None


def _shadows(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each shadow's agreement with the primary and its latency."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        o = r["outputs"]
        if "shadow_of" not in o:
            continue
        s = out.setdefault(r["variant"], {"requests": 0, "errors": 0, "agree": 0, "lat": []})
        s["requests"] += 1
        if "error" in o:
            s["errors"] += 1
            continue
        s["agree"] += int(bool(o.get("agrees")))
        s["lat"].append(r["latency_ms"])
    return {
        v: {
            "requests": s["requests"],
            "errors": s["errors"],
            "agreement": s["agree"] / max(s["requests"] - s["errors"], 1),
            "p50_ms": float(np.percentile(s["lat"], 50)) if s["lat"] else None,
        }
        for v, s in out.items()
    }


def _flavors(ws: Workspace, dep: Any) -> dict[str, str | None]:
    """The flavor each variant is served with by ``podium serve NAME`` (no ``--flavor``):
    onnx, sklearn, ``auto`` while the version is unchecked, None when it no longer
    resolves or cannot be served as asked."""
    registry = Registry(ws.store, ws.artifacts)
    out: dict[str, str | None] = {}
    for v, variant in dep.spec["variants"].items():
        try:
            asked = variant_flavor(dep.name, dep.spec, v)
            out[v] = fastpath.serving_flavor(registry.get(variant["model"]), asked)
        except PodiumError:
            out[v] = None
    return out
