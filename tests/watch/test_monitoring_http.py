"""Monitoring a served deployment end to end: predictions and late labels over HTTP, drift,
performance, alerts to a real webhook and SMTP server with cooldown, status and the report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.conftest import same_both_ways
from tests.watch.conftest import Hook, Mailbox
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.core.clock import utcnow
from podium.deploy import apply
from podium.serving import RunningServer, create_deployment_app, start_in_thread
from podium.watch import Monitor
from podium.workspace import Workspace

COLUMNS = ["age", "income", "visits", "tenure", "score"]
runner = CliRunner()


def make(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[pd.DataFrame, Any]:
    x = pd.DataFrame(rng.normal(0, 1, (n, len(COLUMNS))), columns=COLUMNS)
    y = ((x.age + x.income) > 0).astype(int).to_numpy()  # the concept, before any shift
    x[["age", "income", "visits"]] += shift
    return x, y


@pytest.fixture
def watched(workspace: Workspace, hook: Hook, smtp: Mailbox) -> Iterator[RunningServer]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x, y = make(rng, 3_000)
    model = LogisticRegression().fit(x, y)
    podium.register_model(
        model, "gen", input_example=x[:50], reference_data=x[2_000:], alias="champion"
    )
    apply(
        workspace,
        {
            "name": "watched",
            "variants": {"main": {"model": "models:/gen@champion"}},
            "monitoring": {
                "window": {"rows": 80},
                "sinks": {
                    "hook": {"type": "webhook", "url": hook.url},
                    "mail": {
                        "type": "email",
                        "port": smtp.port,
                        "sender": "podium@localhost",
                        "to": ["ops@example.com"],
                    },
                },
                "alerts": [
                    {
                        "name": "data-drift",
                        "figure": "drift.share",
                        "op": ">=",
                        "threshold": 0.4,
                        "severity": "critical",
                        "sinks": ["log", "hook", "mail"],
                    },
                    {
                        "name": "accuracy",
                        "figure": "performance.accuracy",
                        "op": "<",
                        "threshold": 0.8,
                        "sinks": ["hook"],
                    },
                ],
            },
        },
    )
    srv = start_in_thread(create_deployment_app("watched", workspace=workspace, poll_s=0.05))
    yield srv
    srv.stop()


def send(url: str, x: pd.DataFrame, y: Any, *, label_every: int = 1, per: int = 5) -> None:
    """Predict in requests of ``per`` rows; label every ``label_every``-th request."""
    with httpx.Client(base_url=url, timeout=10) as http:
        labels = []
        for i in range(0, len(x), per):
            r = http.post("/predict", json={"records": x.iloc[i : i + per].to_dict("records")})
            assert r.status_code == 200, r.text
            if (i // per) % label_every == 0:
                labels.append(
                    {"prediction_id": r.json()["prediction_id"], "label": y[i : i + per].tolist()}
                )
        assert http.post("/feedback", json=labels).status_code == 202


def flushed(ws: Workspace, n: int) -> None:
    import time

    deadline = time.monotonic() + 5
    while len(ws.store.predictions.recent("watched", limit=n)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # feedback rides the next flush


def test_no_alarm_on_training_like_traffic_then_drift_fires_each_sink_once(
    workspace: Workspace, watched: RunningServer, hook: Hook, smtp: Mailbox, both_ways: str
) -> None:
    rng = np.random.default_rng(1)
    send(watched.url, *make(rng, 400))
    flushed(workspace, 80)
    monitor = Monitor(workspace)
    assert monitor.once()["watched"]["alerts"] == []
    calm = podium.Client().monitor_snapshot("watched")
    assert calm["drift"]["dataset_drift"] is False and calm["drift"]["tested"] == 5
    assert calm["performance"]["accuracy"] > 0.9 and calm["performance"]["label_coverage"] == 1

    send(watched.url, *make(rng, 400, shift=1.5))  # three of five columns move
    flushed(workspace, 160)
    fired = monitor.once()["watched"]["alerts"]
    assert [a["rule"] for a in fired] == ["data-drift", "accuracy"]
    drift = fired[0]
    assert drift["value"] == pytest.approx(0.6) and drift["severity"] == "critical"
    assert all(d["ok"] for d in drift["detail"]["deliveries"])
    assert [h["rule"] for h in hook.received] == ["data-drift", "accuracy"]
    assert hook.received[0]["deployment"] == "watched" and hook.received[0]["value"] == 0.6
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "ops@example.com"
    assert "drift.share" in smtp.messages[0]["Subject"]

    # Still drifted, but inside the cooldown: nothing new anywhere.
    assert monitor.once()["watched"]["alerts"] == []
    assert len(hook.received) == 2 and len(smtp.messages) == 1
    # Past the cooldown it fires again.
    later = utcnow() + timedelta(hours=2)
    assert {a["rule"] for a in monitor.once(later)["watched"]["alerts"]} == {
        "data-drift",
        "accuracy",
    }

    snap = podium.Client().monitor_snapshot("watched")
    assert sorted(snap["drift"]["drifted"]) == ["age", "income", "visits"]
    assert snap["prediction_drift"]["status"] == "ok"
    assert snap["health"]["requests"] == 80 and snap["health"]["memory_mb"] > 10
    assert snap["concept"]["errors"] == 400

    listed = same_both_ways(["monitor", "alerts", "watched", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 4
    status = same_both_ways(["status"])
    assert status.exit_code == 0 and "3/5 DRIFT" in status.stdout
    detail = runner.invoke(app, ["status", "watched"])
    assert detail.exit_code == 0 and "age, income, visits" in detail.stdout


def test_late_and_missing_labels_are_joined_by_id(
    workspace: Workspace, watched: RunningServer
) -> None:
    rng = np.random.default_rng(2)
    x, y = make(rng, 400)
    send(watched.url, x, y, label_every=2)  # half the requests never get a label
    flushed(workspace, 80)
    perf = podium.Client().monitor_snapshot("watched")["performance"]
    assert perf["label_coverage"] == pytest.approx(0.5)
    assert perf["labelled"] == 200 and perf["label_delay"]["median_s"] > 0
    assert perf["task"] == "classification" and perf["roc_auc"] > 0.9


def test_the_report_is_one_offline_html_file_and_the_same_figures_as_json(
    workspace: Workspace, watched: RunningServer, tmp_path: Path, both_ways: str
) -> None:
    rng = np.random.default_rng(3)
    send(watched.url, *make(rng, 200))
    send(watched.url, *make(rng, 200, shift=1.5))
    flushed(workspace, 80)
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["monitor", "report", "watched", "--out", str(out), "--rows", "80"])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert not re.search(r"<script|<link|src=\"http|href=\"http|@import", page)
    for column in COLUMNS:
        assert f"<td>{column}</td>" in page
    assert out.stat().st_size < 300_000
    rendered = _render(out)
    if rendered is not None:  # a real browser draws every histogram and chart
        assert rendered.count("<svg") >= len(COLUMNS) + 6 and "not enough data" not in rendered
    data = json.loads(runner.invoke(app, ["monitor", "report", "watched", "--json"]).stdout)

    assert data["snapshot"]["drift"]["columns"].keys() == set(COLUMNS)
    series = data["series"]  # 80 requests of 5 rows: 4 buckets of 100 rows (min_samples)
    assert len(series) == 4 and series[0]["drift_share"] < series[-1]["drift_share"]
    assert set(data["histograms"]) == set(COLUMNS)


@pytest.fixture
def bare(workspace: Workspace, trained: Any) -> Workspace:
    """Deployment bare of model bare/1, registered without reference data."""
    podium.register_model(trained.model, "bare", input_example=trained.X)
    apply(workspace, {"name": "bare", "variants": {"main": {"model": "models:/bare/1"}}})
    return workspace


def test_monitoring_without_a_reference_says_so(bare: Workspace, both_ways: str) -> None:
    snap = podium.Client().monitor_snapshot("bare")
    assert snap["drift"]["status"] == "no reference" and "reference_data" in snap["drift"]["hint"]
    r = same_both_ways(["models", "reference", "bare/1", "data:/nothing"])
    assert r.exit_code == 1 and "nothing" in r.output


@pytest.mark.parametrize(
    ("alert", "field", "words"),
    [
        (
            {"name": "a", "figure": "speed", "threshold": 1},
            "monitoring.alerts[0].figure",
            "not a figure",
        ),
        (
            {"name": "a", "figure": "drift.share", "threshold": 1, "sinks": ["pager"]},
            "monitoring.alerts[0].sinks",
            "no sink named 'pager'",
        ),
        (
            {"name": "a", "figure": "drift.share", "threshold": 1, "retrain": True},
            "monitoring.alerts[0].retrain",
            "needs a retrain block",
        ),
        (
            {"name": "a", "figure": "drift.share", "threshold": 1, "op": "~"},
            "monitoring.alerts.0.op",
            "Input should be",
        ),
    ],
)
def test_bad_monitoring_blocks_name_the_field(
    workspace: Workspace, alert: dict[str, Any], field: str, words: str
) -> None:
    from podium.core.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        apply(
            workspace,
            {"name": "x", "variants": {"a": {"model": "m/1"}}, "monitoring": {"alerts": [alert]}},
        )
    assert err.value.field == field and words in err.value.message


def test_an_alert_event_runs_a_pipeline_and_a_dead_sink_never_stops_the_monitor(
    workspace: Workspace, trained: Any, tmp_path: Path
) -> None:
    from podium.demos.quickstart import free_port
    from podium.pipelines.schedules import Scheduler, add_schedule

    podium.register_model(
        trained.model, "cancer", input_example=trained.X, reference_data=trained.X
    )
    apply(
        workspace,
        {
            "name": "cancer",
            "variants": {"main": {"model": "models:/cancer/1"}},
            "monitoring": {
                "window": {"minutes": 5},
                "sinks": {"down": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/"}},
                "alerts": [
                    {
                        "name": "busy",
                        "figure": "health.requests",
                        "op": ">=",
                        "threshold": 20,
                        "sinks": ["down"],
                        "event": "alert:cancer",
                    }
                ],
            },
        },
    )
    schedule = add_schedule(
        workspace,
        f"{Path(__file__).parent / 'on_alert_pipeline.py'}:on_alert",
        on_event="alert:cancer",
    )
    srv = start_in_thread(create_deployment_app("cancer", workspace=workspace, poll_s=0.05))
    try:
        with httpx.Client(base_url=srv.url) as http:
            for i in range(25):
                row = trained.X.iloc[i].to_dict()
                assert http.post("/predict", json={"records": [row]}).status_code == 200
        flushed_rows(workspace, "cancer", 25)
    finally:
        srv.stop()
    r = runner.invoke(app, ["monitor", "--once"])
    assert r.exit_code == 0 and "cancer: busy" in r.stdout
    [alert] = podium.Client().alerts("cancer")
    [delivery] = alert["detail"]["deliveries"]
    assert (
        delivery["sink"] == "down" and delivery["ok"] is False and "Connect" in delivery["detail"]
    )
    [event] = workspace.store.schedules.pending_events(schedule)
    assert event.payload == {"deployment": "cancer", "rule": "busy", "value": 25.0}
    scheduler = Scheduler(workspace)
    assert [f.status for f in scheduler.tick_once()] == ["claimed"]
    for thread in scheduler.threads:
        thread.join(30)
    [run] = podium.Client().list_runs(pipeline="on-alert")
    assert run.status == "succeeded" and run.trigger == "event:alert:cancer"


def flushed_rows(ws: Workspace, name: str, n: int) -> None:
    import time

    deadline = time.monotonic() + 5
    while len(ws.store.predictions.recent(name, limit=n)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _render(page: Path) -> str | None:
    """The DOM of ``page`` after headless Chromium loaded it with the network cut off, or
    None (and a note) when no Chromium is installed."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("Chromium not installed: the report is checked as text only.")
        return None
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--proxy-server=127.0.0.1:9",  # nothing it needs may come from the network
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
