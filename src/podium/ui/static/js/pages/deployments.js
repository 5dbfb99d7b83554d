import { h, badge, table, panel, pageHead, kv, refLink, fmtTime, fmtNum, fmtPct, fmtMs, clear, append, errorBox, confirmDialog, toast } from "../dom.js";
import { get, post, put, enc } from "../api.js";
import { lineChart, stackedBars } from "../charts.js";

const LIVE_MS = 2000;

export async function list(main) {
  main.append(pageHead([], "Deployments", "What serves which model, and how traffic is split."));
  main.append(panel("Deployments", "deployments", async () => {
    const deps = await get("/deployments");
    return table([
      ["Deployment", (d) => h("a", { href: `#/deployments/${enc(d.name)}` }, d.name)],
      ["Strategy", (d) => d.spec.strategy],
      ["Status", (d) => [badge(d.status), d.state && d.state.status ? [" ", badge(d.state.status)] : null]],
      ["Variants", (d) => Object.entries(d.spec.variants).map(([v, x]) => `${v}: ${x.model}`).join(" · ")],
      ["Revision", (d) => d.revision, { num: true }],
      ["Updated", (d) => fmtTime(d.updated_at)],
      ["", (d) => h("a", { href: `#/deployments/${enc(d.name)}/monitoring` }, "Monitoring")],
    ], deps, { empty: "No deployment yet: `podium deploy -f deployment.yaml` makes one." });
  }));
}

export function tabs(name, current) {
  return h("nav", { class: "tabs", "aria-label": "Deployment views" },
    h("a", { href: `#/deployments/${enc(name)}`, "aria-current": current === "overview" ? "page" : null }, "Overview"),
    h("a", { href: `#/deployments/${enc(name)}/monitoring`, "aria-current": current === "monitoring" ? "page" : null }, "Monitoring"));
}

export async function detail(main, ctx, name) {
  const head = h("div", {}, pageHead([["Deployments", "#/deployments"]], name));
  main.append(head, tabs(name, "overview"));
  let dep;
  try {
    dep = await get(`/deployments/${enc(name)}`);
  } catch (err) {
    main.append(errorBox(`deployment ${name}`, err));
    return;
  }
  const strategy = dep.spec.strategy;
  const actions = h("div", { class: "actions", id: "actions" });
  clear(head).append(pageHead([["Deployments", "#/deployments"]], `${name} `,
    `${strategy} · revision ${dep.revision} · updated ${fmtTime(dep.updated_at)}`,
    badge(dep.status), dep.state.status ? [" ", badge(dep.state.status)] : null), actions);
  if (ctx.canAct) renderActions(actions, dep, ctx);

  const live = h("span", { class: "live", id: "live" }, "live");
  const splitBody = h("div", { id: "split" }, h("p", { class: "muted" }, "Loading…"));
  const variantsBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const trendBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const splitPanel = h("section", { class: "panel", "aria-label": "Traffic split" },
    h("div", { class: "panel-head" }, h("h2", {}, "Traffic split"), live), splitBody);
  const variantsPanel = h("section", { class: "panel", "aria-label": "Variants" },
    h("div", { class: "panel-head" }, h("h2", {}, "Variants"), h("span", { class: "muted" }, "newest 10,000 predictions")), variantsBody);
  const trendPanel = h("section", { class: "panel", "aria-label": "Latency and errors" },
    h("h2", {}, "Latency and error rate over time"), trendBody);
  const extra = h("div", { class: "grid" });
  const rolloutPanel = strategy === "canary" || strategy === "bluegreen"
    ? panel("Rollout progress", `the rollout of ${name}`, () => rollout(name)) : null;
  // Two columns at the top (the split beside the rollout, or beside latency and errors);
  // the variants' table takes the whole width, so its figures never squeeze.
  main.append(h("div", { class: "grid" }, splitPanel, rolloutPanel || trendPanel), variantsPanel, extra);
  if (rolloutPanel) main.append(trendPanel);
  main.append(panel("History", `the history of ${name}`, async () => history(await get(`/deployments/${enc(name)}/history`))));

  let lastRevision = dep.revision;
  const refresh = async () => {
    const [tl, st] = await Promise.allSettled([
      get(`/dashboard/deployments/${enc(name)}/timeline?buckets=24`),
      get(`/deployments/${enc(name)}/status`),
    ]);
    if (!ctx.alive()) return;
    clear(splitBody);
    if (tl.status === "fulfilled") append(splitBody, [splitView(tl.value)]);
    else append(splitBody, [errorBox(`the traffic of ${name}`, tl.reason)]);
    clear(variantsBody);
    clear(trendBody);
    if (st.status === "fulfilled") {
      append(variantsBody, [variantsView(st.value)]);
      clear(extra);
      append(extra, strategyPanels(st.value, tl.status === "fulfilled" ? tl.value : null));
      if (st.value.revision !== lastRevision) {
        lastRevision = st.value.revision;
        if (rolloutPanel) rolloutPanel.refresh();
      }
    } else append(variantsBody, [errorBox(`the status of ${name}`, st.reason)]);
    if (tl.status === "fulfilled") append(trendBody, [trendView(tl.value)]);
    else append(trendBody, [errorBox(`the latency of ${name}`, tl.reason)]);
    live.textContent = `live · ${new Date().toLocaleTimeString("en-GB", { hour12: false })}`;
  };
  await refresh();
  ctx.every(LIVE_MS, refresh);
}

function splitView(tl) {
  const names = tl.variants;
  const desired = tl.desired;
  // The newest quarter of the spans, together: one span alone may hold a single request.
  const tail = tl.buckets.slice(-Math.max(1, Math.ceil(tl.buckets.length / 4)));
  const counts = {};
  for (const b of tail) for (const [v, c] of Object.entries(b.variants)) counts[v] = (counts[v] || 0) + c;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const recent = total ? { counts, total } : null;
  return h("div", {},
    desired ? h("div", {},
      h("h3", {}, "Asked for now"),
      h("div", { class: "split", id: "desired-split", role: "img", "aria-label": names.map((n) => `${n} ${fmtNum(desired[n] || 0)}%`).join(", ") },
        names.map((n, i) => ((desired[n] || 0) > 0
          ? grow(h("div", { class: `c${i % 4}`, "data-variant": n, "data-share": desired[n], title: `${n}: ${fmtNum(desired[n])}%` }, `${n} ${fmtNum(desired[n])}%`), desired[n])
          : null)).filter(Boolean)),
      h("p", { class: "muted", id: "desired-text" }, names.map((n) => `${n} ${fmtNum(desired[n] || 0)}%`).join(" · "))) : null,
    h("h3", {}, `Served over time (${fmtNum(tl.requests)} requests)`),
    stackedBars({ title: "Share of requests per variant over time", names,
      buckets: tl.buckets.map((b) => ({ x: b.start * 1000, shares: b.shares, requests: b.requests })) }),
    recent ? h("p", { class: "muted", id: "observed-text" }, `Newest ${fmtNum(recent.total)} requests: `,
      names.map((n) => `${n} ${fmtPct((recent.counts[n] || 0) / recent.total, 0)}`).join(" · ")) : null);
}

// The share as the element's flex (set through the CSSOM: the page allows no inline style).
function grow(el, share) {
  el.style.flex = `${share} 1 0`;
  return el;
}

// The version a variant resolves to now, and the alias its spec names (if any).
function modelCell(model, resolved) {
  const short = String(resolved || model).replace(/^models:\//, "");
  const alias = /@(.+)$/.exec(String(model));
  return [refLink(resolved || model, short), alias ? h("span", { class: "muted" }, ` @${alias[1]}`) : null];
}

function variantsView(st) {
  const rows = Object.entries(st.variants).map(([v, x]) => ({ v, ...x }));
  return h("div", {}, table([
    ["Variant", (r) => h("strong", {}, r.v)],
    ["Model", (r) => modelCell(r.model, r.resolves_to)],
    ["Flavor", (r) => r.flavor || "—"],
    ["Requests", (r) => fmtNum(r.requests), { num: true }],
    ["Errors", (r) => fmtPct(r.error_rate, 1), { num: true }],
    ["p50 / p99", (r) => h("span", { class: "nowrap" }, `${fmtMs(r.p50_ms)} / ${fmtMs(r.p99_ms)}`), { num: true }],
    ["Feedback", (r) => (r.feedback ? h("span", { class: "nowrap" }, `${r.feedback} · mean ${fmtNum(r.feedback_mean, 2)}`) : "—"), { num: true }],
  ], rows), st.workers && st.workers.length
    ? h("p", { class: "muted" }, `${st.workers.length} server(s): `, st.workers.map((w) => `${w.worker} (${w.status})`).join(", "))
    : h("p", { class: "muted" }, "No server reported in the last 10 s."));
}

function strategyPanels(st, tl) {
  const out = [];
  if (st.shadows && Object.keys(st.shadows).length) {
    out.push(h("section", { class: "panel", "aria-label": "Shadow agreement" }, h("h2", {}, "Shadow agreement"),
      table([
        ["Shadow", (r) => h("strong", {}, r[0])],
        ["Mirrored", (r) => fmtNum(r[1].requests), { num: true }],
        ["Errors", (r) => fmtNum(r[1].errors), { num: true }],
        ["Agreement with primary", (r) => fmtPct(r[1].agreement, 1), { num: true }],
        ["p50", (r) => fmtMs(r[1].p50_ms), { num: true }],
      ], Object.entries(st.shadows))));
  }
  if (st.significance) {
    const sg = st.significance;
    out.push(h("section", { class: "panel", "aria-label": "A/B significance" }, h("h2", {}, "A/B significance"),
      kv([
        ["Metric", sg.metric],
        ["p-value", sg.p_value === null ? `not yet (needs 30 ${sg.metric} values a variant)` : fmtNum(sg.p_value)],
        ["Alpha", fmtNum(sg.alpha)],
        ["Winner", sg.winner ? badge(sg.winner, "ok") : "none yet"],
      ]),
      table([
        ["Variant", (r) => r[0]], ["Mean", (r) => fmtNum(r[1], 4), { num: true }], ["Samples", (r) => fmtNum(sg.counts[r[0]]), { num: true }],
      ], Object.entries(sg.means))));
  }
  if (st.bandit) {
    out.push(h("section", { class: "panel", "aria-label": "Bandit allocation" }, h("h2", {}, "Bandit allocation over time"),
      tl ? stackedBars({ title: "Bandit allocation over time", names: tl.variants,
        buckets: tl.buckets.map((b) => ({ x: b.start * 1000, shares: b.shares, requests: b.requests })) }) : null,
      table([
        ["Arm", (r) => r[0]], ["Share", (r) => fmtPct(r[1].share), { num: true }],
        ["Rewarded pulls", (r) => fmtNum(r[1].rewarded), { num: true }], ["Mean reward", (r) => fmtNum(r[1].mean_reward), { num: true }],
      ], Object.entries(st.bandit))));
  }
  return out;
}

function trendView(tl) {
  const b = tl.buckets.filter((x) => x.requests);
  if (!b.length) return h("p", { class: "empty" }, "No traffic logged yet.");
  const t = (x) => x.start * 1000;
  return h("div", { class: "grid" },
    lineChart({ title: "Latency percentiles", time: true, yFormat: (v) => `${fmtNum(v, 2)} ms`,
      series: ["p50_ms", "p95_ms", "p99_ms"].map((k) => ({ name: k.replace("_ms", ""), points: b.map((x) => [t(x), x[k]]) })) }),
    lineChart({ title: "Error rate", time: true, yFormat: (v) => fmtPct(v, 0), yMax: Math.max(0.05, ...b.map((x) => x.error_rate || 0)),
      series: [{ name: "error rate", points: b.map((x) => [t(x), x.error_rate]) }] }));
}

async function rollout(name) {
  const r = await get(`/dashboard/deployments/${enc(name)}/rollout`);
  if (r.strategy === "bluegreen") {
    return kv([["Live colour", badge(r.state.live, "ok")], ["Previous", r.state.previous || "—"], ["Switched", fmtTime(r.state.switched_at)]]);
  }
  const c = r.canary;
  const a = c.analysis;
  return h("div", {},
    h("div", { class: "steps", "aria-label": "Canary steps" }, c.steps.map((p, i) => h("span", {
      class: `stp ${c.status === "promoted" || i < c.step ? "done" : i === c.step && c.status !== "rolled_back" ? "now" : ""}`,
      "aria-current": i === c.step ? "step" : null }, `${fmtNum(p)}%`))),
    kv([
      ["Status", badge(c.status || "—")],
      ["Traffic", `${fmtNum(c.percent)}% to ${c.candidate}, ${fmtNum(100 - c.percent)}% to ${c.stable}`],
      ["Step", `${c.step + 1} of ${c.steps.length}${c.since ? `, since ${fmtTime(c.since)}` : ""}`],
      ["Each step needs", `${fmtNum(c.min_requests)} requests and ${fmtNum(c.min_duration_s)} s`],
      ["Analysis now", a ? [badge(a.action), ` ${a.reason}`] : "not analysing (the canary is not progressing)"],
    ]),
    a && a.gates.length ? [h("h3", {}, "Gates"), table([
      ["Gate", (g) => g.gate],
      ["Figure", (g) => fmtNum(g.figure, 4), { num: true }],
      ["Limit", (g) => fmtNum(g.limit, 4), { num: true }],
      ["Verdict", (g) => badge(g.passed ? "passed" : "failed")],
      ["Detail", (g) => g.detail],
    ], a.gates)] : null,
    h("h3", {}, "Decisions"),
    table([
      ["When", (d) => fmtTime(d.at)], ["Decision", (d) => badge(d.action || d.kind)], ["At", (d) => (d.percent !== undefined ? `${fmtNum(d.percent)}%` : "—"), { num: true }],
      ["Why", (d) => d.reason || "—"], ["By", (d) => d.actor],
    ], r.decisions, { empty: "No decision yet: the controller (`podium controller`) takes them." }));
}

function history(events) {
  return table([
    ["When", (e) => fmtTime(e.at)],
    ["Event", (e) => badge(e.kind, e.kind === "rollback" || e.kind === "rolled_back" ? "bad" : "info")],
    ["Revision", (e) => e.revision, { num: true }],
    ["By", (e) => e.actor],
    ["Detail", (e) => eventDetail(e.detail)],
  ], events.slice(0, 50), { empty: "No event recorded." });
}

// What an event says, without the whole state before and after it.
function eventDetail(detail) {
  const d = detail || {};
  if (d.decision) return `${d.decision.action}: ${d.decision.reason}`;
  if (d.rewards) return `rewards: ${Object.entries(d.rewards).map(([k, v]) => `${k} ${v}`).join(", ")}`;
  const rest = Object.fromEntries(Object.entries(d).filter(([k]) => !["before", "after"].includes(k)));
  if (d.after && (d.after.percent !== undefined || d.after.status)) {
    rest.now = [d.after.status, d.after.percent !== undefined ? `${d.after.percent}%` : null].filter(Boolean).join(" at ");
  }
  const text = JSON.stringify(rest);
  return h("code", { title: JSON.stringify(d) }, text.length > 160 ? `${text.slice(0, 159)}…` : text);
}

function renderActions(box, dep, ctx) {
  const name = dep.name;
  const strategy = dep.spec.strategy;
  const act = (verb, label, text, danger = false) => h("button", {
    type: "button", id: `action-${verb}`, class: danger ? "danger" : null,
    onclick: () => confirmDialog({
      title: `${label} ${name}?`, body: h("p", {}, text), confirm: label, danger,
      action: async () => {
        await post(`/deployments/${enc(name)}/${verb}`);
        toast(`${label}: done for ${name}.`);
        ctx.reload();
      },
    }),
  }, label);
  if (strategy === "canary" || strategy === "bluegreen") {
    box.append(act("promote", "Promote", strategy === "canary"
      ? `The candidate takes 100% of the traffic of ${name} now, without waiting for the remaining steps.`
      : `All traffic of ${name} moves to the idle colour.`));
    box.append(act("rollback", "Roll back", strategy === "canary"
      ? `The candidate gets 0%: all traffic of ${name} goes back to the stable variant.`
      : `Traffic of ${name} goes back to the previous colour.`, true));
  }
  box.append(dep.status === "paused"
    ? act("resume", "Resume", `The rollout of ${name} resumes from where it stands.`)
    : act("pause", "Pause", `The rollout of ${name} stops where it is; traffic stays as it is.`));
  if (["canary", "ab", "bluegreen"].includes(strategy)) {
    box.append(h("button", { type: "button", id: "action-traffic", class: "secondary", onclick: () => trafficDialog(dep, ctx) }, "Change traffic…"));
  }
}

function trafficDialog(dep, ctx) {
  const spec = dep.spec;
  const name = dep.name;
  const variants = spec.strategy === "canary" ? [spec.canary.candidate] : Object.keys(spec.variants);
  const current = spec.strategy === "canary" ? { [spec.canary.candidate]: dep.state.percent }
    : spec.strategy === "ab" ? dep.state.weights || spec.ab.weights
      : Object.fromEntries(Object.keys(spec.variants).map((v) => [v, v === dep.state.live ? 100 : 0]));
  const inputs = variants.map((v) => h("input", { type: "number", min: 0, max: 100, step: "any", name: v, id: `share-${v}`, value: current[v] ?? 0, required: true }));
  const body = h("div", {},
    h("p", {}, spec.strategy === "canary"
      ? `The candidate's share of ${name}, in percent (the stable variant gets the rest). The canary then stays at this share until promoted or rolled back.`
      : `Each variant's share of ${name}, in percent.`),
    variants.map((v, i) => h("label", { for: `share-${v}` }, `${v} (%)`, inputs[i])));
  confirmDialog({
    title: `Change the traffic of ${name}`, body, confirm: "Change traffic",
    action: async () => {
      const shares = Object.fromEntries(inputs.map((el) => [el.name, Number(el.value)]));
      await put(`/deployments/${enc(name)}/traffic`, { shares });
      toast(`Traffic of ${name} changed.`);
      ctx.reload();
    },
  });
}
