"""The metadata store on SQLite and PostgreSQL: migrations, numbering, aliases, audit."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from podium.core.errors import ConfigError, NotFoundError
from podium.core.records import FlavorRecord
from podium.store import MetadataStore
from podium.store.migrate import MIGRATIONS, current_revision
from podium.store.schema import HEAD_REVISION

FLAVOR = FlavorRecord("python", "a" * 64, 1, {})


def test_head_revision_constant_matches_the_alembic_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_opening_migrates_once_and_reopening_is_a_no_op(db_url: str) -> None:
    store = MetadataStore(db_url)
    assert current_revision(store.db.engine) == HEAD_REVISION
    store.models.create_version("m", flavors=[FLAVOR])
    again = MetadataStore(db_url)
    assert again.models.get_model("m").latest_version == 1
    store.close()
    again.close()


def test_versions_are_numbered_from_one_and_aliases_move(db_url: str) -> None:
    store = MetadataStore(db_url)
    v1 = store.models.create_version("churn", flavors=[FLAVOR], alias="champion")
    v2 = store.models.create_version("churn", flavors=[FLAVOR], metrics={"auc": 0.9})
    assert (v1.version, v2.version) == (1, 2)
    assert v1.aliases == ("champion",)
    store.models.set_alias("churn", "champion", 2)
    store.models.set_alias("churn", "challenger", 1)
    model = store.models.get_model("churn")
    assert model.aliases == {"champion": 2, "challenger": 1}
    store.models.delete_alias("churn", "challenger")
    assert store.models.get_model("churn").aliases == {"champion": 2}
    store.close()


def test_every_mutation_is_audited_with_before_and_after(db_url: str) -> None:
    store = MetadataStore(db_url)
    store.models.create_version("churn", flavors=[FLAVOR], alias="champion")
    store.models.create_version("churn", flavors=[FLAVOR])
    store.models.set_alias("churn", "champion", 2)
    store.models.delete_alias("churn", "champion")
    store.models.update_model("churn", description="d")
    records = list(reversed(store.audit.list()))
    assert [r.action for r in records] == [
        "model_version.create",
        "alias.set",
        "model_version.create",
        "alias.set",
        "alias.delete",
        "model.update",
    ]
    move = records[3]
    assert (move.target, move.before, move.after) == (
        "models:/churn@champion",
        {"version": 1},
        {"version": 2},
    )
    assert all(r.actor for r in records)
    assert [r.action for r in store.audit.list(target="models:/churn@champion")] == [
        "alias.delete",
        "alias.set",
        "alias.set",
    ]
    assert [r.action for r in store.audit.list(target_prefix="models:/churn@")] == [
        "alias.delete",
        "alias.set",
        "alias.set",
    ]
    store.close()


def test_not_found_errors_say_what_exists_and_how_to_fix(db_url: str) -> None:
    store = MetadataStore(db_url)
    store.models.create_version("churn", flavors=[FLAVOR], alias="challenger")
    with pytest.raises(NotFoundError, match="Known models: churn"):
        store.models.get_model("chrun")
    with pytest.raises(NotFoundError, match="no version 7; the latest is 1") as info:
        store.models.get_version("churn", 7)
    assert info.value.hint and "podium models show churn" in info.value.hint
    from podium.core.names import ModelRef

    with pytest.raises(NotFoundError, match="Known aliases: challenger") as info:
        store.models.resolve(ModelRef("churn", alias="champion"))
    assert info.value.hint == "Set one with `podium models alias churn champion VERSION`."
    store.close()


def test_a_bad_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unsupported database backend"):
        MetadataStore("mysql://nobody@localhost/x")


REGISTER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import podium

    class Constant:
        def predict(self, X):
            return [0] * len(X)

    start = float(sys.argv[1])
    while time.time() < start:
        time.sleep(0.001)
    for i in range(int(sys.argv[2])):
        podium.register_model(Constant(), "race", alias="latest")
    """
)


@pytest.mark.slow
def test_eight_processes_registering_at_once_get_gapless_unique_versions(
    db_url: str, tmp_path: Path
) -> None:
    """Fresh SQLite: also proves concurrent first opens migrate once, without 'locked'."""
    script = tmp_path / "register.py"
    script.write_text(REGISTER_SCRIPT)
    env = {
        **os.environ,
        "PODIUM_HOME": str(tmp_path),
        "PODIUM_DB_URL": db_url,
        "PODIUM_ARTIFACTS_URL": str(tmp_path / "artifacts"),
    }
    procs, each = 8, 5
    start = time.time() + 4.0  # all imports done, then everyone writes at once
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(start), str(each)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    errors = [c.communicate(timeout=180)[1] for c in children]
    assert [c.returncode for c in children] == [0] * procs, "\n".join(errors)
    store = MetadataStore(db_url)
    versions = [v.version for v in store.models.list_versions("race", limit=1000)]
    assert sorted(versions) == list(range(1, procs * each + 1))
    assert store.models.get_model("race").latest_version == procs * each
    created = [r for r in store.audit.list(limit=1000) if r.action == "model_version.create"]
    assert len(created) == procs * each
    store.close()


def test_migrated_schema_equals_the_declared_one(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from podium.store.schema import metadata

    store = MetadataStore(db_url)
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.close()


def test_a_store_created_at_an_older_revision_is_upgraded_on_open(db_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from podium.store.engine import make_engine, normalize_url

    engine = make_engine(normalize_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # the fixture migrated it already: go back
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        else:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        conn.commit()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    assert "pipeline_ref" not in columns
    engine.dispose()
    store = MetadataStore(db_url)  # opening upgrades to the head
    assert current_revision(store.db.engine) == HEAD_REVISION
    run = store.runs.create("p", {}, steps=[("a", [])], pipeline_ref="m:p")
    assert store.runs.get(run.id).pipeline_ref == "m:p"
    store.close()


def test_concurrent_alias_moves_are_serialised_with_a_true_audit_trail(db_url: str) -> None:
    import threading

    store = MetadataStore(db_url)
    for _ in range(3):
        store.models.create_version("churn", flavors=[FLAVOR])
    errors: list[BaseException] = []

    def mover(worker: int) -> None:
        try:
            for i in range(10):
                store.models.set_alias("churn", f"a{i}", 1 + (worker + i) % 3)
                store.models.set_alias("churn", "champion", 1 + (worker + i) % 3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=mover, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    moves = list(reversed(store.audit.list(target="models:/churn@champion", limit=100)))
    assert len(moves) == 40
    for earlier, later in itertools.pairwise(moves):
        assert later.before == earlier.after  # each move saw the one before it
    store.close()


def test_an_in_memory_store_works() -> None:
    store = MetadataStore("sqlite://")
    store.models.create_version("m", flavors=[FLAVOR])
    assert store.models.get_model("m").latest_version == 1


def test_an_unreachable_database_is_a_store_error_with_a_hint() -> None:
    from podium.core.errors import StoreError

    with pytest.raises(StoreError, match="failed") as info:
        MetadataStore("postgresql://nobody@127.0.0.1:1/none")
    assert info.value.hint and "PODIUM_DB_URL" in info.value.hint
