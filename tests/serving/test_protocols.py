"""Every protocol of the model server over real HTTP on loopback."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from tests.serving.conftest import Served, record


def test_health_and_server_metadata(served: Served) -> None:
    c = served.client
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").json() == {"ready": True}
    assert c.get("/v2").json()["name"] == "podium"
    assert c.get("/v2/models/cancer/ready").json() == {"name": "cancer", "ready": True}
    assert c.get("/v2/models/cancer/versions/1/ready").status_code == 200
    assert c.get("/ping").status_code == 200


def test_model_metadata_follows_the_signature(served: Served) -> None:
    meta = served.client.get("/v2/models/cancer").json()
    assert meta["name"] == "cancer" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 30]}]
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert served.client.get("/v2/models/cancer/versions/1").json() == meta
    mixed = httpx.get(f"{served.mixed_url}/v2/models/mixed").json()
    assert mixed["inputs"] == [
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "plan", "datatype": "BYTES", "shape": [-1]},
    ]


def test_v2_infer_returns_labels_and_probabilities_like_the_model(served: Served) -> None:
    X = served.trained.X.to_numpy()[:3]
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "input-0", "shape": [3, 30], "datatype": "FP64", "data": X.ravel().tolist()}
        ],
    }
    r = served.client.post("/v2/models/cancer/infer", json=body)
    assert r.status_code == 200
    out = r.json()
    assert (out["model_name"], out["model_version"], out["id"]) == ("cancer", "1", "req-1")
    labels, proba = out["outputs"]
    model = served.trained.model
    assert labels == {
        "name": "predict",
        "datatype": "INT64",
        "shape": [3],
        "data": model.predict(served.trained.X[:3]).tolist(),
    }
    assert proba["shape"] == [3, 2]
    np.testing.assert_allclose(
        np.reshape(proba["data"], (3, 2)),
        model.predict_proba(served.trained.X[:3]),
        rtol=0,
        atol=served.atol,
    )


def test_v2_infer_accepts_nested_data_versioned_routes_and_output_selection(served: Served) -> None:
    row = served.trained.X.to_numpy()[:1].tolist()  # nested [[...]]
    body = {
        "inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "predict_proba"}],
    }
    out = served.client.post("/v2/models/cancer/versions/1/infer", json=body).json()
    assert [o["name"] for o in out["outputs"]] == ["predict_proba"]


def test_v2_infer_accepts_one_tensor_per_column(served: Served) -> None:
    body = {
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [20, 65]},
            {"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": ["free", "pro"]},
        ]
    }
    out = httpx.post(f"{served.mixed_url}/v2/models/mixed/infer", json=body).json()
    assert out["outputs"][0]["data"] == [0, 1]


def test_predict_with_records_a_single_record_and_a_bare_list(served: Served) -> None:
    model = served.trained.model
    expected = model.predict(served.trained.X[:2]).tolist()
    recs = [record(served.trained, 0), record(served.trained, 1)]
    for body in ({"records": recs}, recs):
        out = served.client.post("/predict", json=body).json()
        assert out["predictions"] == expected
        assert out["model"] == "cancer" and out["version"] == 1 and out["classes"] == [0, 1]
        assert len(out["probabilities"]) == 2 and out["request_id"]
    single = served.client.post("/predict", json=recs[0]).json()
    assert single["predictions"] == expected[:1]


def test_request_ids_are_echoed_or_made(served: Served) -> None:
    r = served.client.post(
        "/predict", json=record(served.trained), headers={"X-Request-ID": "abc-1"}
    )
    assert r.headers["x-request-id"] == "abc-1" and r.json()["request_id"] == "abc-1"
    r = served.client.post(
        "/predict", json=record(served.trained), headers={"X-Request-ID": "bad id\twith spaces"}
    )
    assert r.headers["x-request-id"] != "bad id\twith spaces"


@pytest.mark.parametrize("payload", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_invocations_accepts_mlflow_payloads(served: Served, payload: str) -> None:
    X = served.trained.X[:2]
    body = {
        "dataframe_split": {
            "dataframe_split": {"columns": list(X.columns), "data": X.to_numpy().tolist()}
        },
        "dataframe_records": {"dataframe_records": X.to_dict(orient="records")},
        "instances": {"instances": X.to_numpy().tolist()},
        "inputs": {"inputs": {c: X[c].tolist() for c in X.columns}},
    }[payload]
    out = served.client.post("/invocations", json=body).json()
    assert out["predictions"] == served.trained.model.predict(X).tolist()


def test_invocations_accepts_csv(served: Served) -> None:
    X = served.trained.X[:4]
    r = served.client.post(
        "/invocations", content=X.to_csv(index=False), headers={"content-type": "text/csv"}
    )
    assert r.json()["predictions"] == served.trained.model.predict(X).tolist()


def test_metrics_count_requests_by_model_version_protocol_flavor_and_code(
    served: Served,
) -> None:
    served.client.post("/predict", json=record(served.trained))
    served.client.post("/predict", json={"records": [{"nope": 1}]})
    text = served.client.get("/metrics").text
    flavor = f'flavor="{served.flavor}"'
    labels = 'model="cancer",protocol="predict",version="1"'
    assert f'podium_requests_total{{code="200",{flavor},{labels}}}' in text
    assert f'podium_requests_total{{code="422",{flavor},{labels}}}' in text
    assert f'podium_request_duration_seconds_bucket{{{flavor},le="0.005",{labels}}}' in text
    assert f"podium_predicted_rows_total{{{flavor},{labels}}}" in text
    assert 'podium_model_ready{model="cancer",version="1"} 1.0' in text


def test_every_answer_names_the_flavor_that_answered(served: Served) -> None:
    X = served.trained.X[:2]
    tensor = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 30],
                "datatype": "FP64",
                "data": X.to_numpy().ravel().tolist(),
            }
        ]
    }
    answers = [
        served.client.post("/predict", json={"records": X.to_dict(orient="records")}),
        served.client.post("/v2/models/cancer/infer", json=tensor),
        served.client.post("/v2/models/cancer/versions/1/infer", json=tensor),
        served.client.post("/invocations", json={"instances": X.to_numpy().tolist()}),
        served.client.post(
            "/invocations", content=X.to_csv(index=False), headers={"content-type": "text/csv"}
        ),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.headers["x-podium-flavor"] == served.flavor
    # The mixed-type model has text inputs: no fast path, scikit-learn answers either way.
    mixed = httpx.post(f"{served.mixed_url}/predict", json={"age": 30, "plan": "pro"})
    assert mixed.headers["x-podium-flavor"] == "sklearn"


def test_openapi_documents_every_route(served: Served) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    for route in (
        "/v2/models/{name}/infer",
        "/predict",
        "/invocations",
        "/v2/health/ready",
        "/metrics",
        "/ping",
    ):
        assert route in paths
    assert "requestBody" in paths["/predict"]["post"]


def test_docs_page_loads_every_asset_from_the_server_itself(served: Served) -> None:
    import re

    html = served.client.get("/docs").text
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    refs += re.findall(r"""url: ?["']([^"']+)["']""", html)
    assert refs, html
    assert all(r.startswith("/") for r in refs), refs  # nothing from a CDN or another host
    for ref in refs:
        assert served.client.get(ref).status_code == 200, ref
    assert "http://" not in html and "https://" not in html
