import { h, badge, table, panel, pageHead, pager, kv, refLink, fmtTime, fmtNum, confirmDialog, toast, errorBox } from "../dom.js";
import { get, post, qs, enc } from "../api.js";
import { listPlace, getListPage } from "../paging.js";

const PAGE = 50;

function every(s) {
  if (s.cron) return `cron ${s.cron}`;
  if (s.event) return `on event ${s.event}`;
  if (!s.interval_s) return "—";
  const v = s.interval_s;
  return `every ${v % 3600 === 0 ? `${v / 3600} h` : v % 60 === 0 ? `${v / 60} min` : `${v} s`}`;
}

export async function schedules(main, ctx) {
  main.append(pageHead([], "Schedules", "Pipelines fired by `podium scheduler`: on a cron, an interval or an event."));
  const p = panel("Schedules", "schedules", async () => {
    const all = await get("/schedules");
    return table([
      ["Schedule", (s) => h("strong", {}, s.name)],
      ["Pipeline", (s) => h("code", {}, s.pipeline_ref)],
      ["When", (s) => every(s)],
      ["Next fire", (s) => (s.event ? "on the event" : s.paused ? h("span", { class: "muted" }, `paused (was ${fmtTime(s.next_fire_at)})`) : fmtTime(s.next_fire_at))],
      ["Status", (s) => badge(s.paused ? "paused" : "active")],
      ["Fires", (s) => h("details", { ontoggle: (e) => loadFires(e.target, s.name) }, h("summary", {}, "recent fires"), h("div", {}))],
      ["", (s) => (ctx.canAct ? h("button", {
        type: "button", class: "secondary", id: `schedule-${s.paused ? "resume" : "pause"}-${s.name}`,
        onclick: () => confirmDialog({
          title: `${s.paused ? "Resume" : "Pause"} schedule ${s.name}?`,
          body: h("p", {}, s.paused ? "It fires again from its next fire time after now." : "It stops firing until resumed."),
          confirm: s.paused ? "Resume" : "Pause",
          action: async () => {
            await post(`/schedules/${enc(s.name)}/${s.paused ? "resume" : "pause"}`);
            toast(`Schedule ${s.name} ${s.paused ? "resumed" : "paused"}.`);
            p.refresh();
          },
        }),
      }, s.paused ? "Resume" : "Pause") : null)],
    ], all, { empty: "No schedule: `podium schedules add` makes one." });
  });
  main.append(p);
}

async function loadFires(details, name) {
  if (!details.open || details.dataset.loaded) return;
  details.dataset.loaded = "1";
  const box = details.lastChild;
  try {
    const fires = await get(`/schedules/${enc(name)}/fires`);
    box.append(table([
      ["For", (f) => fmtTime(f.fire_time)], ["Status", (f) => badge(f.status)],
      ["Run", (f) => (f.run_id ? refLink(`run:${f.run_id}`, f.run_id.slice(0, 12)) : "—")],
    ], fires.slice(0, 10), { empty: "It has not fired yet." }));
  } catch (err) {
    box.append(errorBox(`the fires of ${name}`, err));
  }
}

export async function data(main, ctx) {
  const { filters, limit, offset, go } = listPlace("data", ctx.params, ["name"], PAGE);
  main.append(pageHead([], "Data versions", "Registered datasets, newest first, with their profiles."));
  main.append(panel("Data versions", "data versions", async () => {
    const page = await getListPage("/data", filters, { limit, offset });
    return h("div", {}, table([
      ["Version", (d) => h("a", { href: `#/data/${enc(d.name)}/${d.version}` }, `${d.name} v${d.version}`)],
      ["Rows", (d) => fmtNum(d.rows), { num: true }],
      ["Columns", (d) => Object.keys((d.profile || {}).columns || {}).length, { num: true }],
      ["Format", (d) => d.format],
      ["Size", (d) => `${fmtNum(d.size / 1024, 3)} KiB`, { num: true }],
      ["Source", (d) => h("code", {}, String(d.source).slice(0, 60))],
      ["Made by run", (d) => (d.run_id ? refLink(`run:${d.run_id}`, d.run_id.slice(0, 12)) : "—")],
      ["Registered", (d) => fmtTime(d.created_at)],
    ], page.items, { empty: filters.name ? `Dataset ${filters.name} has no version here.` : "No data version: `podium data add FILE --name NAME` records one." }),
    pager(page, (o) => go({ offset: o })));
  }));
}

export async function dataVersion(main, ctx, name, version) {
  main.append(pageHead([["Data", "#/data"]], `${name} v${version}`));
  main.append(panel("Profile", `data version data:/${name}/${version}`, async () => {
    const d = await get(`/data/${enc(name)}/${version}`);
    const cols = Object.entries((d.profile || {}).columns || {});
    return h("div", {},
      kv([["URI", h("code", {}, `data:/${name}/${version}`)], ["Rows", fmtNum(d.rows)], ["Format", d.format],
        ["Digest", h("code", {}, d.digest.slice(0, 16))], ["Source", d.source], ["Registered", `${fmtTime(d.created_at)} by ${d.created_by}`]]),
      h("h3", {}, `${cols.length} columns`),
      table([
        ["Column", (c) => h("code", {}, c[0])],
        ["Kind", (c) => c[1].kind],
        ["Nulls", (c) => fmtNum(c[1].nulls), { num: true }],
        ["Mean", (c) => fmtNum(c[1].mean), { num: true }],
        ["Std", (c) => fmtNum(c[1].std), { num: true }],
        ["Min", (c) => fmtNum(c[1].min), { num: true }],
        ["Max", (c) => fmtNum(c[1].max), { num: true }],
        ["Top values", (c) => (c[1].top ? c[1].top.slice(0, 3).map(([k, n]) => `${k} (${n})`).join(", ") : "—")],
      ], cols));
  }));
  main.append(panel("Lineage", `the lineage of data:/${name}/${version}`, async () => {
    const graph = await get(`/lineage${qs({ ref: `data:/${name}/${version}` })}`);
    return table([["From", (e) => refLink(e.from)], ["To", (e) => refLink(e.to)], ["Kind", (e) => e.kind]], graph.edges,
      { empty: "No run read it and no model names it." });
  }));
}

export async function flags(main) {
  main.append(pageHead([], "Flags", "Feature flags of the deployments that route by them, as they apply now."));
  main.append(panel("Flags", "flags", async () => {
    const deps = (await get("/deployments")).filter((d) => d.spec.strategy === "flags");
    if (!deps.length) return h("p", { class: "empty" }, "No deployment routes by flags (strategy: flags).");
    const all = await Promise.all(deps.map(async (d) => ({ d, flags: await get(`/deployments/${enc(d.name)}/flags`) })));
    return h("div", {}, all.map(({ d, flags: fl }) => [
      h("h3", {}, h("a", { href: `#/deployments/${enc(d.name)}` }, d.name), ` · default ${d.spec.flags.default}`),
      table([
        ["Flag", (f) => h("strong", {}, f.name)],
        ["Variant", (f) => f.variant],
        ["State", (f) => (f.kill ? badge("killed", "bad") : f.enabled === false ? badge("off", "paused") : badge("on", "ok"))],
        ["Percent", (f) => (f.percent === undefined || f.percent === null ? "100%" : `${fmtNum(f.percent)}%`), { num: true }],
        ["Rules", (f) => (f.rules || []).map((r) => `${r.attribute} ${r.op} ${JSON.stringify(r.value)}`).join("; ") || "everyone"],
      ], fl),
    ]));
  }));
}

// An ISO instant as a datetime-local input shows it: in the browser's time zone.
function localInput(iso) {
  const d = new Date(iso || "");
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export async function audit(main, ctx) {
  const names = ["target", "target_prefix", "actor", "action", "since"];
  const { filters: f, limit, offset, go } = listPlace("audit", ctx.params, names, PAGE);
  const field = (name, label, placeholder) => h("label", { for: `a-${name}` }, label,
    h("input", { id: `a-${name}`, name, value: f[name], placeholder }));
  const form = h("form", { class: "toolbar", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(e.target).entries());
    if (data.since && !/[zZ]|[+-]\d\d:?\d\d$/.test(data.since)) data.since = new Date(data.since).toISOString();
    go({ ...data, offset: null });
  } },
  field("target", "Target", "deployments:/churn"), field("target_prefix", "Target starts with", "models:/churn"),
  field("actor", "Actor", "ci"), field("action", "Action", "deployment.promoted"),
  h("label", { for: "a-since" }, "Since", h("input", { id: "a-since", name: "since", type: "datetime-local", value: localInput(f.since) })),
  h("button", { type: "submit" }, "Filter"), h("a", { href: "#/audit", class: "button secondary" }, "Clear"));
  main.append(pageHead([], "Audit log", "Every change to aliases, deployments, traffic, flags, schedules and tokens: who, when, before and after."), form);
  main.append(panel("Audit records", "the audit log", async () => {
    const page = await getListPage("/audit", f, { limit, offset });
    return h("div", {}, table([
      ["When", (r) => h("span", { class: "nowrap" }, fmtTime(r.at))],
      ["Actor", (r) => r.actor],
      ["Action", (r) => h("code", {}, r.action)],
      ["Target", (r) => refLink(r.target)],
      ["Before", (r) => h("code", {}, JSON.stringify(r.before ?? null).slice(0, 120))],
      ["After", (r) => h("code", {}, JSON.stringify(r.after ?? null).slice(0, 120))],
    ], page.items, { empty: "No audit record matches." }),
    pager(page, (o) => go({ offset: o })));
  }));
}
