"""Batch scoring end to end: formats, parts, the manifest, rejects, and kill -9 resumption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.batch import TooManyErrors, score
from podium.batch.sources import list_inputs, read_parts
from podium.cli.main import app
from podium.core.errors import ValidationError
from podium.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def model(sqlite_workspace: Workspace, trained: Trained) -> Any:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    return podium.load("cancer@champion")


def rows(trained: Trained, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = trained.X.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    return x * rng.uniform(0.95, 1.05, size=x.shape)


def scored(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def test_parquet_in_parts_out_with_ids_predictions_and_probabilities(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    x = rows(trained, 10_000)
    pq.write_table(pa.Table.from_pandas(x), tmp_path / "in.parquet", row_group_size=3_000)
    result = score(model, str(tmp_path / "in.parquet"), str(tmp_path / "out"), chunk_size=1_000)
    assert (result.rows, result.parts_written, result.rejected) == (10_000, 10, 0)
    out = scored(tmp_path / "out").sort_values("row").reset_index(drop=True)
    assert out["row"].tolist() == list(range(10_000))
    assert out["prediction"].tolist() == model.predict(x).tolist()
    np.testing.assert_allclose(out[["proba_0", "proba_1"]], model.predict_proba(x), rtol=1e-12)
    assert set(out["model_version"]) == {"models:/cancer/1"}
    assert out["scored_at"].dt.tz is not None
    manifest = (tmp_path / "out" / "_manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 10 and json.loads(manifest[0])["model_version"] == "models:/cancer/1"

    again = score(model, str(tmp_path / "in.parquet"), str(tmp_path / "out"), chunk_size=1_000)
    assert (again.rows, again.parts_written, again.parts_skipped) == (0, 0, 10)
    podium.register_model(trained.model, "cancer", input_example=trained.X)
    newer = score(
        podium.load("cancer/2"),
        str(tmp_path / "in.parquet"),
        str(tmp_path / "out"),
        chunk_size=1_000,
    )
    assert newer.parts_written == 10  # a new model version scores everything again
    assert set(scored(tmp_path / "out")["model_version"]) == {"models:/cancer/2"}


def test_csv_jsonl_folders_and_globs(model: Any, trained: Trained, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rows(trained, 700, 1).to_csv(src / "a.csv", index=False)
    rows(trained, 300, 2).to_json(src / "b.jsonl", orient="records", lines=True)
    (src / "notes.txt").write_text("not data")
    result = score(model, str(src), str(tmp_path / "out"), chunk_size=256, output_format="csv")
    assert result.rows == 1_000 and result.parts_written == 3 + 2
    out = pd.concat([pd.read_csv(p) for p in sorted((tmp_path / "out").glob("part-*.csv"))])
    assert out.groupby("source").size().to_dict() == {
        str(src / "a.csv"): 700,
        str(src / "b.jsonl"): 300,
    }
    only = score(model, str(src / "*.csv"), str(tmp_path / "glob"), chunk_size=1_000)
    assert only.rows == 700 and "source" not in scored(tmp_path / "glob")
    inside = score(model, str(src), str(src / "scored"), chunk_size=1_000)
    assert inside.rows == 1_000
    assert score(model, str(src), str(src / "scored"), chunk_size=1_000).parts_skipped == 2


def test_fsspec_urls_are_inputs_like_paths(model: Any, trained: Trained, tmp_path: Path) -> None:
    """fsspec's in-memory and file:// filesystems, as s3:// or gs:// would be with their
    packages installed."""
    import fsspec

    x = rows(trained, 900, 3)
    fs = fsspec.filesystem("memory")
    with fs.open("/bucket/day=1/a.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(x.head(600)), f)
    with fs.open("/bucket/day=2/b.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(x.tail(300)), f)
    try:
        result = score(model, "memory://bucket/*/*.parquet", str(tmp_path / "out"), chunk_size=500)
        assert result.rows == 900
        out = scored(tmp_path / "out")
        assert sorted(set(out["source"])) == [
            "memory:///bucket/day=1/a.parquet",
            "memory:///bucket/day=2/b.parquet",
        ]
        by_source = out.sort_values(["source", "row"])
        assert by_source["prediction"].tolist() == model.predict(x).tolist()
    finally:
        fs.rm("/bucket", recursive=True)
    x.to_csv(tmp_path / "local.csv", index=False)
    url = (tmp_path / "local.csv").as_uri()
    assert score(model, url, str(tmp_path / "out2"), chunk_size=500).rows == 900


def test_bad_rows_go_to_rejects_with_the_reason_up_to_max_errors(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    x = rows(trained, 1_000).astype(object)
    x.loc[3, "mean radius"] = "abc"
    x.loc[500, "mean texture"] = None
    x["id"] = [f"c{i}" for i in range(1_000)]
    x.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(TooManyErrors) as err:
        score(model, str(tmp_path / "in.csv"), str(tmp_path / "strict"), chunk_size=400)
    assert "mean radius: not a number" in err.value.message and err.value.hint
    result = score(
        model,
        str(tmp_path / "in.csv"),
        str(tmp_path / "out"),
        chunk_size=400,
        id_column="id",
        max_errors=5,
    )
    assert (result.rows, result.rejected) == (998, 2)
    rejects = pd.concat(pd.read_parquet(p) for p in (tmp_path / "out" / "_rejects").glob("*"))
    assert dict(zip(rejects["id"], rejects["reason"], strict=True)) == {
        "c3": "mean radius: not a number",
        "c500": "mean texture: missing",
    }
    assert scored(tmp_path / "out")["id"].tolist() == [
        f"c{i}" for i in range(1_000) if i not in (3, 500)
    ]


def test_user_mistakes_are_one_clear_line(model: Any, trained: Trained, tmp_path: Path) -> None:
    trained.X.drop(columns=["mean area"]).to_csv(tmp_path / "in.csv", index=False)
    r = runner.invoke(
        app, ["batch", "cancer@champion", str(tmp_path / "in.csv"), str(tmp_path / "out")]
    )
    assert r.exit_code == 1 and "lacks the model's column(s) 'mean area'" in r.output
    r = runner.invoke(
        app, ["batch", "cancer@champion", str(tmp_path / "nope.csv"), str(tmp_path / "out")]
    )
    assert r.exit_code == 1 and "No such input" in r.output
    rows(trained, 10).to_csv(tmp_path / "ok.csv", index=False)
    with pytest.raises(ValidationError, match="no id column 'customer'"):
        score(model, str(tmp_path / "ok.csv"), str(tmp_path / "o2"), id_column="customer")


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 3_000),
    group=st.integers(1, 1_000),
    chunk=st.integers(1, 700),
    start=st.integers(0, 6),
)
def test_parts_are_the_same_rows_whatever_the_row_groups(
    tmp_path_factory: pytest.TempPathFactory, n: int, group: int, chunk: int, start: int
) -> None:
    path = tmp_path_factory.mktemp("parts") / "x.parquet"
    pq.write_table(pa.table({"i": np.arange(n)}), path, row_group_size=group)
    [f] = list_inputs(str(path))
    got = [(k, t.column("i").to_pylist()) for k, t in read_parts(f, chunk, start)]
    want = [
        (k, list(range(k * chunk, min(n, (k + 1) * chunk))))
        for k in range(start, (n + chunk - 1) // chunk)
    ]
    assert got == want


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_kill_9_mid_job_resumes_with_no_duplicate_or_missing_row(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    n = 200_000
    pq.write_table(
        pa.Table.from_pandas(rows(trained, n)), tmp_path / "in.parquet", row_group_size=10_000
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "podium",
        "batch",
        "cancer@champion",
        str(tmp_path / "in.parquet"),
        str(out),
        "--chunk-size",
        "2000",
    ]
    env = {**os.environ}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "_manifest.jsonl"
    deadline = time.monotonic() + 60
    while not (manifest.exists() and len(manifest.read_text().splitlines()) >= 5):
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = len(manifest.read_text().splitlines())
    assert 5 <= first < 100, "the job finished before it could be killed"
    r = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (
        summary["parts_skipped"] >= 5 and summary["parts_written"] == 100 - summary["parts_skipped"]
    )
    ids = scored(out)["row"]
    assert len(ids) == n and ids.is_unique and set(ids) == set(range(n))


def test_a_new_chunk_size_or_a_changed_file_leaves_no_stale_part(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    rows(trained, 1_000).to_csv(src, index=False)
    out = tmp_path / "out"
    assert score(model, str(src), str(out), chunk_size=100).parts_written == 10
    assert score(model, str(src), str(out), chunk_size=300).parts_written == 4
    assert sorted(scored(out)["row"]) == list(range(1_000))
    # Back to an earlier chunk size: its old records must not vouch for files since replaced.
    assert score(model, str(src), str(out), chunk_size=100).parts_written == 10
    assert sorted(scored(out)["row"]) == list(range(1_000))
    podium.register_model(trained.model, "cancer", input_example=trained.X)
    assert score(podium.load("cancer/2"), str(src), str(out), chunk_size=100).parts_written == 10
    assert score(model, str(src), str(out), chunk_size=100).parts_written == 10  # a rollback
    assert set(scored(out)["model_version"]) == {"models:/cancer/1"}
    time.sleep(0.01)  # a new modification time, whatever the file system's resolution
    rows(trained, 250, 7).to_csv(src, index=False)
    assert score(model, str(src), str(out), chunk_size=300).parts_written == 1
    assert sorted(scored(out)["row"]) == list(range(250))


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_ray_tasks_give_the_same_output_as_local(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    x = rows(trained, 5_000)
    (tmp_path / "src").mkdir()
    pq.write_table(pa.Table.from_pandas(x), tmp_path / "src" / "in.parquet", row_group_size=700)
    rows(trained, 1_200, 3).to_csv(tmp_path / "src" / "more.csv", index=False)
    src = str(tmp_path / "src" / "in*")  # a glob: the Parquet file only, parts read by tasks
    both = str(tmp_path / "src")  # Parquet and CSV; CSV parts are parsed by the driver
    local = score(model, both, str(tmp_path / "local"), chunk_size=1_000)
    ray = score(model, both, str(tmp_path / "ray"), chunk_size=1_000, executor="ray")
    assert (ray.rows, ray.parts_written) == (local.rows, local.parts_written) == (6_200, 7)

    def frame(folder: str) -> pd.DataFrame:
        out = scored(tmp_path / folder).drop(columns=["scored_at"])
        return out.sort_values(["source", "row"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(frame("local"), frame("ray"))
    again = score(model, both, str(tmp_path / "ray"), chunk_size=1_000, executor="ray")
    assert (again.rows, again.parts_skipped) == (0, 7)
    assert score(model, src, str(tmp_path / "glob"), chunk_size=1_000, executor="ray").rows == 5_000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_table_or_query_is_scored_by_parts(
    model: Any, trained: Trained, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from sqlalchemy import create_engine

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'customers.db'}"
    else:
        url = request.getfixturevalue("pg_database").replace("+psycopg", "")
    x = rows(trained, 2_500)
    x.insert(0, "customer_id", range(1, 2_501))
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        x.sample(frac=1, random_state=1).to_sql("customers", conn, index=False, if_exists="replace")
    request.addfinalizer(lambda: _drop(engine, "customers"))
    result = score(
        model,
        url,
        str(tmp_path / "out"),
        chunk_size=1_000,
        table="customers",
        id_column="customer_id",
    )
    assert (result.rows, result.parts_written) == (2_500, 3)
    out = scored(tmp_path / "out")
    assert out["customer_id"].tolist() == list(range(1, 2_501))  # in id order, by parts
    want = model.predict(x.drop(columns="customer_id"))
    assert out["prediction"].tolist() == want.tolist()
    assert (
        score(
            model,
            url,
            str(tmp_path / "out"),
            chunk_size=1_000,
            table="customers",
            id_column="customer_id",
        ).parts_skipped
        == 3
    )
    q = score(
        model,
        url,
        str(tmp_path / "q"),
        chunk_size=1_000,
        query="SELECT * FROM customers WHERE customer_id <= 100 ORDER BY customer_id",
    )
    assert q.rows == 100
    with pytest.raises(ValidationError, match="plain SQL name"):
        score(
            model,
            url,
            str(tmp_path / "bad"),
            table="customers; drop table x",
            id_column="customer_id",
        )
    with pytest.raises(ValidationError, match="has no order of its own"):
        score(model, url, str(tmp_path / "bad"), table="customers")
    with pytest.raises(ValidationError, match="needs an ORDER BY"):
        score(model, url, str(tmp_path / "bad"), query="SELECT * FROM customers")
    with pytest.raises(ValidationError, match="refused the query"):
        score(model, url, str(tmp_path / "bad"), table="nope", id_column="customer_id")
    r = runner.invoke(app, ["batch", "cancer@champion", url, str(tmp_path / "cli")])
    assert r.exit_code == 1 and "--table NAME or --query" in r.output


def test_a_bad_value_deep_in_a_text_file_is_one_rejected_row(
    model: Any, trained: Trained, tmp_path: Path
) -> None:
    """Readers guess column types from the first megabytes; a late surprise must not fail
    the job (and every re-run of it) but be rejected like any bad row."""
    x = rows(trained, 30_000).round(3)
    x["note"] = None
    bad = x.astype(object)
    bad.loc[29_990, "mean radius"] = "n/a"
    bad.loc[29_991, "note"] = "late text"
    bad.to_csv(tmp_path / "in.csv", index=False)
    bad.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    for name in ("in.csv", "in.jsonl"):
        r = score(
            model,
            str(tmp_path / name),
            str(tmp_path / f"out-{name}"),
            chunk_size=8_000,
            max_errors=1,
        )
        assert (r.rows, r.rejected) == (29_999, 1), name


def _drop(engine: Any, table: str) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:  # the store's schema test must see only podium's tables
        conn.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    engine.dispose()
