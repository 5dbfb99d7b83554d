from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.errors import InvalidNameError, ValidationError
from podium.core.names import ModelRef, check_digest, check_member, check_name


@pytest.mark.parametrize(
    "name", ["..", ".", "../etc", "a/b", "/abs", "a\\b", "", " x", "x y", "-x", "a" * 129, "é"]
)
def test_unsafe_names_are_rejected_with_a_hint(name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_name(name, "model name")
    assert "model name" in info.value.message
    assert info.value.hint


@given(st.text(min_size=1, max_size=200))
def test_an_accepted_name_never_leaves_its_folder(name: str) -> None:
    try:
        ok = check_name(name)
    except InvalidNameError:
        return
    assert "/" not in ok and "\\" not in ok and ok not in (".", "..") and not ok.startswith(".")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn/3", ModelRef("churn", version=3)),
        ("models:/churn@champion", ModelRef("churn", alias="champion")),
        ("churn/3", ModelRef("churn", version=3)),
        ("churn@champion", ModelRef("churn", alias="champion")),
        ("churn", ModelRef("churn")),
    ],
)
def test_model_references_parse_in_long_and_short_forms(uri: str, expected: ModelRef) -> None:
    assert ModelRef.parse(uri) == expected
    assert ModelRef.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "uri", ["models:/churn/0", "churn/x", "churn@", "@champion", "models:/../x", "a/b/c", ""]
)
def test_bad_model_references_raise_invalid_name(uri: str) -> None:
    with pytest.raises(InvalidNameError):
        ModelRef.parse(uri)


def test_digests_accept_the_sha256_prefix_only() -> None:
    d = "a" * 64
    assert check_digest(d) == d
    assert check_digest("sha256:" + d) == d
    with pytest.raises(InvalidNameError):
        check_digest("md5:" + d)


@pytest.mark.parametrize("uri", ["cancer/1\u00b2", "a/\u0663", "churn/99999999999", "churn\n"])
def test_only_ascii_digits_and_store_sized_versions_parse(uri: str) -> None:
    with pytest.raises(InvalidNameError):
        ModelRef.parse(uri)


def test_a_trailing_newline_is_not_a_safe_name() -> None:
    with pytest.raises(InvalidNameError):
        check_name("churn\n")
    with pytest.raises(InvalidNameError):
        check_digest("a" * 64 + "\n")


@pytest.mark.parametrize("name", ["a\x00b", "a/\x00", "../x", "/x", "x\\..\\y"])
def test_names_with_nul_bytes_and_separators_are_rejected(name: str) -> None:
    with pytest.raises(InvalidNameError):
        check_name(name, "stream name")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("..", "climbs out"),
        ("..\\x", "backslash"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("a\x00b", "NUL byte"),
        ("", "not a file name"),
        (None, "not a file name"),
        ("up/x", "symbolic link"),
    ],
)
def test_a_member_path_leading_out_of_its_folder_is_refused(
    tmp_path: Path, name: object, reason: str
) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "up").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValidationError, match=reason) as info:
        check_member(folder, name, what="model file", field="meta: file", source="meta.json")
    assert info.value.field == "meta: file" and info.value.hint


def test_a_member_path_inside_its_folder_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "m.skops").write_bytes(b"x")
    (tmp_path / "alias.skops").symlink_to(tmp_path / "model" / "m.skops")  # stays inside
    for name in ("model/m.skops", "./model/m.skops", "alias.skops", "model/./m.skops"):
        got = check_member(tmp_path, name, what="f", field="f", source="s")
        assert got.read_bytes() == b"x"
