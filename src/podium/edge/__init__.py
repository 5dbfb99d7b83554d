"""Edge deployment: ONNX export checked against the original, and standalone bundles."""

from podium.edge.export import Export, export_onnx

__all__ = ["Export", "export_onnx"]
