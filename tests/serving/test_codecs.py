"""Payload decoding: a few values are checked finite in Python, many by numpy; both must
refuse exactly the payloads holding a NaN or an infinity (which JSON cannot carry, but a
Python caller or a CSV body can)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import Trained

from podium.core.errors import ValidationError
from podium.core.signature import Signature
from podium.registry import Predictor
from podium.serving import codecs

COLUMNS = 30  # the reference model's features


@pytest.fixture(scope="module")
def predictor(trained: Trained) -> Predictor:
    return Predictor(trained.model, Signature.infer(trained.X), flavor="skops")


@settings(deadline=None, max_examples=60)
@given(
    rows=st.integers(min_value=1, max_value=12),
    bad=st.one_of(st.none(), st.sampled_from([math.nan, math.inf, -math.inf])),
    where=st.integers(min_value=0),
    nested=st.booleans(),
)
def test_a_v2_tensor_is_refused_exactly_when_a_value_is_not_finite(
    predictor: Predictor, rows: int, bad: float | None, where: int, nested: bool
) -> None:
    values = [float(i % 7) - 3.0 for i in range(rows * COLUMNS)]
    if bad is not None:
        values[where % len(values)] = bad
    data: list[object] = (
        [values[r * COLUMNS : (r + 1) * COLUMNS] for r in range(rows)] if nested else values
    )
    body = {"inputs": [{"name": "x", "shape": [rows, COLUMNS], "datatype": "FP64", "data": data}]}
    if bad is None:
        x, _, _ = codecs.decode_oip(predictor, body)
        assert np.array_equal(x, np.array(values).reshape(rows, COLUMNS))
    else:
        with pytest.raises(ValidationError, match="must be a finite number"):
            codecs.decode_oip(predictor, body)
