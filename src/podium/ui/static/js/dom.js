// Small helpers to build the page with the DOM (text is always set as text, never as HTML).

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function link(href, ...children) {
  return h("a", { href }, ...children);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}

export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en");
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toLocaleString("en", { maximumFractionDigits: 6 });
}

export function fmtPct(v, digits = 1) {
  if (v === null || v === undefined) return "—";
  return `${(v * 100).toFixed(digits)}%`;
}

export function fmtMs(v) {
  return v === null || v === undefined ? "—" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString("en-GB", { year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function durationOf(a, b) {
  if (!a || !b) return null;
  return (new Date(b) - new Date(a)) / 1000;
}

// A table: columns are [header, (row) => cell, {num: true}] triples.
export function table(columns, rows, { empty = "Nothing here yet.", caption } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "scroll" },
    h("table", {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([title, , o]) =>
        h("th", { class: o && o.num ? "num" : null, scope: "col" }, title)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell, o]) =>
        h("td", { class: o && o.num ? "num" : null }, cell(row))))))));
}

export function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function cards(items) {
  return h("div", { class: "cards" }, items.map(([label, value]) =>
    h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value))));
}

export function errorBox(what, err) {
  const detail = err && err.message ? err.message : String(err);
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, `Could not load ${what}.`),
    h("span", {}, detail),
    err && err.hint ? h("div", { class: "muted" }, `Hint: ${err.hint}`) : null);
}

// A panel whose body comes from an async loader: "Loading…", then the body or an error
// naming what failed (never an empty table).
export function panel(title, what, load, { head } = {}) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { class: "panel", "aria-label": title },
    h("div", { class: "panel-head" }, h("h2", {}, title), head || null), body);
  const refresh = async () => {
    try {
      const content = await load();
      clear(body);
      append(body, [content]);
    } catch (err) {
      if (err && err.status === 401) throw err;
      clear(body);
      body.append(errorBox(what, err));
    }
  };
  el.refresh = refresh;
  el.ready = refresh();
  return el;
}

export function toast(text, bad = false) {
  const box = document.getElementById("toast");
  const msg = h("div", { class: bad ? "msg bad" : "msg" }, text);
  box.append(msg);
  setTimeout(() => msg.remove(), 5000);
}

// A confirmation dialog: body nodes, the confirm label, and the action to run on confirm.
// Resolves true when the action ran, false when cancelled; the action's error stays shown.
export function confirmDialog({ title, body, confirm, danger = false, action }) {
  const dialog = document.getElementById("confirm");
  const form = document.getElementById("confirm-form");
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  const error = document.getElementById("confirm-error");
  document.getElementById("confirm-title").textContent = title;
  clear(document.getElementById("confirm-body"));
  append(document.getElementById("confirm-body"), [body]);
  ok.textContent = confirm;
  ok.className = danger ? "danger" : "";
  error.hidden = true;
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onCancel = (e) => { e.preventDefault(); done(false); };
    const onSubmit = async (e) => {
      e.preventDefault();
      ok.disabled = true;
      try {
        await action(form);
        done(true);
      } catch (err) {
        error.textContent = err.hint ? `${err.message} ${err.hint}` : err.message;
        error.hidden = false;
      } finally {
        ok.disabled = false;
      }
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    const first = dialog.querySelector("#confirm-body input, #confirm-body select");
    (first || ok).focus();
  });
}

// The top of a page: breadcrumbs, a title (with badges), a line under it.
export function pageHead(crumbs, title, sub, ...extra) {
  return h("div", { class: "page-head" },
    crumbs && crumbs.length
      ? h("p", { class: "crumbs" }, crumbs.map(([label, href], i) => [i ? " / " : "", href ? h("a", { href }, label) : label]))
      : null,
    h("h1", {}, title, ...extra),
    sub ? h("p", { class: "sub" }, sub) : null);
}

// A link to whatever a lineage node or reference names, inside the dashboard.
export function refLink(ref, label) {
  const text = label || ref;
  let m;
  if ((m = /^models:\/([^/@]+)\/(\d+)$/.exec(ref))) return h("a", { href: `#/models/${encodeURIComponent(m[1])}/${m[2]}` }, text);
  if ((m = /^models:\/([^/@]+)@(.+)$/.exec(ref))) return h("a", { href: `#/models/${encodeURIComponent(m[1])}` }, text);
  if ((m = /^data:\/([^/]+)\/(\d+)$/.exec(ref))) return h("a", { href: `#/data/${encodeURIComponent(m[1])}/${m[2]}` }, text);
  if ((m = /^run:(.+)$/.exec(ref))) return h("a", { href: `#/runs/${encodeURIComponent(m[1])}` }, text);
  if ((m = /^deployment:(.+)$/.exec(ref))) return h("a", { href: `#/deployments/${encodeURIComponent(m[1])}` }, text);
  if ((m = /^deployments:\/(.+)$/.exec(ref))) return h("a", { href: `#/deployments/${encodeURIComponent(m[1])}` }, text);
  return h("span", {}, text);
}

export function pager(page, go) {
  const prev = page.offset > 0;
  const next = page.next_offset !== null && page.next_offset !== undefined;
  if (!prev && !next) return null;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("span", { class: "muted" }, page.items.length
      ? `Showing ${page.offset + 1}–${page.offset + page.items.length}`
      : `Nothing past the first ${page.offset}`),
    h("button", { type: "button", class: "secondary", disabled: !prev, onclick: () => go(Math.max(page.offset - page.limit, 0)) }, "← Newer"),
    h("button", { type: "button", class: "secondary", disabled: !next, onclick: () => go(page.next_offset) }, "Older →"));
}
