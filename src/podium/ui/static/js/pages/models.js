import { h, badge, table, panel, pageHead, pager, kv, refLink, fmtTime, fmtNum } from "../dom.js";
import { get, qs, enc } from "../api.js";
import { lineChart } from "../charts.js";

const PAGE = 50;

export async function list(main, ctx) {
  const offset = Number(ctx.params.get("offset") || 0);
  main.append(pageHead([], "Models", "Registered models, their newest version and aliases."));
  main.append(panel("Models", "models", async () => {
    const page = await get(`/models${qs({ limit: PAGE, offset })}`);
    return h("div", {}, table([
      ["Model", (m) => h("a", { href: `#/models/${enc(m.name)}` }, m.name)],
      ["Latest version", (m) => h("a", { href: `#/models/${enc(m.name)}/${m.latest_version}` }, `v${m.latest_version}`), { num: true }],
      ["Aliases", (m) => aliasBadges(m.aliases)],
      ["Description", (m) => m.description || h("span", { class: "muted" }, "—")],
      ["Updated", (m) => fmtTime(m.updated_at)],
    ], page.items, { empty: "No model yet: `podium quickstart` registers one." }),
    pager(page, (o) => { location.hash = `#/models${qs({ offset: o })}`; }));
  }));
}

// A y range that shows differences between versions: scores in [0, 1] are close together.
function metricRange(values) {
  const lo = Math.min(...values), hi = Math.max(...values);
  if (lo >= 0 && hi <= 1) {
    const pad = Math.max((hi - lo) * 0.5, 0.01);
    return { yMin: Math.max(0, Math.floor((lo - pad) * 100) / 100), yMax: Math.min(1, Math.ceil((hi + pad) * 100) / 100) };
  }
  return { yMin: Math.min(0, lo), yMax: undefined };
}

function aliasBadges(aliases) {
  const items = Object.entries(aliases || {});
  if (!items.length) return h("span", { class: "muted" }, "—");
  return items.map(([a, v]) => [h("span", { class: "badge info" }, `${a} → v${v}`), " "]);
}

export async function model(main, ctx, name) {
  main.append(pageHead([["Models", "#/models"]], name));
  const versionsPanel = panel("Versions", `the versions of model ${name}`, async () => {
    const offset = Number(ctx.params.get("offset") || 0);
    const page = await get(`/models/${enc(name)}/versions${qs({ limit: 100, offset })}`);
    const metricNames = [...new Set(page.items.flatMap((v) => Object.keys(v.metrics || {})))].sort();
    return h("div", {}, table([
      ["Version", (v) => h("a", { href: `#/models/${enc(name)}/${v.version}` }, `v${v.version}`)],
      ["Aliases", (v) => (v.aliases.length ? v.aliases.map((a) => [badge(a, "info"), " "]) : "—")],
      ...metricNames.map((m) => [m, (v) => fmtNum(v.metrics[m], 4), { num: true }]),
      ["Flavors", (v) => v.flavors.map((f) => f.flavor).join(", ")],
      ["Fast path", (v) => (v.fast_path ? badge(v.fast_path.status, v.fast_path.status === "ready" ? "ok" : v.fast_path.status === "failed" ? "bad" : "pending") : "—")],
      ["Registered", (v) => fmtTime(v.created_at)],
      ["Run", (v) => (v.run_id ? refLink(`run:${v.run_id}`, v.run_id.slice(0, 12)) : "—")],
    ], page.items), pager(page, (o) => { location.hash = `#/models/${enc(name)}${qs({ offset: o })}`; }));
  });
  const metricsPanel = panel("Metrics across versions", `the metrics of model ${name}`, async () => {
    const page = await get(`/models/${enc(name)}/versions${qs({ limit: 1000 })}`);
    const versions = [...page.items].sort((a, b) => a.version - b.version);
    const names = [...new Set(versions.flatMap((v) => Object.keys(v.metrics || {})))].sort();
    if (!names.length) return h("p", { class: "empty" }, "No version recorded metrics.");
    return lineChart({
      title: `Metrics of ${name} by version`,
      series: names.map((m) => ({ name: m, points: versions.filter((v) => m in v.metrics).map((v) => [v.version, v.metrics[m]]) })),
      xLabels: versions.map((v) => [v.version, `v${v.version}`]),
      ...metricRange(versions.flatMap((v) => Object.values(v.metrics))),
    });
  });
  const aliasPanel = panel("Aliases and their history", `the aliases of model ${name}`, async () => {
    const m = await get(`/models/${enc(name)}`);
    const aliases = Object.keys(m.aliases || {});
    if (!aliases.length) return h("p", { class: "empty" }, `No alias yet: \`podium models alias ${name} champion 1\` sets one.`);
    const histories = await Promise.all(aliases.map((a) => get(`/models/${enc(name)}/aliases/${enc(a)}/history`)));
    return h("div", {}, aliases.map((a, i) => [
      h("h3", {}, `${a} → v${m.aliases[a]}`),
      table([
        ["When", (mv) => fmtTime(mv.at)],
        ["Move", (mv) => (mv.action === "delete" ? `deleted (was v${mv.from_version})` : mv.from_version ? `v${mv.from_version} → v${mv.to_version}` : `set to v${mv.to_version}`)],
        ["By", (mv) => mv.actor],
      ], [...histories[i]].reverse(), { empty: "No move recorded." }),
    ]));
  });
  main.append(versionsPanel, h("div", { class: "grid" }, metricsPanel, aliasPanel));
}

export async function version(main, ctx, name, number) {
  const uri = `models:/${name}/${number}`;
  main.append(pageHead([["Models", "#/models"], [name, `#/models/${enc(name)}`]], `${name} v${number}`));
  let mvPromise = get(`/models/${enc(name)}/versions/${number}`);
  mvPromise.catch(() => {});
  const overview = panel("Overview", `model version ${uri}`, async () => {
    const mv = await mvPromise;
    return kv([
      ["URI", h("code", {}, uri)],
      ["Aliases", mv.aliases.length ? mv.aliases.map((a) => [badge(a, "info"), " "]) : "—"],
      ["Registered", `${fmtTime(mv.created_at)} by ${mv.created_by}`],
      ["Description", mv.description || "—"],
      ["Run", mv.run_id ? refLink(`run:${mv.run_id}`, mv.run_id) : "—"],
      ["Data", mv.data_ref ? refLink(mv.data_ref) : "—"],
      ["Code version", mv.code_version || "—"],
      ["Metrics", Object.keys(mv.metrics).length ? Object.entries(mv.metrics).map(([k, v]) => `${k} ${fmtNum(v, 4)}`).join(" · ") : "—"],
      ["Tags", Object.entries(mv.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ]);
  });
  const lineagePanel = panel("Lineage", `the lineage of ${uri}`, async () => {
    const graph = await get(`/lineage${qs({ ref: uri })}`);
    return lineageChain(graph);
  });
  const signature = panel("Signature and input example", `the signature of ${uri}`, async () => {
    const mv = await mvPromise;
    const sig = mv.signature;
    const ex = mv.input_example;
    return h("div", {},
      sig ? [h("p", { class: "muted" }, `${(sig.inputs || []).length} input columns, in the order the model reads them:`),
        h("ul", { class: "sig" }, (sig.inputs || []).map((c, i) => h("li", {}, h("span", { class: "muted" }, `${i}. `),
          h("code", {}, c.name), " ", h("span", { class: "muted" }, `${c.dtype}${c.nullable ? ", nullable" : ""}`))))]
        : h("p", { class: "empty" }, "No signature was recorded."),
      sig && sig.outputs && sig.outputs.length ? h("p", { class: "muted" }, `Outputs: ${sig.outputs.map((o) => `${o.name} (${o.dtype || o.type})`).join(", ")}`) : null,
      h("h3", {}, "Input example"),
      ex && ex.columns ? h("div", { class: "scroll" }, table(
        ex.columns.map((c, j) => [c, (row) => fmtNum(row[j], 4), { num: true }]),
        (ex.data || []).slice(0, 3))) : h("p", { class: "empty" }, "No input example was recorded."));
  });
  const flavors = panel("Flavors and parity", `the flavors of ${uri}`, async () => {
    const mv = await mvPromise;
    const fp = mv.fast_path;
    return h("div", {},
      table([
        ["Flavor", (f) => h("strong", {}, f.flavor)],
        ["Size", (f) => `${fmtNum(f.size / 1024, 3)} KiB`, { num: true }],
        ["Digest", (f) => h("code", {}, f.digest.slice(0, 16))],
      ], mv.flavors),
      h("h3", {}, "ONNX fast path"),
      fp ? kv([
        ["Status", badge(fp.status, fp.status === "ready" ? "ok" : fp.status === "failed" ? "bad" : "pending")],
        fp.reason ? ["Reason", fp.reason] : null,
        ["Rows compared", fmtNum(fp.rows)],
        ["Label agreement", fp.label_agreement === null || fp.label_agreement === undefined ? "—" : `${(fp.label_agreement * 100).toFixed(2)}%`],
        ["Max probability diff", fmtNum(fp.max_proba_diff)],
        ["Max prediction diff", fmtNum(fp.max_pred_diff)],
        ["Tolerance", fmtNum(fp.tolerance)],
        ["Checked", fmtTime(fp.checked_at)],
      ]) : h("p", { class: "empty" }, "The fast path was never checked for this version."));
  });
  const card = panel("Model card", `the model card of ${uri}`, async () => modelCard(await mvPromise));
  main.append(h("div", { class: "grid" }, overview, lineagePanel), h("div", { class: "grid" }, flavors, card), signature);
}

// data version -> run -> model version -> deployment, one row a kind, linked.
function lineageChain(graph) {
  const order = ["data", "run", "model", "deployment"];
  const rows = order.map((k) => [k, graph.nodes.filter((n) => n.kind === k)]).filter(([, ns]) => ns.length);
  if (graph.nodes.length <= 1) return h("p", { class: "empty" }, "Nothing recorded upstream or downstream.");
  return h("div", {},
    h("div", { class: "chain", "aria-label": "Lineage chain" }, rows.map(([k, ns], i) => [
      i ? h("div", { class: "down", "aria-hidden": "true" }, "↓") : null,
      h("div", { class: "row" }, h("span", { class: "kind" }, k), h("div", { class: "nodes" }, ns.map((n) => h("span", { class: "node" }, refLink(n.id, n.label))))),
    ])),
    h("details", {}, h("summary", {}, `${graph.edges.length} edges`), table([
      ["From", (e) => refLink(e.from)], ["To", (e) => refLink(e.to)], ["Kind", (e) => e.kind + (e.variant ? ` (${e.variant})` : "")],
    ], graph.edges)));
}

function modelCard(mv) {
  const tags = { ...mv.tags };
  const purpose = mv.description || tags.purpose || "Not stated at registration.";
  const limits = tags.limitations;
  return h("div", { class: "card-md" },
    h("h3", {}, "Purpose"), h("p", {}, purpose),
    h("h3", {}, "Data"), h("p", {}, "Trained on: ", mv.data_ref ? refLink(mv.data_ref) : "no data version was recorded", "."),
    h("h3", {}, "Metrics"), Object.keys(mv.metrics).length
      ? table([["Metric", (r) => r[0]], ["Value", (r) => fmtNum(r[1], 6), { num: true }]], Object.entries(mv.metrics).sort())
      : h("p", { class: "muted" }, "No metrics were recorded with this version."),
    h("h3", {}, "Parameters"), Object.keys(mv.params).length
      ? h("p", {}, Object.entries(mv.params).slice(0, 25).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", "))
      : h("p", { class: "muted" }, "—"),
    h("h3", {}, "Limitations"), h("p", {}, limits || "Its behaviour on data unlike the training data is not measured here: watch it in production (the deployment's monitoring page)."));
}
