"""Event triggers: a new data version, or an emitted event, starts a pipeline once."""

from __future__ import annotations

import json

import pandas as pd
from tests.conftest import same_both_ways
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.pipelines.schedules import Scheduler, add_schedule, emit_event
from podium.workspace import Workspace

ON_DATA = "tests.pipelines.sched_pipelines:on_new_data"
TINY = "tests.pipelines.sched_pipelines:tiny"


def _tick(ws: Workspace, scheduler: Scheduler | None = None) -> list[str]:
    s = scheduler or Scheduler(ws)
    fired = s.tick_once()
    for thread in s.threads:
        thread.join()
    return [f.status for f in fired]


def _event_runs() -> list[podium.core.records.Run]:  # type: ignore[name-defined]
    return [r for r in podium.Client().list_runs(limit=100) if r.trigger.startswith("event:")]


def test_a_new_data_version_triggers_the_pipeline_once(workspace: Workspace) -> None:
    add_schedule(workspace, ON_DATA, name="retrain", on_event="data:customers")
    assert _tick(workspace) == []
    frame = pd.DataFrame({"x": range(10)})
    dv = podium.register_data(frame, "customers")
    assert _tick(workspace) == ["claimed"]
    assert _tick(workspace) == []  # once
    [run] = _event_runs()
    assert run.trigger == "event:data:customers" and run.params == {"data": dv.uri}
    assert run.status == "succeeded"
    assert podium.Client().get_run(run.id).steps[0].status == "succeeded"
    podium.register_data(frame, "customers")  # same content: same version, no event
    assert _tick(workspace) == []
    podium.register_data(pd.DataFrame({"x": range(20)}), "customers")
    assert _tick(workspace) == ["claimed"]
    assert sorted(r.params["data"] for r in _event_runs()) == [
        "data:/customers/1",
        "data:/customers/2",
    ]


def test_an_emitted_event_fires_each_listening_schedule_once(workspace: Workspace) -> None:
    add_schedule(workspace, TINY, name="on-alert", on_event="alert:drift")
    add_schedule(workspace, TINY, name="also-on-alert", on_event="alert:drift")
    add_schedule(workspace, TINY, name="other", on_event="alert:latency")
    emit_event(workspace, "alert:drift", {"label": "from-alert", "ignored": 1})
    first, second = Scheduler(workspace), Scheduler(workspace)
    assert _tick(workspace, first) == ["claimed", "claimed"]
    assert _tick(workspace, second) == []  # another scheduler finds nothing left
    runs = _event_runs()
    assert len(runs) == 2 and {r.params["label"] for r in runs} == {"from-alert"}


def test_events_before_a_schedule_existed_do_not_fire_it(workspace: Workspace) -> None:
    emit_event(workspace, "alert:old")
    add_schedule(workspace, TINY, name="late", on_event="alert:old")
    assert _tick(workspace) == []


def test_cli_on_data_and_emit(workspace: Workspace, both_ways: str) -> None:
    """Schedules and events are added from anywhere; `podium scheduler` runs by the store."""
    runner = CliRunner()
    r = runner.invoke(app, ["schedules", "add", TINY, "--on-event", "deploy:done", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["schedules", "emit", "deploy:done", "-p", "label=cli"])
    assert r.exit_code == 0 and "emitted" in r.stdout
    r = runner.invoke(app, ["scheduler", "--once"], env={"PODIUM_URL": None})
    assert r.exit_code == 0 and "claimed" in r.stdout
    [run] = _event_runs()
    assert run.trigger == "event:deploy:done" and run.params == {"label": "cli"}
    r = same_both_ways(["schedules", "add", TINY, "--every", "1m", "--on-data", "x"])
    assert r.exit_code == 1 and "exactly one of" in r.stderr


def test_cli_schedules_list_pause_resume_remove(workspace: Workspace, both_ways: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["schedules", "add", TINY, "--name", "hourly", "--every", "1h"])
    assert r.exit_code == 0 and "Schedule 'hourly' added; next fire" in r.stdout, r.output
    r = runner.invoke(app, ["schedules", "add", TINY, "--name", "fed", "--on-data", "customers"])
    assert r.exit_code == 0 and "on each 'data:customers' event" in r.stdout, r.output
    listed = json.loads(same_both_ways(["schedules", "list", "--json"]).stdout)
    assert [(s["name"], s["interval_s"], s["event"], s["paused"]) for s in listed] == [
        ("fed", None, "data:customers", False),
        ("hourly", 3600, None, False),
    ]
    r = same_both_ways(["schedules", "list"])
    assert r.exit_code == 0 and "hourly" in r.stdout and "fed" in r.stdout
    r = runner.invoke(app, ["schedules", "pause", "hourly"])
    assert r.stdout.strip() == "Schedule 'hourly' paused."
    assert podium.Client().list_schedules()[1].paused
    r = runner.invoke(app, ["schedules", "resume", "hourly"])
    assert r.exit_code == 0 and "Schedule 'hourly' resumed; next fire" in r.stdout
    assert json.loads(same_both_ways(["schedules", "fires", "hourly", "--json"]).stdout) == []
    r = runner.invoke(app, ["schedules", "remove", "fed"])
    assert r.stdout.strip() == "Schedule 'fed' removed."
    assert [s.name for s in podium.Client().list_schedules()] == ["hourly"]
    for args in (["pause", "fed"], ["resume", "fed"], ["fires", "fed"], ["remove", "fed"]):
        r = same_both_ways(["schedules", *args])
        assert r.exit_code == 1 and "Schedule 'fed' not found" in r.stderr, (args, r.output)
    r = same_both_ways(["schedules", "add", TINY, "--every", "1h", "--missed", "some"])
    assert r.exit_code == 1 and "--missed must be one of skip, latest, all, got 'some'" in r.stderr
