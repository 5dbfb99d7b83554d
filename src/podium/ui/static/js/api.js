// The control API, from the page: JSON in and out, errors as ApiError with what failed.

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(method, path, status, body) {
    const said = body && body.error ? body.error : `HTTP ${status}`;
    super(`${method} ${path} failed (${status || "no answer"}): ${said}`);
    this.said = said;
    this.status = status;
    this.hint = body && body.hint;
    this.type = body && body.type;
  }
}

export async function call(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-podium-csrf"] = "1"; // proves the page is ours
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(method, API + path, 0, { error: `the server did not answer (${err.message})` });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text.slice(0, 200) }; }
  }
  if (!res.ok) {
    const err = new ApiError(method, API + path, res.status, data);
    if (res.status === 401) window.dispatchEvent(new CustomEvent("podium:signin"));
    throw err;
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
export const del = (path) => call("DELETE", path);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, v);
  const t = p.toString();
  return t ? `?${t}` : "";
}

export const enc = encodeURIComponent;
