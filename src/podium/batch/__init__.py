"""Batch scoring: files, folders and globs through a registered model, by parts, resumably."""

from podium.batch.job import BatchResult, TooManyErrors, score
from podium.batch.step import batch_score

__all__ = ["BatchResult", "TooManyErrors", "batch_score", "score"]
