"""Every dashboard page in headless Chromium over a real store and real servers: each shows
the data it should, no request leaves 127.0.0.1 and the console stays free of errors. The
screenshots land in tests/artifacts/ui/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect
from tests.ui.conftest import BANDIT, CANARY, FLAGS, SHADOW, Stack, Traffic, Watched

pytestmark = pytest.mark.xdist_group("ui")


def test_runs_list_shows_status_trigger_and_filters_and_pages(stack: Stack, ui: Watched) -> None:
    page = ui.open("/runs")
    table = page.locator("section[aria-label=Runs] table")
    expect(table).to_contain_text("nightly-scoring")
    expect(table).to_contain_text("quickstart-training")
    for trigger in ("manual", "schedule", "event"):
        expect(table.locator("td", has_text=re.compile(f"^{trigger}$")).first).to_be_visible()
    expect(table.locator(".badge.failed").first).to_be_visible()
    ui.shot("runs")
    page.select_option("#f-status", "failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator(".badge.succeeded")).to_have_count(0)
    page = ui.open("/runs?limit=2")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Older →").click()
    expect(page.get_by_text(re.compile(r"Showing 3\W4"))).to_be_visible()
    ui.check()


def test_the_trigger_filter_narrows_the_runs_list(stack: Stack, ui: Watched) -> None:
    page = ui.open("/runs")
    table = page.locator("section[aria-label=Runs] table")
    expect(table).to_contain_text(stack.runs["quickstart"])
    page.select_option("#f-trigger", "schedule")
    expect(page).to_have_url(re.compile(r"trigger=schedule"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)  # the runs started with trigger="schedule" in conftest
    expect(table).to_contain_text(stack.runs["quickstart-cached"])
    expect(table).to_contain_text(stack.runs["failed-cached"])
    assert set(rows.locator("td:nth-child(4)").all_inner_texts()) == {"schedule"}
    ui.shot("runs-by-trigger")
    page.select_option("#f-status", "failed")  # the filters add up
    expect(page).to_have_url(re.compile(r"trigger=schedule.*status=failed|status=failed.*trigger"))
    expect(rows).to_have_count(1)
    expect(table).to_contain_text(stack.runs["failed-cached"])
    page.select_option("#f-trigger", "event")
    expect(page.locator("section[aria-label=Runs]")).to_contain_text("No run matches")
    page = ui.open("/runs?trigger=event")
    expect(page.locator("#f-trigger")).to_have_value("event")
    expect(rows).to_have_count(1)
    expect(table).to_contain_text(stack.runs["challenger"])
    ui.check()


def test_a_run_page_draws_the_dag_with_failed_cached_and_retried_steps(
    stack: Stack, ui: Watched
) -> None:
    page = ui.open(f"/runs/{stack.runs['failed-cached']}")
    dag = page.locator("svg.dag")
    expect(dag.locator("g.node.failed")).to_have_count(1)
    expect(dag.locator("g.node.cached")).to_have_count(1)
    expect(dag).to_contain_text("↻ 2 attempts")
    expect(dag).to_contain_text("cache hit")
    expect(page.locator("svg.gantt rect.bar.cached")).to_have_count(1)
    steps = page.locator("#steps")
    expect(steps).to_contain_text("scoring service refused a batch of 10 rows")
    expect(steps).to_contain_text("2 (retried)")
    expect(page.locator("h1 .badge.failed")).to_be_visible()
    ui.shot("run-failed")
    ui.check()


def test_a_run_page_links_its_data_and_model_versions(stack: Stack, ui: Watched) -> None:
    page = ui.open(f"/runs/{stack.runs['challenger']}")
    io = page.locator("section[aria-label='Inputs and outputs']")
    expect(io.get_by_role("link", name="data:/cancer-features/1")).to_be_visible()
    expect(io.get_by_role("link", name=re.compile("breast-cancer"))).to_be_visible()
    expect(page.locator("svg.dag g.node.succeeded")).to_have_count(3)
    io.get_by_role("link", name=re.compile("breast-cancer")).click()
    expect(page.locator("h1")).to_have_text("breast-cancer v3")
    ui.shot("run-challenger")
    ui.check()


def test_a_running_run_updates_live(stack: Stack, ui: Watched) -> None:
    import threading

    from tests.ui import ui_pipelines as up

    up.release.clear()
    started: list[str] = []
    runner = threading.Thread(
        target=lambda: up.slow.run(workspace=stack.ws, on_start=lambda r: started.append(r.id))
    )
    runner.start()
    deadline = time.monotonic() + 10
    while not started and time.monotonic() < deadline:
        time.sleep(0.02)
    page = ui.open(f"/runs/{started[0]}")
    expect(page.locator("h1 .badge.running")).to_be_visible()
    expect(page.locator(".live")).to_be_visible()
    page.evaluate("window.__same_page = true")
    up.release.set()
    runner.join(timeout=20)
    expect(page.locator("h1 .badge.succeeded")).to_be_visible(timeout=10_000)
    expect(page.locator("svg.dag g.node.succeeded")).to_have_count(2)
    assert page.evaluate("window.__same_page") is True  # no reload
    ui.check()


def test_models_versions_aliases_metrics_and_history(stack: Stack, ui: Watched) -> None:
    page = ui.open("/models")
    expect(page.get_by_role("link", name="breast-cancer", exact=True)).to_be_visible()
    ui.shot("models")
    page.get_by_role("link", name="breast-cancer", exact=True).click()
    versions = page.locator("section[aria-label=Versions] table")
    expect(versions.locator("tbody tr")).to_have_count(3)
    expect(versions).to_contain_text("champion")
    expect(versions).to_contain_text("challenger")
    expect(versions).to_contain_text("accuracy")
    expect(
        page.locator("section[aria-label='Metrics across versions'] svg path.line")
    ).to_have_count(3)
    aliases = page.locator("section[aria-label='Aliases and their history']")
    expect(aliases).to_contain_text("v1 → v2")
    expect(aliases).to_contain_text("set to v1")
    ui.shot("model")
    ui.check()


def test_a_version_shows_signature_flavors_parity_lineage_and_card(
    stack: Stack, ui: Watched
) -> None:
    page = ui.open("/models/breast-cancer/3")
    sig = page.locator("section[aria-label='Signature and input example']")
    expect(sig).to_contain_text("mean radius")
    expect(sig).to_contain_text("30 input columns")
    flavors = page.locator("section[aria-label='Flavors and parity']")
    expect(flavors).to_contain_text("onnx")
    expect(flavors.locator(".badge", has_text="ready")).to_be_visible()
    expect(flavors).to_contain_text("Label agreement")
    lineage = page.locator("section[aria-label=Lineage] .chain")
    for kind in ("data", "run", "model", "deployment"):
        expect(lineage.locator(".kind", has_text=kind).first).to_be_visible()
    expect(lineage.get_by_role("link", name="data:/cancer-features/1")).to_be_visible()
    expect(lineage.get_by_role("link", name=re.compile(CANARY))).to_be_visible()
    card = page.locator("section[aria-label='Model card']")
    expect(card).to_contain_text("more regularised challenger")
    expect(card).to_contain_text("one hospital")
    ui.shot("model-version")
    ui.check()


def test_deployments_list(stack: Stack, ui: Watched) -> None:
    page = ui.open("/deployments")
    table = page.locator("section[aria-label=Deployments] table")
    for name in (CANARY, BANDIT, SHADOW, FLAGS):
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    ui.shot("deployments")
    ui.check()


def test_the_canary_page_shows_split_gates_significance_and_history(
    stack: Stack, ui: Watched, live_traffic: Traffic
) -> None:
    page = ui.open(f"/deployments/{CANARY}")
    expect(page.locator("#desired-text")).to_have_text("stable 80% · candidate 20%")
    variants = page.locator("section[aria-label=Variants] table")
    expect(variants).to_contain_text("breast-cancer/3 @challenger")
    expect(variants).to_contain_text("onnx")  # the flavor each variant is served with
    rollout = page.locator("section[aria-label='Rollout progress']")
    expect(rollout.locator(".steps .stp.now")).to_have_text("20%")
    gates = rollout.locator("table").first
    expect(gates).to_contain_text("error_rate")
    expect(gates).to_contain_text("p99_latency")
    expect(gates.locator(".badge.passed").first).to_be_visible()
    expect(rollout).to_contain_text("wait")
    expect(page.locator("section[aria-label='A/B significance']")).to_contain_text("p-value")
    expect(page.locator("section[aria-label='Latency and errors'] svg").first).to_be_visible()
    expect(page.locator("section[aria-label=History]")).to_contain_text("applied")
    for verb in ("promote", "rollback", "pause", "traffic"):
        expect(page.locator(f"#action-{verb}")).to_be_visible()
    # The split is redrawn every 2 s from the log while traffic flows: the request count
    # grows without a reload.
    served = page.locator("#split h3", has_text="Served over time")
    first = served.text_content()
    expect(served).not_to_have_text(first or "", timeout=8000)
    ui.shot("deployment-canary")
    ui.shot("deployment-canary-top", full_page=False)  # docs/images/dashboard-deployment.png
    ui.check()


def test_bandit_and_shadow_pages(stack: Stack, ui: Watched) -> None:
    page = ui.open(f"/deployments/{BANDIT}")
    bandit = page.locator("section[aria-label='Bandit allocation']")
    expect(bandit.locator("svg rect").first).to_be_visible()
    expect(bandit).to_contain_text("Mean reward")
    ui.shot("deployment-bandit")
    page = ui.open(f"/deployments/{SHADOW}")
    shadow = page.locator("section[aria-label='Shadow agreement']")
    expect(shadow).to_contain_text("candidate")
    expect(shadow).to_contain_text("%")
    ui.shot("deployment-shadow")
    ui.check()


def test_monitoring_shows_drift_predictions_performance_latency_and_alerts(
    stack: Stack, ui: Watched
) -> None:
    page = ui.open(f"/deployments/{CANARY}/monitoring")
    drift = page.locator("section[aria-label='Drift per column over time']")
    expect(drift.locator("svg path.line").first).to_be_visible()
    tests = page.locator("section[aria-label='Latest drift tests'] table").first
    expect(tests).to_contain_text("mean radius")
    expect(tests.locator(".badge.drifted").first).to_be_visible()
    preds = page.locator("section[aria-label='Predictions against the reference']")
    expect(preds.locator("svg rect").first).to_be_visible()
    perf = page.locator("section[aria-label=Performance]")
    expect(perf).to_contain_text("Labelled predictions")
    expect(perf).to_contain_text("accuracy")
    expect(page.locator("section[aria-label='Latency and errors'] svg").first).to_be_visible()
    alerts = page.locator("section[aria-label=Alerts] table")
    expect(alerts).to_contain_text("traffic-seen")
    expect(alerts).to_contain_text("inputs-drifted")
    href = page.locator("#report-download").get_attribute("href")
    report = page.request.get(stack.url + (href or ""))
    assert report.status == 200 and "text/html" in report.headers["content-type"]
    assert CANARY in report.text()
    ui.shot("monitoring")
    ui.check()


def test_schedules_pause_and_resume_with_confirmation(stack: Stack, ui: Watched) -> None:
    page = ui.open("/schedules")
    table = page.locator("section[aria-label=Schedules] table")
    expect(table).to_contain_text("every 1 h")
    expect(table).to_contain_text("on event drift-detected")
    ui.shot("schedules")
    page.locator("#schedule-pause-nightly-scoring").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.locator("#confirm-cancel").click()
    expect(page.locator("#confirm")).to_be_hidden()
    assert stack.ws.store.schedules.get("nightly-scoring").paused is False
    page.locator("#schedule-pause-nightly-scoring").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#schedule-resume-nightly-scoring")).to_be_visible()
    assert stack.ws.store.schedules.get("nightly-scoring").paused is True
    page.locator("#schedule-resume-nightly-scoring").focus()
    page.keyboard.press("Enter")  # keyboard only
    page.keyboard.press("Enter")  # the dialog's focused button
    expect(page.locator("#schedule-pause-nightly-scoring")).to_be_visible()
    assert stack.ws.store.schedules.get("nightly-scoring").paused is False
    ui.check()


def test_data_versions_and_profiles(stack: Stack, ui: Watched) -> None:
    page = ui.open("/data")
    link = page.get_by_role("link", name="cancer-features v1")
    expect(link).to_be_visible()
    ui.shot("data")
    link.click()
    profile = page.locator("section[aria-label=Profile]")
    expect(profile).to_contain_text("31 columns")
    expect(profile).to_contain_text("mean radius")
    expect(page.locator("section[aria-label=Lineage]")).to_contain_text("run:")
    ui.shot("data-version")
    ui.check()


def test_flags_page(stack: Stack, ui: Watched) -> None:
    page = ui.open("/flags")
    table = page.locator("section[aria-label=Flags] table")
    expect(table).to_contain_text("candidate-eu")
    expect(table).to_contain_text("country in")
    expect(table).to_contain_text("20%")
    ui.shot("flags")
    ui.check()


def test_audit_log_filters(stack: Stack, ui: Watched) -> None:
    page = ui.open("/audit")
    table = page.locator("section[aria-label='Audit records'] table")
    expect(table).to_contain_text("alias.set")
    ui.shot("audit")
    page.fill("#a-action", "alias.set")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile("action=alias.set"))
    rows = table.locator("tbody tr")
    expect(rows.first).to_contain_text("alias.set")
    assert all("alias.set" in t for t in rows.all_inner_texts())
    ui.check()


def test_the_data_and_audit_pages_page_forward_and_back(stack: Stack, ui: Watched) -> None:
    import pandas as pd

    from podium.client import Client

    for i in range(3):
        Client(workspace=stack.ws).register_data(pd.DataFrame({"x": [i]}), "ui-paging")
    page = ui.open("/data?limit=2")
    table = page.locator("section[aria-label='Data versions'] table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("ui-paging v3")
    page.get_by_role("button", name="Older →").click()
    expect(page).to_have_url(re.compile(r"offset=2"))
    expect(page.get_by_text(re.compile(r"Showing 3\W4"))).to_be_visible()
    expect(table).to_contain_text("ui-paging v1")
    expect(table).not_to_contain_text("ui-paging v3")
    ui.shot("data-page-2")
    page.get_by_role("button", name="← Newer").click()
    expect(table).to_contain_text("ui-paging v3")

    records = stack.ws.store.audit.list(action="alias.set", limit=2)
    assert len(records) == 2
    page = ui.open("/audit?action=alias.set&limit=1")
    rows = page.locator("section[aria-label='Audit records'] table tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Older →").click()
    expect(page).to_have_url(re.compile(r"action=alias.set.*offset=1"))
    expect(page.get_by_text(re.compile(r"Showing 2\W2"))).to_be_visible()
    expect(page.locator("#a-action")).to_have_value("alias.set")
    expect(rows.first).to_contain_text(records[1].target)
    expect(rows.first).to_contain_text(json.dumps(records[1].after, separators=(",", ":")))

    page.fill("#a-action", "")
    page.fill("#a-target_prefix", "data:/ui-paging/")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"target_prefix=data"))
    expect(rows).to_have_count(1)  # the page size stays
    expect(rows.first).to_contain_text("data:/ui-paging/3")
    page.get_by_role("button", name="Older →").click()
    expect(rows.first).to_contain_text("data:/ui-paging/2")
    page = ui.open("/audit?offset=100000")  # a link past the end says so, and leads back
    expect(page.get_by_text("Nothing past the first 100000")).to_be_visible()
    page.get_by_role("button", name="← Newer").click()
    expect(page).to_have_url(re.compile(r"offset=\d+"))
    ui.check()


def test_a_page_whose_data_fails_says_what_failed(stack: Stack, ui: Watched) -> None:
    page = ui.open("/deployments/no-such-deployment")
    box = page.locator(".error-box").first
    expect(box).to_contain_text("Could not load deployment no-such-deployment")
    expect(box).to_contain_text("404")
    page = ui.open("/models/no-such-model")
    expect(page.locator(".error-box").first).to_contain_text("Could not load the versions")
    expect(page.locator("table")).to_have_count(0)
    ui.shot("error")
    ui.check(allowed=("status of 404",))


def test_a_traffic_change_from_the_cli_shows_without_a_reload(
    stack: Stack, ui: Watched, live_traffic: Traffic
) -> None:
    page = ui.open(f"/deployments/{CANARY}")
    expect(page.locator("#desired-text")).to_contain_text("candidate")
    page.evaluate("window.__same_page = true")
    done = subprocess.run(
        [sys.executable, "-m", "podium", "traffic", CANARY, "candidate=60"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    expect(page.locator("#desired-text")).to_have_text("stable 40% · candidate 60%", timeout=8000)
    assert page.evaluate("window.__same_page") is True
    ui.check()


def test_a_promote_clicked_in_the_ui_changes_the_deployment_and_is_audited(
    stack: Stack, ui: Watched
) -> None:
    page = ui.open(f"/deployments/{CANARY}")
    page.locator("#action-promote").click()
    dialog = page.locator("#confirm")
    expect(dialog).to_contain_text("takes 100%")
    ui.shot("deployment-promote-dialog")
    page.locator("#confirm-ok").click()
    expect(page.locator("#toast")).to_contain_text("Promote: done")
    expect(page.locator("#desired-text")).to_have_text("stable 0% · candidate 100%")
    dep = stack.ws.store.deployments.get(CANARY)
    assert dep.state["status"] == "promoted" and dep.state["percent"] == 100
    [record] = stack.ws.store.audit.list(
        target=f"deployments:/{CANARY}", action="deployment.promoted"
    )
    assert record.after["status"] == "promoted" and record.before["status"] in (
        "manual",
        "progressing",
    )
    page = ui.open(f"/audit?target=deployments:/{CANARY}")
    expect(page.locator("section[aria-label='Audit records'] table")).to_contain_text(
        "deployment.promoted"
    )
    ui.check()
