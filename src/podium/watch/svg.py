"""Tiny inline SVG charts for the HTML report: no JavaScript, no CDN, a few KB each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

COLORS = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea")


def line(
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 520,
    height: int = 140,
    threshold: float | None = None,
    unit: str = "",
) -> str:
    """Lines over equally spaced points; gaps where a value is None."""
    values = [v for s in series.values() for v in s if v is not None]
    if threshold is not None:
        values.append(threshold)
    if not values:
        return '<p class="muted">no data</p>'
    lo, hi = min([*values, 0.0]), max(values)
    hi = hi if hi > lo else lo + 1
    pad = 28
    n = max(len(s) for s in series.values())

    def x(i: int) -> float:
        return pad + (width - pad - 8) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return height - 18 - (height - 26) * (v - lo) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
        f'<line x1="{pad}" y1="{height - 18}" x2="{width - 8}" y2="{height - 18}" class="axis"/>',
        f'<text x="2" y="{y(hi) + 4:.0f}" class="tick">{_fmt(hi)}{unit}</text>',
        f'<text x="2" y="{y(lo) + 4:.0f}" class="tick">{_fmt(lo)}{unit}</text>',
    ]
    if threshold is not None:
        parts.append(
            f'<line x1="{pad}" y1="{y(threshold):.1f}" x2="{width - 8}" '
            f'y2="{y(threshold):.1f}" class="threshold"/>'
        )
    for k, (name, s) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for r in runs:
            if len(r) > 1:
                parts.append(
                    f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" '
                    'stroke-width="2"/>'
                )
            elif r:
                cx, cy = r[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        parts.append(
            f'<text x="{pad + 4 + 110 * k}" y="{height - 4}" class="legend" '
            f'fill="{color}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bars(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    width: int = 260,
    height: int = 90,
) -> str:
    """Paired bars (reference, current) of shares per bin or category."""
    if not labels:
        return ""
    top = max([*reference, *current, 1e-9])
    slot = (width - 4) / len(labels)
    bar = max(slot / 2 - 1, 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for i, label in enumerate(labels):
        for j, v in enumerate((reference[i], current[i])):
            h = (height - 14) * v / top
            parts.append(
                f'<rect x="{2 + i * slot + j * bar:.1f}" y="{height - 12 - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{COLORS[j]}">'
                f"<title>{escape(label)}: {v:.1%}</title></rect>"
            )
    parts.append(
        f'<text x="2" y="{height - 1}" class="tick">{escape(labels[0])}</text>'
        f'<text x="{width - 2}" y="{height - 1}" class="tick" text-anchor="end">'
        f"{escape(labels[-1])}</text></svg>"
    )
    return "".join(parts)


def _fmt(v: float) -> str:
    return f"{v:.3g}"
