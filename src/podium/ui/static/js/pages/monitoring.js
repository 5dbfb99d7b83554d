import { h, badge, table, panel, pageHead, kv, fmtTime, fmtNum, fmtPct, fmtMs, cards, errorBox } from "../dom.js";
import { get, API, enc } from "../api.js";
import { lineChart, groupedBars } from "../charts.js";
import { tabs } from "./deployments.js";

const TOP_COLUMNS = 6;

export async function page(main, ctx, name) {
  const download = h("a", { class: "button secondary", id: "report-download",
    href: `${API}/deployments/${enc(name)}/report?format=html`, download: `${name}-monitoring-report.html` }, "Download HTML report");
  main.append(pageHead([["Deployments", "#/deployments"], [name, `#/deployments/${enc(name)}`]], `Monitoring: ${name}`,
    "Drift, predictions, performance and health over the deployment's monitoring window."), tabs(name, "monitoring"),
  h("div", { class: "actions" }, download));
  let report;
  try {
    report = await get(`/deployments/${enc(name)}/report`);
  } catch (err) {
    main.append(errorBox(`the monitoring report of ${name}`, err));
    return;
  }
  const snap = report.snapshot;
  const hl = snap.health || {};
  const drift = snap.drift || {};
  const perf = snap.performance || {};
  const mainMetric = perf.task === "regression" ? ["MAE", perf.mae] : ["Accuracy", perf.accuracy];
  main.append(cards([
    ["Requests in window", fmtNum(hl.requests)],
    ["Error rate", fmtPct(hl.error_rate, 2)],
    ["p99 latency", fmtMs(hl.p99_ms)],
    ["Drifted columns", drift.status === "ok" ? `${drift.drifted.length} of ${drift.tested}` : "—"],
    [`${mainMetric[0]} (labelled)`, perf.labelled ? fmtNum(mainMetric[1], 3) : "no labels yet"],
    ["Watching", snap.version || snap.model],
  ]));
  const series = report.series || [];
  const t = (b) => new Date(b.to).getTime();
  const latestCols = drift.status === "ok" ? Object.values(drift.columns) : [];
  const top = [...latestCols].sort((a, b) => (b.effect || 0) - (a.effect || 0)).slice(0, TOP_COLUMNS).map((c) => c.column);
  main.append(h("div", { class: "grid" },
    h("section", { class: "panel", "aria-label": "Drift per column over time" }, h("h2", {}, "Drift per column over time"),
      drift.status !== "ok" ? h("p", { class: "empty" }, `No drift figures: ${drift.status}. ${drift.hint || ""}`)
        : [lineChart({ title: "Drift effect per column over time", time: true,
          series: top.map((c) => ({ name: c, points: series.map((b) => [t(b), (b.drift_columns || {})[c] ? b.drift_columns[c].effect : null]) })) }),
        h("p", { class: "muted" }, `The ${top.length} columns furthest from the reference now (effect size; the dashed line is the share threshold).`),
        lineChart({ title: "Share of drifted columns", time: true, yMax: 1, yFormat: (v) => fmtPct(v, 0), threshold: (drift.settings || {}).drift_share,
          series: [{ name: "share of columns drifted", points: series.map((b) => [t(b), b.drift_share]) }] })]),
    h("section", { class: "panel", "aria-label": "Latest drift tests" }, h("h2", {}, "Latest test per column"),
      drift.status !== "ok" ? h("p", { class: "empty" }, "No drift test ran.")
        : testsTable(latestCols))));
  const predHists = report.prediction_histograms || {};
  const pdrift = snap.prediction_drift || {};
  main.append(h("div", { class: "grid" },
    h("section", { class: "panel", "aria-label": "Predictions against the reference" }, h("h2", {}, "Predictions against the reference"),
      Object.keys(predHists).length ? Object.entries(predHists).map(([col, hist]) => [h("h3", {}, col),
        groupedBars({ title: `${col}: reference vs served`, labels: hist.labels, series: [{ name: "reference", values: hist.reference }, { name: "served", values: hist.current }] })])
        : h("p", { class: "empty" }, "No reference predictions to compare with."),
      pdrift.status === "ok" ? table([
        ["Output", (r) => r[0]], ["Test", (r) => r[1].method], ["Effect", (r) => fmtNum(r[1].effect, 3), { num: true }],
        ["Verdict", (r) => badge(r[1].verdict, r[1].drifted ? "drifted" : "ok")],
      ], Object.entries(pdrift.columns)) : null),
    inputHistograms(report.histograms || {}, top)));
  main.append(h("div", { class: "grid" },
    h("section", { class: "panel", "aria-label": "Performance" }, h("h2", {}, "Performance windows"),
      perf.labelled ? [
        kv([["Task", perf.task], ["Labelled predictions", fmtNum(perf.labelled)], ["Label coverage", fmtPct(perf.label_coverage)],
          ["Median label delay", perf.label_delay && perf.label_delay.median_s !== null ? `${fmtNum(perf.label_delay.median_s)} s` : "—"],
          ...Object.entries(perf).filter(([k, v]) => typeof v === "number" && !["labelled", "label_coverage"].includes(k)).map(([k, v]) => [k, fmtNum(v, 4)])]),
        lineChart({ title: "Performance per window", time: true, yMax: 1,
          series: perfSeries(series).map(([k, pts]) => ({ name: k, points: pts })) })]
        : h("p", { class: "empty" }, "No labels have arrived yet: send them to the model server's /feedback.")),
    h("section", { class: "panel", "aria-label": "Latency and errors" }, h("h2", {}, "Latency percentiles and error rate"),
      lineChart({ title: "Latency percentiles", time: true, yFormat: (v) => `${fmtNum(v, 2)} ms`,
        series: ["p50_ms", "p95_ms", "p99_ms"].map((k) => ({ name: k.replace("_ms", ""), points: series.map((b) => [t(b), b[k]]) })) }),
      lineChart({ title: "Error rate", time: true, yFormat: (v) => fmtPct(v, 0), yMax: Math.max(0.05, ...series.map((b) => b.error_rate || 0)),
        series: [{ name: "error rate", points: series.map((b) => [t(b), b.error_rate]) }] }))));
  main.append(panel("Alerts", `the alerts of ${name}`, async () => alerts(await get(`/alerts?deployment=${enc(name)}&limit=100`), report.loop)));
}

function testsTable(cols) {
  const sorted = [...cols].sort((a, b) => (b.drifted === true) - (a.drifted === true) || (b.effect || 0) - (a.effect || 0));
  const view = (rows) => table([
    ["Column", (c) => h("code", {}, c.column)],
    ["Test", (c) => c.method],
    ["Statistic", (c) => fmtNum(c.statistic, 3), { num: true }],
    ["p (adjusted)", (c) => fmtNum(c.p_adjusted ?? c.p_value, 3), { num: true }],
    ["Effect", (c) => h("span", { title: c.effect_name || "effect" }, fmtNum(c.effect, 3)), { num: true }],
    ["Verdict", (c) => badge(c.verdict, c.drifted ? "drifted" : c.drifted === false ? "ok" : "pending")],
  ], rows);
  const name = sorted.length && sorted[0].effect_name ? ` Effect: ${sorted[0].effect_name}.` : "";
  return h("div", {}, h("p", { class: "muted" }, `${cols.length} columns tested; drifted first, then by effect.${name}`),
    view(sorted.slice(0, 12)),
    sorted.length > 12 ? h("details", {}, h("summary", {}, `${sorted.length - 12} more columns`), view(sorted.slice(12))) : null);
}

function perfSeries(series) {
  const keys = [...new Set(series.flatMap((b) => Object.keys(b.performance || {})))]
    .filter((k) => !["label_coverage"].includes(k) && series.some((b) => b.performance[k] !== null && b.performance[k] <= 1));
  return keys.slice(0, 4).map((k) => [k, series.map((b) => [new Date(b.to).getTime(), b.performance[k]])]);
}

function inputHistograms(hists, top) {
  const cols = top.filter((c) => hists[c]).slice(0, 2);
  return h("section", { class: "panel", "aria-label": "Input distributions" }, h("h2", {}, "Inputs against the reference"),
    cols.length ? cols.map((c) => [h("h3", {}, c), groupedBars({ title: `${c}: reference vs current`, labels: hists[c].labels,
      series: [{ name: "reference", values: hists[c].reference }, { name: "current", values: hists[c].current }] })])
      : h("p", { class: "empty" }, "No input histogram (no reference profile, or no traffic yet)."));
}

function alerts(rows, loop) {
  return h("div", {}, table([
    ["Fired", (a) => fmtTime(a.at)],
    ["Rule", (a) => h("strong", {}, a.rule)],
    ["Condition", (a) => h("code", {}, `${a.figure} ${a.op} ${fmtNum(a.threshold)}`)],
    ["Value", (a) => fmtNum(a.value, 4), { num: true }],
    ["Severity", (a) => badge(a.severity)],
    ["State", (a) => alertState(a)],
  ], rows, { empty: "No alert has fired." }),
  loop ? h("p", { class: "muted" }, `Retraining loop: ${loop.phase} since ${fmtTime(loop.started_at)}.`) : null);
}

function alertState(a) {
  const deliveries = (a.detail && a.detail.deliveries) || [];
  const failed = deliveries.filter((d) => d && d.ok === false);
  const parts = [badge("fired", a.severity === "critical" ? "critical" : "warning")];
  if (deliveries.length) parts.push(` delivered to ${deliveries.length - failed.length}/${deliveries.length} sink(s)`);
  if (a.detail && a.detail.event) parts.push(`, emitted ${a.detail.event}`);
  return parts;
}
