"""The public surface is deliberate: changing it must change this test."""

from __future__ import annotations

import subprocess
import sys

import podium


def test_top_level_exports() -> None:
    assert sorted(podium.__all__) == sorted(
        [
            "Client",
            "ModelRef",
            "ModelVersion",
            "Pipeline",
            "PodiumError",
            "Predictor",
            "RunResult",
            "Settings",
            "Signature",
            "Step",
            "__version__",
            "load",
            "load_data",
            "pipeline",
            "register_data",
            "register_model",
            "step",
        ]
    )
    for name in podium.__all__:
        assert getattr(podium, name) is not None


def test_subpackage_exports() -> None:
    import podium.artifacts
    import podium.pipelines
    import podium.registry
    import podium.serving

    assert sorted(podium.artifacts.__all__) == [
        "ArtifactStore",
        "FsspecArtifactStore",
        "open_store",
    ]
    assert sorted(podium.registry.__all__) == ["Flavor", "Predictor", "Registry"]
    assert sorted(podium.serving.__all__) == [
        "Limits",
        "RunningServer",
        "create_app",
        "create_deployment_app",
        "protect",
        "serve",
        "start_in_thread",
    ]
    assert "pipeline" in podium.pipelines.__all__ and "step" in podium.pipelines.__all__
    assert "deploy" in podium.pipelines.__all__


def test_monitoring_watch_and_batch_exports() -> None:
    import podium.batch
    import podium.monitoring
    import podium.watch

    assert sorted(podium.monitoring.__all__) == [
        "ColumnDrift",
        "DriftReport",
        "DriftSettings",
        "Reference",
        "build",
        "detect",
    ]
    assert sorted(podium.watch.__all__) == ["Monitor", "figures", "snapshot", "watched_model"]
    assert sorted(podium.batch.__all__) == ["BatchResult", "TooManyErrors", "batch_score", "score"]


def test_import_podium_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, podium; heavy = [m for m in ('sqlalchemy', 'sklearn', 'fastapi', 'pandas', "
        "'skops', 'uvicorn', 'alembic', 'numpy') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_interop_exports() -> None:
    import podium.interop

    assert sorted(podium.interop.__all__) == ["export_mlflow", "import_mlflow"]
