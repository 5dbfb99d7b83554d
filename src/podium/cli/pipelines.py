"""``podium run`` and ``podium runs resume``: execute pipelines with a live view of the steps."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from rich.live import Live
from rich.table import Table
from rich.text import Text

from podium.cli.render import STATUS_STYLE, out, print_json
from podium.core.errors import PipelineError, ValidationError
from podium.pipelines import RunResult


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; each value is read as JSON when it parses (0.5, true, [1,2]), else text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValidationError(
                f"Invalid --param {pair!r}: expected NAME=VALUE.",
                field="--param",
                hint="E.g. --param c=0.5 --param name=churn.",
            )
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


class StepView:
    """The steps of a run and their latest status, rendered as a table while it runs."""

    def __init__(self, steps: list[str]) -> None:
        self.status = dict.fromkeys(steps, "pending")
        self.lock = threading.Lock()

    def update(self, name: str, status: str) -> None:
        with self.lock:
            self.status[name] = status

    def render(self) -> Table:
        table = Table(header_style="bold")
        table.add_column("step", no_wrap=True)
        table.add_column("status")
        with self.lock:
            for name, status in self.status.items():
                table.add_row(name, Text(status, style=STATUS_STYLE.get(status, "white")))
        return table


def run_live(
    steps: list[str],
    go: Callable[[Callable[[str, str], None]], RunResult],
    json_: bool,
    extra: Callable[[RunResult], dict[str, Any]] | None = None,
) -> RunResult:
    """Run ``go(on_event)`` showing a live table, then a summary (or JSON, with ``extra``'s
    keys added); return the result."""
    view = StepView(steps)
    result: RunResult | None = None
    error: PipelineError | None = None
    live = (
        Live(get_renderable=view.render, console=out, refresh_per_second=8, transient=False)
        if not json_
        else None
    )
    try:
        if live is not None:
            live.start()
        try:
            result = go(view.update)
        except PipelineError as exc:
            error = exc
    finally:
        if live is not None:
            live.stop()
    if error is not None:
        raise error
    assert result is not None  # go() returned or raised
    more = extra(result) if extra is not None else {}
    if json_:
        print_json({**result.run.to_dict(), **more})
        return result
    steps_run = result.run.steps
    cached = sum(s.cache_hit for s in steps_run)
    out.print(
        f"Run {result.id} {result.status} in {result.run.duration_s or 0:.2f} s "
        f"({len(steps_run)} steps, {cached} from cache). Details: podium runs show {result.id}"
    )
    if more.get("deployed"):
        d = more["deployed"]
        out.print(f"Deployed {d['model']} as {d['deployment']!r} (revision {d['revision']}).")
    return result
