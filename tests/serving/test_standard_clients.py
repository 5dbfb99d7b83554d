"""A standard Open Inference Protocol v2 client (Triton's) works against podium unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from tests.serving.conftest import Served

httpclient = pytest.importorskip("tritonclient.http")


@pytest.fixture
def triton(served: Served) -> object:
    return httpclient.InferenceServerClient(url=served.url.removeprefix("http://"))


def test_health_and_metadata_through_the_triton_client(triton: object) -> None:
    assert triton.is_server_live()  # type: ignore[attr-defined]
    assert triton.is_server_ready()  # type: ignore[attr-defined]
    assert triton.is_model_ready("cancer")  # type: ignore[attr-defined]
    meta = triton.get_model_metadata("cancer")  # type: ignore[attr-defined]
    assert meta["inputs"][0]["shape"] == [-1, 30]


@pytest.mark.parametrize("binary_output", [False, True])
def test_infer_through_the_triton_client(
    triton: object, served: Served, binary_output: bool
) -> None:
    X = served.trained.X.to_numpy()[:4]
    inp = httpclient.InferInput("input-0", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=False)
    outputs = [
        httpclient.InferRequestedOutput("predict", binary_data=binary_output),
        httpclient.InferRequestedOutput("predict_proba", binary_data=binary_output),
    ]
    result = triton.infer("cancer", [inp], outputs=outputs)  # type: ignore[attr-defined]
    model = served.trained.model
    assert result.as_numpy("predict").tolist() == model.predict(served.trained.X[:4]).tolist()
    np.testing.assert_allclose(
        result.as_numpy("predict_proba"),
        model.predict_proba(served.trained.X[:4]),
        rtol=0,
        atol=served.atol,
    )


def test_binary_tensor_input_is_refused_with_a_hint(triton: object, served: Served) -> None:
    X = served.trained.X.to_numpy()[:1]
    inp = httpclient.InferInput("input-0", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=True)
    with pytest.raises(Exception, match="binary_data=False"):
        triton.infer("cancer", [inp])  # type: ignore[attr-defined]
