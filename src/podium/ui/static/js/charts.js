// Charts and the pipeline DAG as inline SVG: no library, nothing from the network.
import { h, s, fmtNum, fmtDuration } from "./dom.js";

const PAD = { l: 54, r: 16, t: 12, b: 30 };

function legend(names) {
  return h("ul", { class: "legend" }, names.map((n, i) =>
    h("li", {}, h("span", { class: `swatch c${i % 8}`, "aria-hidden": "true" }), n)));
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(t) {
  const d = new Date(t);
  return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// Lines over x (numbers or epoch ms when time: true). series: [{name, points: [[x, y]]}].
export function lineChart({ series, width = 560, height = 220, yFormat = fmtNum, yMax, yMin = 0,
  time = false, threshold, title, xLabels }) {
  const pts = series.flatMap((d) => d.points.filter((p) => p[1] !== null && p[1] !== undefined));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": title || series.map((d) => d.name).join(", ") });
  if (!pts.length) return h("p", { class: "empty" }, "No figures yet.");
  const xs = pts.map((p) => p[0]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  const top = yMax !== undefined ? yMax : niceMax(Math.max(...pts.map((p) => p[1]), threshold || 0));
  const X = (x) => PAD.l + ((x - x0) / (x1 - x0)) * (width - PAD.l - PAD.r);
  const Y = (y) => height - PAD.b - ((y - yMin) / ((top - yMin) || 1)) * (height - PAD.t - PAD.b);
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((top - yMin) * i) / 4;
    svg.append(s("line", { class: "gridline", x1: PAD.l, x2: width - PAD.r, y1: Y(v), y2: Y(v) }),
      s("text", { class: "tick", x: PAD.l - 6, y: Y(v) + 4, "text-anchor": "end" }, yFormat(v)));
  }
  const ticks = xLabels || [x0, (x0 + x1) / 2, x1].map((x) => [x, time ? timeLabel(x) : fmtNum(x)]);
  ticks.forEach(([x, label], i) => {
    const anchor = ticks.length > 1 && i === ticks.length - 1 && X(x) > width - PAD.r - 30 ? "end" : "middle";
    svg.append(s("text", { class: "tick", x: X(x), y: height - 10, "text-anchor": anchor }, label));
  });
  svg.append(s("line", { class: "axis", x1: PAD.l, x2: width - PAD.r, y1: Y(yMin), y2: Y(yMin) }));
  if (threshold !== undefined && threshold !== null) {
    svg.append(s("line", { class: "threshold", x1: PAD.l, x2: width - PAD.r, y1: Y(threshold), y2: Y(threshold) }));
  }
  series.forEach((d, i) => {
    const good = d.points.filter((p) => p[1] !== null && p[1] !== undefined);
    if (!good.length) return;
    const path = good.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg.append(s("path", { class: `line s${i % 8}`, d: path, fill: "none" }));
    for (const p of good) {
      svg.append(s("circle", { class: `s${i % 8}`, cx: X(p[0]), cy: Y(p[1]), r: 2.5 },
        s("title", {}, `${d.name}: ${yFormat(p[1])}`)));
    }
  });
  return h("figure", { class: "chart-box", style: null }, svg, legend(series.map((d) => d.name)));
}

// Stacked shares (0-1) per bucket: [{x, label, shares: {name: share}}], names in order.
export function stackedBars({ buckets, names, width = 560, height = 200, title, time = true }) {
  if (!buckets.length) return h("p", { class: "empty" }, "No traffic yet.");
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title || "shares" });
  const w = (width - PAD.l - PAD.r) / buckets.length;
  const Y = (v) => height - PAD.b - v * (height - PAD.t - PAD.b);
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s("line", { class: "gridline", x1: PAD.l, x2: width - PAD.r, y1: Y(v), y2: Y(v) }),
      s("text", { class: "tick", x: PAD.l - 6, y: Y(v) + 4, "text-anchor": "end" }, `${v * 100}%`));
  }
  buckets.forEach((b, i) => {
    let acc = 0;
    names.forEach((n, j) => {
      const v = b.shares[n] || 0;
      if (v > 0) {
        svg.append(s("rect", { class: `s${j % 8}`, x: PAD.l + i * w + 1, width: Math.max(w - 2, 1),
          y: Y(acc + v), height: Y(acc) - Y(acc + v) }, s("title", {}, `${n}: ${(v * 100).toFixed(1)}% of ${b.requests} requests`)));
      }
      acc += v;
    });
  });
  const first = buckets[0], last = buckets[buckets.length - 1];
  const lab = (b) => (time ? timeLabel(b.x) : String(b.x));
  svg.append(s("text", { class: "tick", x: PAD.l, y: height - 10 }, lab(first)),
    s("text", { class: "tick", x: width - PAD.r, y: height - 10, "text-anchor": "end" }, lab(last)));
  return h("figure", {}, svg, legend(names));
}

// Grouped bars: labels on x, two or more series of values (e.g. reference vs current).
export function groupedBars({ labels, series, width = 520, height = 200, yFormat = (v) => `${(v * 100).toFixed(0)}%`, title }) {
  const all = series.flatMap((d) => d.values);
  if (!labels.length || !all.length) return h("p", { class: "empty" }, "No figures yet.");
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title || "bars" });
  const top = niceMax(Math.max(...all));
  const Y = (v) => height - PAD.b - (v / top) * (height - PAD.t - PAD.b);
  const gw = (width - PAD.l - PAD.r) / labels.length;
  const bw = Math.max((gw - 6) / series.length, 1);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { class: "gridline", x1: PAD.l, x2: width - PAD.r, y1: Y(v), y2: Y(v) }),
      s("text", { class: "tick", x: PAD.l - 6, y: Y(v) + 4, "text-anchor": "end" }, yFormat(v)));
  }
  labels.forEach((label, i) => {
    series.forEach((d, j) => {
      const v = d.values[i] || 0;
      svg.append(s("rect", { class: `s${j % 8}`, x: PAD.l + i * gw + 3 + j * bw, width: bw - 1, y: Y(v), height: Y(0) - Y(v) },
        s("title", {}, `${label} — ${d.name}: ${yFormat(v)}`)));
    });
    if (labels.length <= 12 || i % Math.ceil(labels.length / 12) === 0) {
      svg.append(s("text", { class: "tick", x: PAD.l + i * gw + gw / 2, y: height - 10, "text-anchor": "middle" }, String(label).slice(0, 10)));
    }
  });
  return h("figure", {}, svg, legend(series.map((d) => d.name)));
}

// The DAG of a run: steps in columns by depth, edges from upstream steps, coloured by
// status; cache hits dashed and marked, retries marked. Each step links to its details.
export function dag(steps, { hrefFor } = {}) {
  const byName = new Map(steps.map((st) => [st.name, st]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const up = (byName.get(name)?.upstream || []).filter((u) => byName.has(u));
    const d = up.length ? 1 + Math.max(...up.map((u) => depthOf(u, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  steps.forEach((st) => depthOf(st.name));
  const cols = [];
  for (const st of steps) (cols[depth.get(st.name)] ||= []).push(st);
  const NW = 170, NH = 46, GX = 60, GY = 18;
  const rows = Math.max(...cols.map((c) => c.length));
  const width = cols.length * NW + (cols.length - 1) * GX + 20;
  const height = rows * NH + (rows - 1) * GY + 20;
  const pos = new Map();
  cols.forEach((col, i) => col.forEach((st, j) => {
    const offset = ((rows - col.length) * (NH + GY)) / 2;
    pos.set(st.name, { x: 10 + i * (NW + GX), y: 10 + offset + j * (NH + GY) });
  }));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "dag", role: "img",
    "aria-label": `Pipeline graph of ${steps.length} steps`, width, height });
  for (const st of steps) {
    for (const u of st.upstream || []) {
      const a = pos.get(u), b = pos.get(st.name);
      if (!a || !b) continue;
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
      svg.append(s("path", { class: "edge", d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }));
      svg.append(s("path", { class: "edge", d: `M${x2 - 6},${y2 - 4} L${x2},${y2} L${x2 - 6},${y2 + 4}` }));
    }
  }
  for (const st of steps) {
    const p = pos.get(st.name);
    const status = st.cache_hit ? "cached" : st.status;
    const marks = [];
    if (st.cache_hit) marks.push("cache hit");
    if (st.attempts > 1) marks.push(`↻ ${st.attempts} attempts`);
    if (!marks.length) marks.push(st.status);
    const g = s("g", { class: `node ${status}` },
      s("title", {}, `${st.name}: ${st.status}${st.cache_hit ? " (cache hit)" : ""}${st.attempts > 1 ? `, ${st.attempts} attempts` : ""}`),
      s("rect", { x: p.x, y: p.y, width: NW, height: NH, rx: 6 }),
      s("text", { x: p.x + 10, y: p.y + 19, "font-weight": 600 }, st.name.length > 22 ? `${st.name.slice(0, 21)}…` : st.name),
      s("text", { class: "mark", x: p.x + 10, y: p.y + 36 }, marks.join(" · ")));
    svg.append(hrefFor ? s("a", { href: hrefFor(st) }, g) : g);
  }
  return h("div", { class: "scroll" }, svg);
}

// Step timings as a timeline (Gantt): one bar a step from its start to its end.
export function gantt(steps, runStart) {
  const timed = steps.filter((st) => st.started_at);
  if (!timed.length) return h("p", { class: "empty" }, "No step has started yet.");
  const t0 = runStart ? new Date(runStart).getTime() : Math.min(...timed.map((st) => new Date(st.started_at).getTime()));
  const ends = timed.map((st) => (st.ended_at ? new Date(st.ended_at).getTime() : Date.now()));
  const span = Math.max(Math.max(...ends) - t0, 1);
  const width = 760, LW = 170, row = 24;
  const height = timed.length * row + 30;
  const X = (t) => LW + ((t - t0) / span) * (width - LW - 70);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "gantt", role: "img", "aria-label": "Step timeline", width, height });
  timed.forEach((st, i) => {
    const a = new Date(st.started_at).getTime();
    const b = st.ended_at ? new Date(st.ended_at).getTime() : Date.now();
    const y = 6 + i * row;
    const status = st.cache_hit ? "cached" : st.status;
    svg.append(s("text", { x: 4, y: y + 14 }, st.name.length > 24 ? `${st.name.slice(0, 23)}…` : st.name),
      s("rect", { class: `bar ${status}`, x: X(a), y, width: Math.max(X(b) - X(a), 2), height: row - 8, rx: 3 },
        s("title", {}, `${st.name}: ${fmtDuration((b - a) / 1000)}`)),
      s("text", { x: X(b) + 6, y: y + 14, class: "tick" }, fmtDuration((b - a) / 1000)));
  });
  svg.append(s("text", { class: "tick", x: LW, y: height - 6 }, "0 s"),
    s("text", { class: "tick", x: width - 70, y: height - 6, "text-anchor": "end" }, fmtDuration(span / 1000)));
  return svg;
}
