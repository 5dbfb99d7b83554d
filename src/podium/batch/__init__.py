"""Batch scoring: files, folders and globs through a registered model, by parts, resumably."""

from podium.batch.job import BatchResult, TooManyErrors, score

__all__ = ["BatchResult", "TooManyErrors", "score"]
