"""``podium monitor report``: one self-contained HTML file (or JSON) about a deployment.

The report embeds summaries, never rows: per-column histograms of ten bins, figures per
time bucket. It stays a few hundred KB on any amount of traffic and opens offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

from podium.core.clock import utcnow
from podium.core.signature import Signature
from podium.deploy.watch_spec import MonitoringSpec, WindowSpec
from podium.monitoring.reference import (
    PREDICTION,
    SCORE,
    CategoricalColumn,
    NumericColumn,
    Reference,
    labels,
)
from podium.registry import Registry
from podium.watch import svg
from podium.watch.snapshot import Window, model_figures, snapshot, traffic, watched_model
from podium.workspace import Workspace

BUCKETS = 12  # at most; fewer when the window is too small for drift tests per bucket
TOP = 8


def build(
    ws: Workspace, name: str, window: WindowSpec | None = None, buckets: int = BUCKETS
) -> dict[str, Any]:
    """The report's figures: the snapshot, figures per time bucket, histograms, alerts."""
    now = utcnow()
    dep = ws.store.deployments.get(name)
    mon = MonitoringSpec.model_validate(dep.spec.get("monitoring") or {})
    window = window or mon.window
    registry = Registry(ws.store, ws.artifacts)
    win = Window.read(ws, name, window, now)
    snap = snapshot(ws, name, window, now=now, win=win)
    mv = registry.get(snap["version"]) if snap["version"] else None
    reference = registry.reference(mv.uri) if mv else None
    columns = Signature.from_dict(mv.signature).columns if mv and mv.signature else None
    rows = win.rows
    series = []
    # Enough input rows per bucket for drift tests to answer (min_samples each).
    inputs = sum(len(r["inputs"] or []) for r in rows)
    buckets = max(1, min(buckets, len(rows), inputs // mon.drift.min_samples))
    for chunk in np.array_split(np.arange(len(rows)), buckets):
        part = [rows[i] for i in chunk]
        if not part:
            continue
        ok = [r for r in part if "error" not in r["outputs"]]
        figs = model_figures(ok, reference, columns, mon)
        pred: dict[str, Any] = figs["prediction_drift"].get("columns", {})
        series.append(
            {
                "from": part[0]["at"].isoformat(),
                "to": part[-1]["at"].isoformat(),
                **traffic(part),
                "drift_share": figs["drift"].get("share"),
                "drift_columns": {  # per column: how far from the reference, and the verdict
                    col: {"effect": d.get("effect"), "drifted": d.get("drifted")}
                    for col, d in (figs["drift"].get("columns") or {}).items()
                },
                "prediction_drift": next(iter(pred.values()), {"effect": None})["effect"],
                "performance": {
                    k: v
                    for k, v in figs["performance"].items()
                    if isinstance(v, float) or v is None
                },
            }
        )
    ok = [r for r in rows if "error" not in r["outputs"]]
    return {
        "deployment": name,
        "generated_at": now.isoformat(),
        "model": watched_model(dep),
        "snapshot": snap,
        "series": series,
        "histograms": _histograms(reference, ok, columns) if reference and columns else {},
        "prediction_histograms": _prediction_histograms(reference, ok) if reference else {},
        "alerts": [_jsonable(a) for a in ws.store.alerts.list(name, limit=20)],
        "loop": _jsonable(ws.store.loops.get(name)),
    }


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


def _histograms(
    reference: Reference, rows: list[dict[str, Any]], columns: list[str]
) -> dict[str, Any]:
    """Per column, reference and current shares over ten reference-quantile bins (numeric)
    or the top categories."""
    import pandas as pd

    inputs = [row for r in rows for row in (r["inputs"] or [])]
    frame = pd.DataFrame(inputs, columns=columns) if inputs else pd.DataFrame(columns=columns)
    return _shares(reference.columns, frame)


def _prediction_histograms(reference: Reference, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The served predictions (and positive-class scores) against the reference's."""
    import pandas as pd

    served = {
        PREDICTION: [p for r in rows for p in r["outputs"].get("predictions") or []],
        SCORE: [p[1] for r in rows for p in r["outputs"].get("probabilities") or [] if len(p) == 2],
    }
    refs = {k: v for k, v in reference.predictions.items() if k in served}
    frame = pd.DataFrame({k: pd.Series(served[k], dtype=object) for k in refs})
    return _shares(refs, frame)


def _shares(refs: dict[str, Any], frame: Any) -> dict[str, Any]:
    """Per column of ``frame``, its shares and the reference's over the same bins."""
    import pandas as pd

    out: dict[str, Any] = {}
    for name, ref in refs.items():
        if name not in frame:
            continue
        if isinstance(ref, NumericColumn):
            cur = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy(np.float64)
            edges = np.unique(np.quantile(ref.values, np.linspace(0, 1, 11)))
            if edges.size < 2:
                continue
            inner = edges[1:-1]
            r = np.bincount(np.searchsorted(inner, ref.values, "right"), minlength=inner.size + 1)
            c = np.bincount(np.searchsorted(inner, cur, "right"), minlength=inner.size + 1)
            out[name] = {
                "labels": [f"{v:.3g}" for v in edges[:-1]],
                "reference": (r / max(r.sum(), 1)).tolist(),
                "current": (c / max(c.sum(), 1)).tolist(),
            }
        elif isinstance(ref, CategoricalColumn):
            counts = labels(frame[name].dropna()).value_counts()
            cats = sorted(ref.counts, key=lambda k: -ref.counts[k])[:TOP]
            cats += [str(k) for k in counts.index if str(k) not in cats][: max(TOP - len(cats), 0)]
            total = max(int(counts.sum()), 1)
            out[name] = {
                "labels": cats,
                "reference": [ref.counts.get(k, 0) / max(ref.n, 1) for k in cats],
                "current": [int(counts.get(k, 0)) / total for k in cats],
            }
    return out


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1100px;
color:#111827;padding:0 16px}h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#6b7280}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}.bad{color:#b91c1c}.good{color:#15803d}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:5px 8px;
text-align:left;vertical-align:middle}th{font-weight:600;background:#f9fafb}
.axis{stroke:#9ca3af}.threshold{stroke:#dc2626;stroke-dasharray:4 3}.tick,.legend{font-size:10px;
fill:#6b7280}.legend{font-weight:600}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:8px 24px}
"""


def html(data: dict[str, Any]) -> str:
    """The report as one HTML page with inline CSS and SVG: no script, no network."""
    snap = data["snapshot"]
    drift, pdrift, perf = snap["drift"], snap["prediction_drift"], snap["performance"]
    health, concept = snap["health"], snap["concept"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>podium report: {escape(data['deployment'])}</title><style>{CSS}</style>",
        "</head><body>",
        f"<h1>{escape(data['deployment'])}</h1>",
        f"<p class=muted>Model {escape(str(snap['version'] or data['model']))} · window of "
        f"{snap['window']['requests']} requests ({escape(str(snap['window']['from']))} to "
        f"{escape(str(snap['window']['to']))}) · generated {escape(data['generated_at'])}</p>",
        '<div class="cards">',
        _card("Data drift", _drift_verdict(drift), bad=drift.get("dataset_drift") is True),
        _card(
            "Prediction drift",
            ", ".join(pdrift.get("drifted", []))
            or ("none" if pdrift.get("status") == "ok" else "n/a"),
            bad=bool(pdrift.get("drifted")),
        ),
        _card(*_main_metric(perf)),
        _card("Label coverage", _pct(perf.get("label_coverage"))),
        _card("Concept drift", "drift" if concept["drift"] else "stable", bad=concept["drift"]),
        _card("p99 latency", _num(health.get("p99_ms"), " ms")),
        _card(
            "Error rate", _pct(health.get("error_rate")), bad=(health.get("error_rate") or 0) > 0.01
        ),
        _card("Throughput", _num(health.get("throughput_rps"), " req/s")),
        _card("Memory", _num(health.get("memory_mb"), " MB")),
        "</div>",
    ]
    parts += _drift_table(drift, data["histograms"])
    parts += _prediction_table(pdrift)
    parts += _over_time(data["series"], perf)
    parts += _performance(perf, concept)
    parts += _health(health)
    parts += _alerts(data["alerts"], data["loop"])
    parts.append("</body></html>")
    return "".join(parts)


def _card(title: str, value: str, bad: bool = False) -> str:
    cls = ' class="bad"' if bad else ""
    return (
        f'<div class="card"><span class=muted>{escape(title)}</span>'
        f"<b{cls}>{escape(value)}</b></div>"
    )


def _drift_verdict(drift: dict[str, Any]) -> str:
    if drift.get("status") != "ok":
        return "no reference"
    if drift["share"] is None:
        return "not enough data"
    return f"{len(drift['drifted'])} of {drift['tested']} columns"


def _main_metric(perf: dict[str, Any]) -> tuple[str, str]:
    key = "accuracy" if perf.get("task") == "classification" else "rmse"
    return key.capitalize() if key == "accuracy" else "RMSE", _num(perf.get(key))


def _num(v: Any, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:,.3g}{unit}" if abs(v) < 1000 else f"{v:,.0f}{unit}"


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _drift_table(drift: dict[str, Any], hist: dict[str, Any]) -> list[str]:
    if drift.get("status") != "ok":
        return ["<h2>Data drift</h2>", f"<p class=muted>{escape(drift.get('hint', ''))}</p>"]
    rows = [
        "<h2>Data drift per column</h2><p class=muted>Blue: reference, orange: this window. "
        "p-values adjusted for testing every column.</p>",
        "<table><tr><th>column</th><th>type</th><th>method</th><th>n</th><th>statistic</th>"
        "<th>p (adjusted)</th><th>effect</th><th>verdict</th><th>distribution</th></tr>",
    ]
    for name, c in sorted(drift["columns"].items(), key=lambda kv: -(kv[1]["effect"] or 0)):
        h = hist.get(name)
        chart = svg.bars(h["labels"], h["reference"], h["current"]) if h else ""
        cls = "bad" if c["drifted"] else "good" if c["drifted"] is False else "muted"
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{c['kind']}</td><td>{c['method']}</td>"
            f"<td>{c['n_current']}</td><td>{_num(c['statistic'])}</td>"
            f"<td>{_num(c['p_value'])} ({_num(c['p_adjusted'])})</td>"
            f"<td>{_num(c['effect'])} {escape(c['effect_name'])}</td>"
            f'<td class="{cls}">{c["verdict"]}</td><td>{chart}</td></tr>'
        )
    rows.append("</table>")
    return rows


def _prediction_table(pdrift: dict[str, Any]) -> list[str]:
    if pdrift.get("status") != "ok" or not pdrift.get("columns"):
        return []
    out = [
        "<h2>Prediction drift</h2><table><tr><th>output</th><th>method</th><th>p</th>"
        "<th>effect</th><th>verdict</th></tr>"
    ]
    for name, c in pdrift["columns"].items():
        out.append(
            f"<tr><td>{escape(name)}</td><td>{c['method']}</td><td>{_num(c['p_value'])}</td>"
            f"<td>{_num(c['effect'])} {escape(c['effect_name'])}</td><td>{c['verdict']}</td></tr>"
        )
    out.append("</table>")
    return out


def _over_time(series: list[dict[str, Any]], perf: dict[str, Any]) -> list[str]:
    if not series:
        return []
    metric = "accuracy" if perf.get("task") == "classification" else "rmse"
    charts = {
        "Share of drifted columns": {"drift share": [s["drift_share"] for s in series]},
        "Prediction drift (effect)": {"prediction": [s["prediction_drift"] for s in series]},
        f"Performance ({metric})": {metric: [s["performance"].get(metric) for s in series]},
        "Latency (ms)": {
            "p50": [s["p50_ms"] for s in series],
            "p99": [s["p99_ms"] for s in series],
        },
        "Error rate": {"errors": [s["error_rate"] for s in series]},
        "Throughput (req/s)": {"req/s": [s["throughput_rps"] for s in series]},
    }
    out = [
        f"<h2>Over time</h2><p class=muted>{len(series)} buckets from "
        f"{escape(series[0]['from'])} to {escape(series[-1]['to'])}.</p><div class=charts>"
    ]
    for title, s in charts.items():
        out.append(f"<div><b>{escape(title)}</b>{svg.line(s)}</div>")
    out.append("</div>")
    return out


def _performance(perf: dict[str, Any], concept: dict[str, Any]) -> list[str]:
    keys = [k for k, v in perf.items() if isinstance(v, float) and k != "label_coverage"]
    delay = perf.get("label_delay") or {}
    out = [
        "<h2>Performance</h2>",
        f"<p>{perf['labelled']} labelled predictions; label coverage "
        f"{_pct(perf.get('label_coverage'))}; median label delay "
        f"{_num(delay.get('median_s'), ' s')} (p90 {_num(delay.get('p90_s'), ' s')}).</p>",
        "<table><tr>" + "".join(f"<th>{escape(k)}</th>" for k in keys) + "</tr><tr>",
        "".join(f"<td>{_num(perf[k])}</td>" for k in keys) + "</tr></table>",
        f"<h2>Concept drift</h2><p>{concept['errors']} errors in the stream.</p>",
        "<table><tr><th>detector</th><th>state</th><th>warnings</th><th>first drift at</th></tr>",
    ]
    for name, d in concept["detectors"].items():
        first = d["drifts"][0] if d["drifts"] else "-"
        out.append(
            f"<tr><td>{name}</td><td>{d['state']}</td><td>{len(d['warnings'])}</td>"
            f"<td>{first}</td></tr>"
        )
    out.append("</table>")
    return out


def _health(health: dict[str, Any]) -> list[str]:
    out = [
        "<h2>Health per variant</h2><table><tr><th>variant</th><th>requests</th>"
        "<th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>req/s</th></tr>"
    ]
    for v, f in health["variants"].items():
        out.append(
            f"<tr><td>{escape(v)}</td><td>{f['requests']}</td><td>{_pct(f['error_rate'])}</td>"
            f"<td>{_num(f['p50_ms'])}</td><td>{_num(f['p95_ms'])}</td><td>{_num(f['p99_ms'])}</td>"
            f"<td>{_num(f['throughput_rps'])}</td></tr>"
        )
    out.append("</table>")
    if health["workers"]:
        out.append(
            "<p>Workers: "
            + ", ".join(
                f"{escape(w['worker'])} ({_num(w['memory_mb'], ' MB')})" for w in health["workers"]
            )
            + "</p>"
        )
    return out


def _alerts(alerts: list[dict[str, Any]], loop: dict[str, Any] | None) -> list[str]:
    out = ["<h2>Alerts</h2>"]
    if not alerts:
        out.append("<p class=muted>None fired.</p>")
    else:
        out.append(
            "<table><tr><th>at</th><th>rule</th><th>figure</th><th>value</th><th>severity</th></tr>"
        )
        for a in alerts:
            out.append(
                f"<tr><td>{escape(a['at'])}</td><td>{escape(a['rule'])}</td>"
                f"<td>{escape(a['figure'])} {escape(a['op'])} {a['threshold']:g}</td>"
                f"<td>{_num(a['value'])}</td><td>{a['severity']}</td></tr>"
            )
        out.append("</table>")
    if loop:
        d = loop["detail"]
        out.append(
            f"<h2>Retraining</h2><p>Phase <b>{escape(loop['phase'])}</b> since "
            f"{escape(loop['updated_at'])}; candidate {escape(str(d.get('candidate', '-')))}; "
            f"{escape(str(d.get('reason', '')))}</p>"
        )
    return out
