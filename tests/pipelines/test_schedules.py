"""Schedules: each due fire runs exactly once, even with two schedulers on one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

import podium
from podium.core.clock import utcnow
from podium.core.errors import ValidationError
from podium.pipelines.schedules import Scheduler, add_schedule, parse_every, resume_schedule
from podium.workspace import Workspace

TINY = "tests.pipelines.sched_pipelines:tiny"
SLOW = "tests.pipelines.sched_pipelines:slow"
ROOT = Path(__file__).resolve().parents[2]


def test_durations_parse_and_bad_ones_are_explained() -> None:
    assert parse_every("90s") == 90
    assert parse_every("1h30m") == 5400
    assert parse_every("250ms") == 0.25
    for bad in ("", "5", "m5", "1x", "0s", "1h 30m"):
        with pytest.raises(ValidationError):
            parse_every(bad)


def test_bad_schedules_are_refused_before_storing(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="exactly one of --cron, --every and --on-data"):
        add_schedule(workspace, TINY)
    with pytest.raises(ValidationError, match="Invalid cron expression"):
        add_schedule(workspace, TINY, cron="every day")
    with pytest.raises(ValidationError, match="--missed must be one of"):
        add_schedule(workspace, TINY, every="1m", missed="never")
    from podium.core.errors import PipelineError

    with pytest.raises(PipelineError, match="unexpected keyword"):
        add_schedule(workspace, TINY, every="1m", params={"nope": 1})
    assert workspace.store.schedules.all() == []


def _runs(name: str) -> list[podium.core.records.Run]:  # type: ignore[name-defined]
    runs = podium.Client().list_runs(limit=1000)
    return [r for r in runs if r.trigger == f"schedule:{name}"]


@pytest.mark.parametrize(("missed", "claimed"), [("all", 7), ("latest", 1), ("skip", 0)])
def test_missed_fires_follow_the_policy(workspace: Workspace, missed: str, claimed: int) -> None:
    s = add_schedule(
        workspace, TINY, name=f"m-{missed}", every="10s", missed=missed, max_concurrent=10
    )  # isolate the missed policy from the overlap one
    later = s.next_fire_at + timedelta(seconds=65)  # fires at +0, +10 ... +60 are due
    scheduler = Scheduler(workspace, tick=1.0, grace=2.0)
    fired = scheduler.tick_once(now=later)
    for thread in scheduler.threads:
        thread.join()
    assert len(fired) == 7
    assert sum(f.status == "claimed" for f in fired) == claimed
    assert sorted(r.scheduled_time for r in _runs(s.name)) == sorted(  # type: ignore[type-var]
        f.fire_time for f in fired if f.status == "claimed"
    )
    nxt = workspace.store.schedules.get(s.name).next_fire_at
    assert nxt == s.next_fire_at + timedelta(seconds=70)


def test_an_on_time_fire_runs_under_the_skip_policy(workspace: Workspace) -> None:
    s = add_schedule(workspace, TINY, name="ontime", every="10s", params={"label": "y"})
    scheduler = Scheduler(workspace, tick=1.0)
    fired = scheduler.tick_once(now=s.next_fire_at + timedelta(seconds=0.5))
    for thread in scheduler.threads:
        thread.join()
    assert [f.status for f in fired] == ["claimed"]
    [run] = _runs("ontime")
    assert run.status == "succeeded" and run.scheduled_time == s.next_fire_at
    assert run.params == {"label": "y"}


@pytest.mark.parametrize(("overlap", "expected"), [("skip", "skipped"), ("queue", "queued")])
def test_overlap_beyond_max_concurrent_is_skipped_or_queued(
    workspace: Workspace, overlap: str, expected: str
) -> None:
    s = add_schedule(
        workspace, SLOW, name=f"o-{overlap}", every="1s", overlap=overlap, params={"seconds": 1.5}
    )
    scheduler = Scheduler(workspace, tick=0.1, grace=60)
    first = scheduler.tick_once(now=s.next_fire_at)
    time.sleep(0.3)  # the first run is in flight
    second = scheduler.tick_once(now=s.next_fire_at + timedelta(seconds=1))
    assert [f.status for f in first] == ["claimed"]
    assert [f.status for f in second] == [expected]
    for thread in scheduler.threads:
        thread.join()
    if overlap == "queue":
        later = scheduler.tick_once(now=s.next_fire_at + timedelta(seconds=1.5))
        assert [f.status for f in later if f.status == "claimed"] == ["claimed"]
        for thread in scheduler.threads:
            thread.join()
        assert len(_runs(s.name)) == 2


def test_paused_schedules_do_not_fire_and_resume_from_now(workspace: Workspace) -> None:
    s = add_schedule(workspace, TINY, name="p", every="1s")
    workspace.store.schedules.set_paused("p", True)
    assert Scheduler(workspace).tick_once(now=s.next_fire_at + timedelta(seconds=5)) == []
    resumed = resume_schedule(workspace, "p")
    assert not resumed.paused and resumed.next_fire_at > utcnow()


@pytest.mark.slow
def test_two_schedulers_fire_each_due_run_exactly_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_schedule(workspace, TINY, name="race", every="1s")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "podium", "scheduler", "--tick", "0.05"]
    schedulers = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(6)
    for p in schedulers:
        p.send_signal(signal.SIGTERM)
    errors = [p.communicate(timeout=60)[1] for p in schedulers]
    assert [p.returncode for p in schedulers] == [0, 0], errors
    fires = workspace.store.schedules.fires("race")
    times = [f.fire_time for f in fires]
    assert len(times) == len(set(times)) >= 4
    started = [f for f in fires if f.status == "started"]
    runs = _runs("race")
    assert sorted(r.scheduled_time for r in runs) == sorted(f.fire_time for f in started)  # type: ignore[type-var]
    assert len({r.scheduled_time for r in runs}) == len(runs)  # no fire ran twice
    assert all(r.status == "succeeded" for r in runs)
    assert len({f.claimed_by for f in fires}) >= 1


def test_a_schedule_with_the_longest_name_records_its_runs(workspace: Workspace) -> None:
    name = "n" * 128  # the longest name a schedule may have: its runs' trigger is longer
    s = add_schedule(workspace, TINY, name=name, every="10s")
    scheduler = Scheduler(workspace, tick=1.0)
    fired = scheduler.tick_once(now=s.next_fire_at + timedelta(seconds=0.5))
    for thread in scheduler.threads:
        thread.join()
    assert [f.status for f in fired] == ["claimed"]
    [run] = podium.Client().list_runs(trigger=f"schedule:{name}")
    assert run.status == "succeeded" and run.trigger == f"schedule:{name}"


def test_a_fire_whose_pipeline_breaks_on_import_is_recorded_as_failed(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "breaks_later.py"
    module.write_text(
        "import os\n"
        "from tests.pipelines.sched_pipelines import tiny\n"
        "if os.environ.get('BREAK_ON_IMPORT'):\n"
        "    raise ZeroDivisionError('the module broke')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    s = add_schedule(workspace, "breaks_later:tiny", name="breaks", every="10s")
    monkeypatch.setenv("BREAK_ON_IMPORT", "1")
    monkeypatch.delitem(sys.modules, "breaks_later")  # the next fire imports it again
    scheduler = Scheduler(workspace, tick=1.0)
    scheduler.tick_once(now=s.next_fire_at + timedelta(seconds=0.5))
    for thread in scheduler.threads:
        thread.join()
    [fire] = workspace.store.schedules.fires("breaks")
    assert fire.status == "failed" and fire.note == "ZeroDivisionError: the module broke"
