import { h, badge, table, panel, pageHead, pager, kv, refLink, fmtTime, fmtDuration, durationOf, clear, append, errorBox } from "../dom.js";
import { get, qs, enc } from "../api.js";
import { dag, gantt } from "../charts.js";
import { listPlace } from "../paging.js";

const STATUSES = ["", "running", "succeeded", "failed", "crashed"];
// What starts a run (podium.core.names.RUN_TRIGGERS); a schedule's runs are schedule:NAME.
const TRIGGERS = ["", "manual", "schedule", "event", "retrain", "check"];
const PAGE = 25;

export async function list(main, ctx) {
  const { filters, limit, offset, go } = listPlace("runs", ctx.params, ["pipeline", "status", "trigger"], PAGE);
  const pipelines = h("select", { id: "f-pipeline", onchange: (e) => go({ pipeline: e.target.value }) },
    h("option", { value: "" }, "all pipelines"));
  get("/pipelines").then((all) => {
    for (const x of all) pipelines.append(h("option", { value: x.pipeline, selected: x.pipeline === filters.pipeline }, `${x.pipeline} (${x.runs})`));
  }).catch(() => {
    if (filters.pipeline) pipelines.append(h("option", { value: filters.pipeline, selected: true }, filters.pipeline));
  });
  const status = h("select", { id: "f-status", onchange: (e) => go({ status: e.target.value }) },
    STATUSES.map((st) => h("option", { value: st, selected: st === filters.status }, st || "any status")));
  const trigger = h("select", { id: "f-trigger", onchange: (e) => go({ trigger: e.target.value }) },
    TRIGGERS.map((tr) => h("option", { value: tr, selected: tr === filters.trigger }, tr || "any trigger")),
    TRIGGERS.includes(filters.trigger) ? null : h("option", { value: filters.trigger, selected: true }, filters.trigger));
  main.append(pageHead([], "Runs", "Pipeline runs, newest first."),
    h("div", { class: "toolbar", role: "search" },
      h("label", { for: "f-pipeline" }, "Pipeline", pipelines),
      h("label", { for: "f-status" }, "Status", status),
      h("label", { for: "f-trigger" }, "Trigger", trigger)));
  const runsPanel = panel("Runs", "runs", async () => {
    const page = await get(`/runs${qs({ ...filters, limit, offset })}`);
    if (page.items.some((r) => r.status === "running")) ctx.every(2000, () => runsPanel.refresh());
    return h("div", {},
      table([
        ["Run", (r) => h("a", { href: `#/runs/${enc(r.id)}`, class: "mono" }, r.id)],
        ["Pipeline", (r) => r.pipeline],
        ["Status", (r) => badge(r.status)],
        ["Trigger", (r) => r.trigger],
        ["Started", (r) => h("span", { class: "nowrap" }, fmtTime(r.started_at || r.created_at))],
        ["Duration", (r) => fmtDuration(durationOf(r.started_at, r.ended_at)), { num: true }],
      ], page.items, { empty: Object.values(filters).some(Boolean) ? "No run matches these filters." : "No run yet: `podium run` starts one." }),
      pager(page, (o) => go({ offset: o })));
  });
  main.append(runsPanel);
}

export async function detail(main, ctx, id) {
  const head = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  main.append(head);
  const body = h("div", { class: "stack" });
  main.append(body);
  let lastStatus = null;
  const render = async () => {
    let run;
    try {
      run = await get(`/runs/${enc(id)}`);
    } catch (err) {
      clear(head).append(pageHead([["Runs", "#/runs"]], `Run ${id}`), errorBox(`run ${id}`, err));
      return;
    }
    if (!ctx.alive()) return;
    clear(head).append(pageHead([["Runs", "#/runs"], [run.pipeline, `#/runs?pipeline=${enc(run.pipeline)}`]],
      `Run ${run.id} `, `${run.pipeline} · ${run.trigger} · started ${fmtTime(run.started_at || run.created_at)}`,
      badge(run.status), run.status === "running" ? h("span", { class: "live" }, " updating live") : null));
    const changed = lastStatus !== run.status || run.status === "running";
    lastStatus = run.status;
    if (!changed && body.firstChild) return;
    clear(body);
    const steps = run.steps || [];
    append(body, [
      h("div", { class: "grid" },
        h("section", { class: "panel" }, h("h2", {}, "Overview"), kv([
          ["Run id", h("span", { class: "mono" }, run.id)],
          ["Pipeline", run.pipeline_ref || run.pipeline],
          ["Status", badge(run.status)],
          ["Trigger", run.trigger + (run.scheduled_time ? ` (for ${fmtTime(run.scheduled_time)})` : "")],
          ["Started", fmtTime(run.started_at)],
          ["Ended", fmtTime(run.ended_at)],
          ["Duration", fmtDuration(durationOf(run.started_at, run.ended_at))],
          ["Code version", run.code_version || "—"],
          ["Parameters", h("code", {}, JSON.stringify(run.params))],
        ]), run.error ? [h("h3", {}, "Error"), h("pre", {}, run.error)] : null),
        panel("Inputs and outputs", `the lineage of run ${run.id}`, () => lineage(run))),
      h("section", { class: "panel" }, h("h2", {}, "Graph"),
        h("p", { class: "muted" }, "Colour says the status; dashed: a cache hit; ↻: retried."),
        dag(steps, { hrefFor: (st) => `#/runs/${enc(run.id)}?step=${enc(st.name)}` })),
      h("section", { class: "panel" }, h("h2", {}, "Step timeline"), gantt(steps, run.started_at)),
      h("section", { class: "panel", id: "steps" }, h("h2", {}, "Steps, logs and errors"), stepsTable(run, ctx.params.get("step"))),
    ]);
  };
  await render();
  ctx.every(2000, () => { if (lastStatus === "running") render(); });
}

function stepsTable(run, focus) {
  return table([
    ["Step", (st) => h("strong", { id: `step-${st.name}` }, st.name)],
    ["Status", (st) => [badge(st.status), st.cache_hit && st.status !== "cached" ? [" ", badge("cache hit", "cached")] : null]],
    ["Attempts", (st) => (st.attempts > 1 ? `${st.attempts} (retried)` : String(st.attempts)), { num: true }],
    ["Started", (st) => h("span", { class: "nowrap" }, fmtTime(st.started_at))],
    ["Duration", (st) => fmtDuration(st.duration_s), { num: true }],
    ["Inputs", (st) => Object.keys(st.inputs || {}).join(", ") || "—"],
    ["Outputs", (st) => (st.outputs && st.outputs.length ? `${st.outputs.length} artifact(s)` : "—")],
    ["Log / error", (st) => (st.error
      ? h("details", { open: focus === st.name || null }, h("summary", {}, st.error.split("\n")[0].slice(0, 90)), h("pre", {}, st.error))
      : st.cache_hit ? h("span", { class: "muted" }, `reused ${st.cache_info && st.cache_info.run_id ? `from run ${st.cache_info.run_id.slice(0, 12)}` : "a cached result"}`)
        : h("span", { class: "muted" }, st.status === "succeeded" ? "ok" : ""))],
  ], run.steps || [], { empty: "This run has no steps recorded." });
}

async function lineage(run) {
  const graph = await get(`/lineage${qs({ ref: `run:${run.id}`, depth: 1 })}`);
  const inputs = graph.edges.filter((e) => e.to === `run:${run.id}`);
  const outputs = graph.edges.filter((e) => e.from === `run:${run.id}`);
  const label = (id) => (graph.nodes.find((n) => n.id === id) || {}).label || id;
  const rows = [
    ...inputs.map((e) => ({ dir: "input", ref: e.from, kind: e.kind })),
    ...outputs.map((e) => ({ dir: "output", ref: e.to, kind: e.kind })),
  ];
  return table([
    ["", (r) => r.dir],
    ["What", (r) => refLink(r.ref, label(r.ref))],
    ["How", (r) => r.kind],
  ], rows, { empty: "This run read no registered data version and registered no model." });
}
