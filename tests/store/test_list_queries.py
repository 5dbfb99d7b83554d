"""The dashboard's list queries on SQLite and PostgreSQL: the indexes they read along (0015),
and pages that hold exactly what sorting every row would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import pytest
import sqlalchemy as sa

from podium.store import MetadataStore
from podium.store import schema as t
from podium.store.migrate import MIGRATIONS, current_revision
from podium.store.schema import HEAD_REVISION

LIST_INDEXES = {
    "runs": {
        "ix_runs_created_at_id": ["created_at", "id"],
        "ix_runs_pipeline_created_at": ["pipeline", "created_at", "id"],
        "ix_runs_status_created_at": ["status", "created_at", "id"],
    },
    "audit_log": {
        "ix_audit_log_action_id": ["action", "id"],
        "ix_audit_log_actor_id": ["actor", "id"],
    },
    "data_versions": {"ix_data_versions_created_at": ["created_at", "version"]},
}
REPLACED = {"ix_runs_created_at", "ix_runs_pipeline", "ix_runs_status"}


def _indexes(engine: sa.Engine, table: str) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {i["name"]: list(i["column_names"]) for i in sa.inspect(conn).get_indexes(table)}


def _migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
        conn.commit()


def test_the_list_indexes_exist_after_upgrade_and_go_with_a_downgrade(db_url: str) -> None:
    store = MetadataStore(db_url)
    engine = store.db.engine
    for table, wanted in LIST_INDEXES.items():
        have = _indexes(engine, table)
        assert {name: have.get(name) for name in wanted} == wanted
    assert not REPLACED & set(_indexes(engine, "runs"))

    _migrate(engine, "0014", down=True)
    runs = _indexes(engine, "runs")
    assert set(runs) >= REPLACED and not set(LIST_INDEXES["runs"]) & set(runs)
    assert not set(LIST_INDEXES["audit_log"]) & set(_indexes(engine, "audit_log"))
    _migrate(engine, "head")
    assert current_revision(engine) == HEAD_REVISION
    assert set(LIST_INDEXES["runs"]) <= set(_indexes(engine, "runs"))
    store.close()


def _runs(store: MetadataStore) -> list[dict[str, Any]]:
    """Forty runs over three pipelines and three statuses; several share a creation time,
    so the id decides their order."""
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i, (pipeline, status) in enumerate(
        product(("etl", "train", "report"), ("succeeded", "failed", "running"))
    ):
        for k in range(4 + i % 3):
            rows.append(
                {
                    "id": f"run{(i * 7 + k * 13) % 97:03d}{i:02d}{k}",
                    "pipeline": pipeline,
                    "status": status,
                    "params": {},
                    "trigger": "manual",
                    "created_at": base + timedelta(minutes=(i * 5 + k) % 11),
                }
            )
    with store.db.write() as conn:
        conn.execute(sa.insert(t.runs), rows)
    return rows


def test_run_pages_hold_what_sorting_every_run_gives(db_url: str) -> None:
    store = MetadataStore(db_url)
    rows = _runs(store)
    newest_first = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    for pipeline, status in product((None, "etl", "train"), (None, "failed", "running")):
        matching = [
            r["id"]
            for r in newest_first
            if pipeline in (None, r["pipeline"]) and status in (None, r["status"])
        ]
        for limit, offset in product((1, 3, 50), (0, 1, 2, 5, len(matching), 100)):
            page = store.runs.list_runs(
                pipeline=pipeline, status=status, limit=limit, offset=offset
            )
            assert [r.id for r in page] == matching[offset : offset + limit], (
                pipeline,
                status,
                limit,
                offset,
            )
    store.close()


def test_get_many_gives_runs_with_their_steps_in_the_order_asked(db_url: str) -> None:
    store = MetadataStore(db_url)
    a = store.runs.create("p", {}, steps=[("load", []), ("train", ["load"]), ("eval", ["train"])])
    b = store.runs.create("q", {"x": 1}, steps=[("only", [])])
    store.runs.update_step(a.id, "train", status="succeeded")
    store.runs.finish(b.id, "failed", "boom")
    got = store.runs.get_many([b.id, "nope", a.id])
    assert got == [store.runs.get(b.id), store.runs.get(a.id)]
    assert [s.name for s in got[1].steps] == ["load", "train", "eval"]
    assert store.runs.get_many([]) == []
    store.close()


@pytest.mark.parametrize("stale", [True, False])
def test_crash_recovery_marks_only_runs_whose_heartbeat_stopped(db_url: str, stale: bool) -> None:
    store = MetadataStore(db_url)
    live = store.runs.create("p", {}, steps=[("a", [])])
    done = store.runs.create("p", {}, steps=[("a", [])])
    store.runs.finish(done.id, "succeeded")
    if stale:
        with store.db.write() as conn:
            old = datetime.now(UTC) - timedelta(hours=1)
            conn.execute(sa.update(t.runs).values(heartbeat_at=old))
    assert store.runs.mark_crashed(60) == ([live.id] if stale else [])
    assert store.runs.get(live.id).status == ("crashed" if stale else "running")
    assert store.runs.get(done.id).status == "succeeded"
    store.close()


def test_recent_predictions_carry_their_feedback_and_can_leave_inputs_out(db_url: str) -> None:
    store = MetadataStore(db_url)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    preds, feedback = [], []
    for i in range(30):
        for dep in ("canary", "other"):
            pid = f"{dep}-{i:02d}"
            preds.append(
                {
                    "id": pid,
                    "at": base + timedelta(seconds=i, milliseconds=1 if dep == "other" else 0),
                    "deployment": dep,
                    "variant": "a" if i % 3 else "b",
                    "model_version": "models:/m/1",
                    "inputs": [[i, i + 0.5]],
                    "outputs": {"predictions": [i % 2]},
                    "latency_ms": float(i),
                }
            )
            if i % 4 == 0:
                feedback.append({"prediction_id": pid, "at": base, "label": i, "reward": 1.0})
    store.predictions.write(preds, feedback, chunk=7)  # 60 rows in 9 statements, one commit

    assert len(store.predictions.recent("canary")) == len(store.predictions.recent("other")) == 30
    got = store.predictions.recent("canary", limit=10)
    assert [r["id"] for r in got] == [f"canary-{i:02d}" for i in range(29, 19, -1)]
    assert {r["id"]: r["feedback"] and r["feedback"]["label"] for r in got} == {
        f"canary-{i:02d}": (i if i % 4 == 0 else None) for i in range(29, 19, -1)
    }
    assert got[0]["inputs"] == [[29, 29.5]]
    lean = store.predictions.recent("canary", limit=10, inputs=False)
    assert lean == [{k: v for k, v in r.items() if k != "inputs"} for r in got]
    since = store.predictions.recent("canary", since=base + timedelta(seconds=27))
    assert [r["id"] for r in since] == ["canary-29", "canary-28", "canary-27"]
    assert store.predictions.recent("nobody") == []
    store.close()


TRIGGERS = (
    "manual",
    "schedule:nightly",
    "schedule:hourly",
    "event:drift-detected",
    "schedule",  # Pipeline.run(trigger="schedule") by hand: the kind alone
    "scheduled",  # look-alikes that no kind filter may catch (on SQLite, LIKE ignores case)
    "Schedule:weekly",
    "retrain",
)  # and no run started by a check


@pytest.mark.parametrize(
    ("trigger", "matches"),
    [
        ("manual", {"manual"}),
        ("schedule", {"schedule:nightly", "schedule:hourly", "schedule"}),
        ("schedule:nightly", {"schedule:nightly"}),
        ("event", {"event:drift-detected"}),
        ("retrain", {"retrain"}),
        ("check", set()),
    ],
)
def test_run_pages_filtered_by_trigger_hold_what_sorting_every_run_gives(
    db_url: str, trigger: str, matches: set[str]
) -> None:
    store = MetadataStore(db_url)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"run{i:03d}",
            "pipeline": ("etl", "train")[i // len(TRIGGERS) % 2],  # each trigger in both
            "status": ("succeeded", "failed")[i % 3 == 0],
            "params": {},
            "trigger": TRIGGERS[i % len(TRIGGERS)],
            "created_at": base + timedelta(minutes=i % 13),
        }
        for i in range(60)
    ]
    with store.db.write() as conn:
        conn.execute(sa.insert(t.runs), rows)
    newest_first = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    for pipeline, status in product((None, "etl"), (None, "failed")):
        matching = [
            r["id"]
            for r in newest_first
            if r["trigger"] in matches
            and pipeline in (None, r["pipeline"])
            and status in (None, r["status"])
        ]
        assert bool(matching) is bool(matches) or status is not None, "a filter to test"
        for limit, offset in product((1, 4, 100), (0, 3, len(matching))):
            page = store.runs.list_runs(
                pipeline=pipeline, status=status, trigger=trigger, limit=limit, offset=offset
            )
            assert [r.id for r in page] == matching[offset : offset + limit], (
                pipeline,
                status,
                limit,
                offset,
            )
            assert all(r.trigger in matches for r in page)
    store.close()


def test_audit_and_data_version_pages_follow_on_without_gaps_or_repeats(db_url: str) -> None:
    store = MetadataStore(db_url)
    for i in range(7):
        for name in ("features", "labels"):
            store.data.create_version(
                name,
                digest=f"{i:02d}{name[0]}".ljust(64, "0"),
                format="parquet",
                source=f"/data/{name}-{i}.parquet",
                rows=i,
                size=10,
                schema={},
                profile={},
                created_by="test",
            )
    with store.db.write() as conn:  # versions made in the same instant still page in order
        conn.execute(sa.update(t.data_versions).values(created_at=datetime(2025, 1, 1, tzinfo=UTC)))
    every = [v.uri for v in store.data.list_versions(limit=1000)]
    assert len(every) == len(set(every)) == 14
    for size in (1, 3, 5):
        paged = [
            v.uri
            for offset in range(0, 14, size)
            for v in store.data.list_versions(limit=size, offset=offset)
        ]
        assert paged == every
    assert [v.uri for v in store.data.list_versions("labels", limit=2, offset=5)] == [
        "data:/labels/2",
        "data:/labels/1",
    ]

    records = store.audit.list(limit=1000)
    assert len(records) == 14
    assert [r.id for r in store.audit.list(limit=4, offset=4)] == [r.id for r in records[4:8]]
    assert store.audit.list(limit=4, offset=14) == []
    labels = store.audit.list(target_prefix="data:/labels/", limit=3, offset=3)
    assert [r.target for r in labels] == ["data:/labels/4", "data:/labels/3", "data:/labels/2"]
    store.close()
