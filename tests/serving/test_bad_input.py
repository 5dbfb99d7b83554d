"""Bad input always gets a 4xx naming the field; never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.serving.conftest import Served, record


def _tensor(data: Any, shape: Any = None, datatype: str = "FP64", name: str = "input-0") -> Any:
    return {
        "inputs": [
            {
                "name": name,
                "shape": shape if shape is not None else [1, 30],
                "datatype": datatype,
                "data": data,
            }
        ]
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/predict", {"records": [{"mean radius": 1.0}]}, 422, "records[0].mean texture"),
        ("/predict", {"records": []}, 422, "records"),
        ("/predict", {"records": "x"}, 422, "records"),
        ("/predict", {"records": [1]}, 422, "records[0]"),
        ("/predict", {"records": [{}], "extra": 1}, 422, "extra"),
        ("/v2/models/cancer/infer", {"inputs": []}, 422, "inputs"),
        ("/v2/models/cancer/infer", _tensor([0.0] * 29), 422, "inputs[0].data"),
        (
            "/v2/models/cancer/infer",
            _tensor([0.0] * 30, datatype="FP99"),
            422,
            "inputs[0].datatype",
        ),
        ("/v2/models/cancer/infer", _tensor(["a"] * 30), 422, "inputs[0].data"),
        ("/v2/models/cancer/infer", _tensor([0.0] * 30, shape=[1, -30]), 422, "inputs[0].shape"),
        ("/v2/models/cancer/infer", _tensor([0.0] * 20, shape=[2, 10]), 422, "inputs[0]"),
        ("/v2/models/cancer/infer", {"inputs": [{"name": "x"}]}, 422, "inputs[0].shape"),
        (
            "/v2/models/cancer/infer",
            {**_tensor([0.0] * 30), "outputs": [{"name": "nope"}]},
            422,
            "outputs",
        ),
        (
            "/invocations",
            {"dataframe_split": {"columns": ["a"], "data": [[1]]}},
            422,
            "dataframe_split.data[0].mean radius",
        ),
        ("/invocations", {"instances": [[1.0]], "inputs": [[1.0]]}, 422, "body"),
        ("/invocations", [1, 2], 422, "body"),
    ],
)
def test_bad_payloads_get_a_4xx_naming_the_field(
    served: Served, path: str, body: Any, status: int, field: str
) -> None:
    r = served.client.post(path, json=body)
    assert r.status_code == status, r.text
    out = r.json()
    assert out["field"] == field
    assert out["error"] and out["request_id"] == r.headers["x-request-id"]


def test_wrong_type_names_column_and_value(served: Served) -> None:
    rec = {**record(served.trained), "mean area": "large"}
    out = served.client.post("/predict", json={"records": [rec]}).json()
    assert out["field"] == "records[0].mean area"
    assert "'large'" in out["error"] and "float64" in out["error"]


@pytest.mark.parametrize("body", [b"", b"{", b"nan", b"\xff\xfe", b'{"records": [NaN]}'])
def test_malformed_json_is_a_400(served: Served, body: bytes) -> None:
    for path in ("/predict", "/v2/models/cancer/infer", "/invocations"):
        r = served.client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["field"] == "body"


def test_unknown_model_or_version_is_a_404(served: Served) -> None:
    assert served.client.get("/v2/models/other").status_code == 404
    r = served.client.post("/v2/models/cancer/versions/9/infer", json=_tensor([0.0] * 30))
    assert r.status_code == 404 and "version 1, not '9'" in r.json()["error"]


def test_oversized_body_and_too_many_rows_are_413_naming_the_limit(served: Served) -> None:
    big = {"records": [record(served.trained)] * 200}  # > 64 KiB
    r = served.client.post("/predict", content=json.dumps(big))
    assert r.status_code == 413 and "max_body_bytes" in r.json()["error"]
    many = _tensor([0.0] * 30 * 60, shape=[60, 30])
    r = served.client.post("/v2/models/cancer/infer", json=many)
    assert r.status_code == 413 and "max_rows" in r.json()["error"]


def test_unsupported_content_type_is_a_400(served: Served) -> None:
    r = served.client.post("/invocations", content=b"x", headers={"content-type": "image/png"})
    assert r.status_code == 400 and r.json()["field"] == "content-type"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=json_values, path=st.sampled_from(["/predict", "/v2/models/cancer/infer", "/invocations"])
)
def test_no_json_body_ever_causes_a_5xx(served: Served, body: Any, path: str) -> None:
    r = served.client.post(path, json=body)
    assert r.status_code < 500, r.text


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"records": [{"age": 1e300, "plan": "pro"}]}, "records.age[0]", "out of range for int64"),
        ({"records": [{"age": 2**64, "plan": "pro"}]}, "records.age[0]", "out of range for int64"),
        ({"records": [{"age": 30.5, "plan": "pro"}]}, "records.age[0]", "not a whole number"),
        ({"records": [{"age": 30, "plan": "gold"}]}, "input", "model rejected the input"),
    ],
)
def test_out_of_range_and_unseen_values_are_422_on_a_mixed_model(
    served: Served, body: Any, field: str, words: str
) -> None:
    import httpx

    r = httpx.post(f"{served.mixed_url}/predict", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["error"]


def test_an_empty_tensor_is_a_422(served: Served) -> None:
    r = served.client.post("/v2/models/cancer/infer", json=_tensor([], shape=[0, 30]))
    assert r.status_code == 422 and "no rows" in r.json()["error"]


def test_csv_keeps_text_columns_as_text(served: Served) -> None:
    import httpx

    r = httpx.post(
        f"{served.mixed_url}/invocations",
        content="age,plan\n30,pro\n70,free\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2
    r = httpx.post(
        f"{served.mixed_url}/invocations",
        content="age,plan\n30,0123\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 422 and "'0123'" in r.json()["error"]  # kept as text, then refused


def test_invalid_limits_in_the_environment_are_config_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from podium.core.errors import ConfigError
    from podium.serving import Limits

    monkeypatch.setenv("PODIUM_MAX_ROWS", "abc")
    with pytest.raises(ConfigError, match="PODIUM_MAX_ROWS='abc'"):
        Limits.from_env()
