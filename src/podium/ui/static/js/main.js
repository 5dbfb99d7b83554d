// The dashboard's shell: session, navigation and hash routes.
import { h, clear, errorBox } from "./dom.js";
import { get, post, del } from "./api.js";
import * as runs from "./pages/runs.js";
import * as models from "./pages/models.js";
import * as deployments from "./pages/deployments.js";
import * as monitoring from "./pages/monitoring.js";
import * as other from "./pages/other.js";

const ROUTES = [
  [/^\/runs$/, runs.list, "runs"],
  [/^\/runs\/([^/]+)$/, runs.detail, "runs"],
  [/^\/models$/, models.list, "models"],
  [/^\/models\/([^/]+)$/, models.model, "models"],
  [/^\/models\/([^/]+)\/(\d+)$/, models.version, "models"],
  [/^\/deployments$/, deployments.list, "deployments"],
  [/^\/deployments\/([^/]+)$/, deployments.detail, "deployments"],
  [/^\/deployments\/([^/]+)\/monitoring$/, monitoring.page, "deployments"],
  [/^\/schedules$/, other.schedules, "schedules"],
  [/^\/data$/, other.data, "data"],
  [/^\/data\/([^/]+)\/(\d+)$/, other.dataVersion, "data"],
  [/^\/flags$/, other.flags, "flags"],
  [/^\/audit$/, other.audit, "audit"],
];

export const session = { auth: false, role: "admin", name: null };
let timers = [];
let generation = 0;

// What a page gets: the place to render, query parameters, a poller, and the session.
function context(params) {
  const mine = generation;
  return {
    params,
    session,
    canAct: ["operator", "admin"].includes(session.role),
    alive: () => mine === generation,
    every(ms, fn) {
      const id = setInterval(() => { if (mine === generation) fn(); }, ms);
      timers.push(id);
    },
    reload: () => route(),
  };
}

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/runs";
  const [path, query] = raw.split("?");
  return { path: path || "/runs", params: new URLSearchParams(query || "") };
}

async function loadSession() {
  const who = await get("/session");
  Object.assign(session, { auth: who.auth, role: who.role, name: who.name, signedIn: who.signed_in });
  renderWho();
  return who;
}

function renderWho() {
  const box = clear(document.getElementById("who"));
  if (!session.auth) {
    box.append(h("span", { title: "Tokens are not required on this server" }, "auth off (loopback)"));
    return;
  }
  if (!session.signedIn) return;
  box.append(h("span", {}, `${session.name} · ${session.role}`),
    h("button", { type: "button", onclick: signOut }, "Sign out"));
}

async function signOut() {
  await del("/session");
  Object.assign(session, { signedIn: false, role: null, name: null });
  renderWho();
  location.hash = "#/signin";
}

function signInPage(main, params) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off",
    required: true, placeholder: "pod_…", "aria-describedby": "token-help" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      try {
        await post("/session", { token: input.value });
        await loadSession();
        location.hash = params.get("next") || "#/runs";
      } catch (err) {
        error.textContent = (err.said || err.message) + (err.hint ? ` ${err.hint}` : "");
        error.hidden = false;
        input.focus();
      }
    },
  },
  h("label", { for: "token" }, "API token"), input,
  h("p", { id: "token-help", class: "muted" },
    "An admin creates tokens with ", h("code", {}, "podium tokens create --name NAME --role viewer"), ". ",
    "The token is kept in an HttpOnly cookie for this site only; sign out to forget it."),
  error, h("button", { type: "submit" }, "Sign in"));
  main.append(h("section", { class: "panel signin" }, h("h1", {}, "Sign in to podium"), form));
  input.focus();
}

async function route() {
  generation += 1;
  timers.forEach(clearInterval);
  timers = [];
  const main = clear(document.getElementById("main"));
  const { path, params } = parseHash();
  document.body.classList.toggle("signed-out", path === "/signin");
  if (path === "/signin") {
    setCurrent(null);
    signInPage(main, params);
    return;
  }
  if (session.auth && !session.signedIn) {
    location.hash = `#/signin?next=${encodeURIComponent(location.hash || "#/runs")}`;
    return;
  }
  for (const [re, page, section] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    setCurrent(section);
    try {
      await page(main, context(params), ...m.slice(1).map(decodeURIComponent));
    } catch (err) {
      if (err && err.status === 401) return;
      main.append(errorBox("this page", err));
    }
    return;
  }
  setCurrent(null);
  main.append(h("h1", {}, "Not found"), h("p", {}, `No page at ${path}. `, h("a", { href: "#/runs" }, "Go to runs")));
}

function setCurrent(section) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

window.addEventListener("podium:signin", () => {
  if (!session.auth) return;
  session.signedIn = false;
  if (!location.hash.startsWith("#/signin")) {
    location.hash = `#/signin?next=${encodeURIComponent(location.hash || "#/runs")}`;
  }
});
window.addEventListener("hashchange", () => { route(); });

async function start() {
  try {
    await loadSession();
  } catch (err) {
    const main = clear(document.getElementById("main"));
    main.append(errorBox("the session (is the podium server running?)", err));
    return;
  }
  await route();
}

start();
