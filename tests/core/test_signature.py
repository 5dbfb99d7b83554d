from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.errors import ValidationError
from podium.core.signature import Signature


@pytest.fixture
def mixed() -> Signature:
    frame = pd.DataFrame(
        {"age": [30, 40], "income": [1.5, np.nan], "plan": ["pro", "free"], "active": [True, False]}
    )
    return Signature.infer(frame)


def test_inference_from_a_dataframe_keeps_names_types_and_nullability(mixed: Signature) -> None:
    assert [(c.name, c.dtype, c.nullable) for c in mixed.inputs] == [
        ("age", "int64", False),
        ("income", "float64", True),
        ("plan", "string", False),
        ("active", "bool", False),
    ]
    assert Signature.from_dict(mixed.to_dict()) == mixed


def test_inference_from_an_array_names_columns_by_position() -> None:
    sig = Signature.infer(np.zeros((3, 2), dtype=np.float32))
    assert sig.columns == ["f0", "f1"]
    assert sig.inputs[0].dtype == "float32"
    assert not sig.named_columns


def test_a_one_dimensional_example_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="2-D") as info:
        Signature.infer(np.zeros(3))
    assert info.value.hint and "reshape" in info.value.hint


def test_all_numeric_records_become_a_float_array() -> None:
    v = Signature.infer(pd.DataFrame({"a": [1.0], "b": [2]})).validator()
    arr = v.from_records([{"a": 1, "b": 2}, {"b": 3.0, "a": 0.5}])
    assert isinstance(arr, np.ndarray)
    assert arr.tolist() == [[1.0, 2.0], [0.5, 3.0]]
    with pytest.raises(ValidationError, match="not a whole number"):
        v.from_records([{"a": 1, "b": 2.5}])


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"a": 1.0}, "records[0].b", "missing column 'b'"),
        ({"a": 1.0, "b": 2, "c": 3}, "records[0].c", "unknown column 'c'"),
        ({"a": "x", "b": 2}, "records[0].a", "must be of type float64"),
        ({"a": None, "b": 2}, "records[0].a", "required"),
        ({"a": True, "b": 2}, "records[0].a", "must be of type float64"),
        ({"a": 1.0, "b": [1]}, "records[0].b", "must be of type"),
    ],
)
def test_bad_records_name_the_field(record: dict[str, object], field: str, words: str) -> None:
    v = Signature.infer(pd.DataFrame({"a": [1.0], "b": [2.0]})).validator()
    with pytest.raises(ValidationError) as info:
        v.from_records([record])
    assert info.value.field == field
    assert words in info.value.message


def test_mixed_records_become_a_typed_frame(mixed: Signature) -> None:
    frame = mixed.validator().from_records(
        [{"age": 1, "income": None, "plan": "pro", "active": True}]
    )
    assert isinstance(frame, pd.DataFrame)
    assert str(frame["age"].dtype) == "int64"
    assert math.isnan(frame["income"][0])


def test_wrong_string_for_a_mixed_signature_names_the_field(mixed: Signature) -> None:
    with pytest.raises(ValidationError) as info:
        mixed.validator().from_records([{"age": 1, "income": 2.0, "plan": 3, "active": True}])
    assert info.value.field == "records.plan[0]"


def test_array_shape_is_checked() -> None:
    v = Signature.infer(np.zeros((1, 3))).validator()
    with pytest.raises(ValidationError, match=r"shape \[2, 2\]"):
        v.from_array(np.zeros((2, 2)))
    with pytest.raises(ValidationError, match="finite"):
        v.from_array(np.array([[1.0, np.inf, 0.0]]))


@given(
    st.lists(
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
        min_size=1,
        max_size=20,
    )
)
def test_records_and_positional_rows_validate_to_the_same_array(rows: list[list[float]]) -> None:
    v = Signature.infer(pd.DataFrame({"x": [0.0], "y": [0.0], "z": [0.0]})).validator()
    by_name = v.from_records([dict(zip("xyz", r, strict=True)) for r in rows])
    by_position = v.from_records(rows)
    assert np.array_equal(by_name, np.array(rows))
    assert np.array_equal(by_position, by_name)


_ANY_NUMBER = st.one_of(
    st.floats(),  # NaN, infinities, and finite values up to 1.8e308 (whose sums overflow)
    st.integers(min_value=-(10**300), max_value=10**300),
)


@given(
    st.lists(st.lists(_ANY_NUMBER, min_size=3, max_size=3), min_size=1, max_size=12),
    st.booleans(),
)
def test_records_are_refused_exactly_when_a_value_is_not_finite(
    rows: list[list[float]], nullable: bool
) -> None:
    # Few rows are checked by a Python sum, many by numpy: both must agree with the values.
    frame = pd.DataFrame(
        {"x": [0.0, np.nan if nullable else 1.0], "y": [0.0, 1.0], "z": [0.0, 1.0]}
    )
    v = Signature.infer(frame).validator()
    finite = [[math.isfinite(float(value)) for value in row] for row in rows]
    allowed = all(
        ok or (nullable and j == 0 and math.isnan(float(row[j])))
        for row, oks in zip(rows, finite, strict=True)
        for j, ok in enumerate(oks)
    )
    if allowed:
        assert np.array_equal(
            v.from_records(rows), np.array(rows, dtype=np.float64), equal_nan=True
        )
    else:
        with pytest.raises(ValidationError, match="must be a finite number"):
            v.from_records(rows)
