"""Registering and loading models through the public Python API, on both stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tests.conftest import Trained

import podium
from podium.core.errors import (
    IntegrityError,
    InvalidNameError,
    UnsafeModelError,
    ValidationError,
)
from podium.registry.flavors import JoblibFlavor, PythonFlavor, SkopsFlavor
from podium.workspace import Workspace


class Doubler(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A user's own transformer: not in skops' default trusted set."""

    def fit(self, X: object, y: object = None) -> Doubler:
        return self

    def transform(self, X: object) -> object:
        return np.asarray(X) * 2


class Threshold:
    """Any Python object with predict (the 'python' flavor)."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, X: object) -> object:
        return (np.asarray(X)[:, 0] > self.cut).astype(int)


def test_register_and_load_a_sklearn_model_round_trips_exactly(
    workspace: Workspace, trained: Trained
) -> None:
    mv = podium.register_model(
        trained.model,
        "cancer",
        input_example=trained.X,
        metrics={"accuracy": 0.97},
        tags={"team": "ml"},
        description="reference",
        data="sklearn:breast_cancer",
        alias="champion",
    )
    assert (mv.version, mv.aliases, mv.flavors[0].flavor) == (1, ("champion",), "skops")
    assert mv.metrics == {"accuracy": 0.97}
    assert mv.params["memory"] is None  # scikit-learn hyper-parameters are captured
    assert mv.signature is not None and len(mv.signature["inputs"]) == 30
    assert mv.signature["outputs"] == [{"name": "prediction", "dtype": "int64", "nullable": False}]
    assert mv.input_example is not None and len(mv.input_example["data"]) == 100
    assert mv.reference_output is not None
    assert mv.reference_output["predictions"] == trained.model.predict(trained.X[:100]).tolist()
    for uri in (
        "models:/cancer@champion",
        "cancer@champion",
        "models:/cancer/1",
        "cancer/1",
        "cancer",
    ):
        p = podium.load(uri)
        assert np.array_equal(p.predict(trained.X), trained.model.predict(trained.X))
        assert np.allclose(p.predict_proba(trained.X), trained.model.predict_proba(trained.X))


def test_signature_is_enforced_on_load(workspace: Workspace, trained: Trained) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X)
    p = podium.load("cancer/1")
    assert (
        p.predict(trained.X.to_numpy()[:2]).tolist()
        == trained.model.predict(trained.X[:2]).tolist()
    )
    assert p.predict([dict(trained.X.iloc[0])]).tolist() == [
        trained.model.predict(trained.X[:1])[0]
    ]
    with pytest.raises(ValidationError, match="missing column") as info:
        p.predict(trained.X.drop(columns=["mean radius"]))
    assert info.value.field == "input.mean radius"
    with pytest.raises(ValidationError, match=r"shape \[1, 2\]"):
        p.predict(np.zeros((1, 2)))


def test_model_of_a_user_type_records_and_trusts_exactly_that_type(
    workspace: Workspace, trained: Trained
) -> None:
    model = make_pipeline(Doubler(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        trained.X, trained.y
    )
    mv = podium.register_model(model, "doubled", input_example=trained.X[:5])
    trusted = mv.flavors[0].meta["trusted_types"]
    assert trusted == [f"{__name__}.Doubler"]
    assert (
        podium.load("doubled/1").predict(trained.X[:5]).tolist()
        == model.predict(trained.X[:5]).tolist()
    )


def test_skops_refuses_types_the_registry_did_not_record(trained: Trained) -> None:
    model = make_pipeline(Doubler(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        trained.X, trained.y
    )
    data, meta = SkopsFlavor().save(model)
    with pytest.raises(UnsafeModelError, match="Doubler"):
        SkopsFlavor().load(data, {**meta, "trusted_types": []}, "d" * 64)


@pytest.mark.parametrize("flavor", [JoblibFlavor(), PythonFlavor()])
def test_pickle_flavors_refuse_bytes_whose_hash_was_not_recorded(flavor: object) -> None:
    data, meta = flavor.save(Threshold(0.5))  # type: ignore[attr-defined]
    with pytest.raises(UnsafeModelError, match="not the one the registry recorded"):
        flavor.load(data, meta, "0" * 64)  # type: ignore[attr-defined]


def test_a_swapped_blob_is_never_unpickled(workspace: Workspace) -> None:
    mv = podium.register_model(Threshold(0.5), "cut", flavor="joblib")
    digest = mv.flavors[0].digest
    path = workspace.artifacts.root + f"/sha256/{digest[:2]}/{digest[2:]}"  # type: ignore[attr-defined]
    with open(path, "wb") as fh:
        fh.write(b"cos\nsystem\n(S'echo pwned'\ntR.")  # a pickle that would run a command
    with pytest.raises(IntegrityError):
        podium.load("cut/1")


def test_any_object_with_predict_uses_the_python_flavor(workspace: Workspace) -> None:
    X = pd.DataFrame({"x": [0.1, 0.9]})
    mv = podium.register_model(Threshold(0.5), "cut", input_example=X)
    assert mv.flavors[0].flavor == "python"
    assert podium.load("cut/1").predict(X).tolist() == [0, 1]


def test_registering_something_without_predict_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="no predict") as info:
        podium.register_model(object(), "nope")
    assert info.value.field == "model"


def test_unsafe_names_are_refused_before_anything_is_written(workspace: Workspace) -> None:
    for bad in ("../evil", "/abs", "a/b"):
        with pytest.raises(InvalidNameError):
            podium.register_model(Threshold(0.5), bad)
    with pytest.raises(InvalidNameError):
        podium.register_model(Threshold(0.5), "ok", alias="../champion")
    assert list(workspace.artifacts.digests()) == []


def test_a_model_that_fails_on_its_example_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="failed to predict") as info:
        podium.register_model(LogisticRegression(), "unfitted", input_example=np.zeros((2, 2)))
    assert info.value.field == "input_example"


def test_served_labels_equal_the_models_own_predict(workspace: Workspace, trained: Trained) -> None:
    """A tuned threshold makes predict() differ from the argmax of predict_proba()."""
    from sklearn.model_selection import FixedThresholdClassifier

    base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model = FixedThresholdClassifier(base, threshold=0.9).fit(trained.X, trained.y)
    assert (model.predict(trained.X) != model.predict_proba(trained.X).argmax(axis=1)).any()
    podium.register_model(model, "strict", input_example=trained.X)
    p = podium.load("strict/1")
    labels, proba = p.infer(p.validate(trained.X))
    assert labels == model.predict(trained.X).tolist()
    assert proba is not None and np.allclose(proba, model.predict_proba(trained.X))


def test_an_example_with_dates_and_text_is_stored_as_json(workspace: Workspace) -> None:
    X = pd.DataFrame(
        {"x": [0.2, 0.8], "when": pd.to_datetime(["2026-01-01", "2026-02-01"]), "plan": ["a", "b"]}
    )
    mv = podium.register_model(Threshold(0.5), "dated", input_example=X)
    assert mv.input_example is not None
    assert mv.input_example["data"][0][1].startswith("2026-01-01")
    assert [c["dtype"] for c in mv.signature["inputs"]] == ["float64", "datetime", "string"]


def test_a_data_reference_longer_than_the_store_allows_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError) as info:
        podium.register_model(Threshold(0.5), "cut", data="s3://" + "x" * 300)
    assert info.value.field == "data"


def test_a_registration_cut_while_profiling_its_reference_leaves_no_version(
    workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version and its reference profile are one transaction: a failure (or a kill)
    before it commits leaves no version without its reference, and no alias moved."""
    from podium.monitoring import reference

    podium.register_model(trained.model, "cancer", input_example=trained.X[:5], alias="champion")

    def cut(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed here")

    with monkeypatch.context() as patch:
        patch.setattr(reference, "build", cut)
        with pytest.raises(RuntimeError, match="killed here"):
            podium.register_model(
                trained.model,
                "cancer",
                input_example=trained.X[:5],
                reference_data=trained.X,
                alias="champion",
            )
    client = podium.Client()
    assert [v.version for v in client.list_versions("cancer")] == [1]
    assert client.get_model("cancer").aliases == {"champion": 1}
    mv = podium.register_model(
        trained.model, "cancer", input_example=trained.X[:5], reference_data=trained.X
    )
    assert mv.version == 2  # no gap: the cut registration took no number
    assert workspace.store.models.reference("cancer", 2) is not None


def test_a_tampered_skops_blob_is_refused_on_load(workspace: Workspace, trained: Trained) -> None:
    mv = podium.register_model(trained.model, "cancer", input_example=trained.X[:5])
    digest = mv.flavors[0].digest
    path = workspace.artifacts.root + f"/sha256/{digest[:2]}/{digest[2:]}"  # type: ignore[attr-defined]
    with open(path, "r+b") as fh:  # one flipped byte in the middle of the file
        middle = len(fh.read()) // 2
        fh.seek(middle)
        byte = fh.read(1)[0]
        fh.seek(middle)
        fh.write(bytes([byte ^ 0xFF]))
    with pytest.raises(IntegrityError, match="tampered"):
        podium.load("cancer/1")
