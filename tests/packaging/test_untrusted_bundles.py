"""A bundle comes from elsewhere: its metadata and its sums are written by whoever made it.
Names in it that lead outside the bundle, links, and a model file that is not the recorded
model are refused by name before anything outside is read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.packaging.test_bundle import build, cancer, runner  # noqa: F401 (fixture)

from podium.cli.main import app
from podium.core.errors import IntegrityError, InvalidNameError, ValidationError
from podium.core.sums import write_sums
from podium.packaging import env
from podium.packaging.bundle import META, open_bundle
from podium.workspace import Workspace

TRAVERSALS = [
    "../outside.skops",
    "model/../../outside.skops",
    "..\\outside.skops",
    "/etc/passwd",
    "C:/outside.skops",
    "model/model.skops\x00.txt",
    "",
]


@pytest.fixture
def bundle(cancer: Workspace, tmp_path: Path) -> Path:  # noqa: F811
    out = tmp_path / "bundle"
    build("cancer@champion", out, "--no-hashes")
    # A valid model right beside the bundle: loading it would succeed, so a refusal
    # proves it was not read.
    (tmp_path / "outside.skops").write_bytes((out / "model" / "model.skops").read_bytes())
    return out


def _edit(out: Path, change: Callable[[dict[str, Any]], None]) -> None:
    meta = json.loads((out / META).read_text())
    change(meta)
    (out / META).write_text(json.dumps(meta))
    write_sums(out)  # as a forger would: the sums agree with the forged files


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_model_file_outside_the_bundle_is_refused(bundle: Path, name: str) -> None:
    _edit(bundle, lambda m: m["flavor"].update(file=name))
    with pytest.raises(ValidationError) as info:
        open_bundle(bundle)
    assert info.value.field == f"{META}: flavor.file"
    assert "outside the folder" in info.value.message
    r = runner.invoke(app, ["env", "check", str(bundle)])
    assert r.exit_code == 1 and "names the model file" in r.output
    assert "Traceback" not in r.output


def test_an_absolute_path_to_a_real_model_outside_is_refused(bundle: Path) -> None:
    outside = str(bundle.parent / "outside.skops")
    _edit(bundle, lambda m: m["flavor"].update(file=outside))
    with pytest.raises(ValidationError, match="it is absolute"):
        open_bundle(bundle)


@pytest.mark.parametrize("name", TRAVERSALS[:4])
def test_a_podium_wheel_outside_the_bundle_is_refused_before_anything_is_installed(
    bundle: Path, tmp_path: Path, name: str
) -> None:
    _edit(bundle, lambda m: m["built"].update(podium_wheel=name))
    venv = tmp_path / "venv"
    with pytest.raises(ValidationError) as info:
        env.create(bundle, venv=venv)
    assert info.value.field == f"{META}: built.podium_wheel"
    assert not venv.exists()


def test_a_model_name_that_is_a_path_is_refused(bundle: Path) -> None:
    _edit(bundle, lambda m: m["model"].update(model="../../etc"))
    with pytest.raises(InvalidNameError, match="model name"):
        open_bundle(bundle)


def test_a_link_to_a_file_outside_is_refused_even_when_the_sums_agree(bundle: Path) -> None:
    model = bundle / "model" / "model.skops"
    model.unlink()
    model.symlink_to(bundle.parent / "outside.skops")  # same bytes: the sums still agree
    with pytest.raises(IntegrityError, match=r"model/model\.skops is a symbolic link"):
        open_bundle(bundle)


def test_a_linked_folder_is_refused(bundle: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (bundle / "model").rename(elsewhere)
    (bundle / "model").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IntegrityError, match="model is a symbolic link"):
        open_bundle(bundle)


def test_a_model_file_that_is_not_the_recorded_model_is_refused(bundle: Path) -> None:
    # Inside the bundle and listed in the sums, but not the bytes the registry recorded.
    _edit(bundle, lambda m: m["flavor"].update(file="input_example.json"))
    with pytest.raises(IntegrityError, match="not the registered model"):
        open_bundle(bundle).load()


@pytest.mark.parametrize("line", ["../outside.skops", "/etc/passwd", "a\\..\\b", "a\x00b"])
def test_sums_naming_files_outside_are_malformed(bundle: Path, line: str) -> None:
    sums = bundle / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'0' * 64}  {line}\n")
    with pytest.raises(IntegrityError, match="malformed"):
        open_bundle(bundle)


def test_the_bundle_still_opens_and_loads_when_nothing_was_forged(bundle: Path) -> None:
    b = open_bundle(bundle)
    assert b.parity().ok
    assert os.path.samefile(
        b.member("model/model.skops", "model file", "f"), bundle / "model" / "model.skops"
    )
