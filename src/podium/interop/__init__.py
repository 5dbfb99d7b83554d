"""Interop with other tools' model formats: MLflow's, read and written without mlflow."""

from podium.interop.mlflow import export_mlflow, import_mlflow

__all__ = ["export_mlflow", "import_mlflow"]
