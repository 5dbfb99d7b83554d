"""Stable hashing of request keys: the same key lands the same way in every process."""

from __future__ import annotations

import hashlib
import math

_SCALE = float(2**64)


def unit(key: str, salt: str) -> float:
    """A uniform number in (0, 1) for ``key`` under ``salt``; Python's hash() would differ
    from process to process."""
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def weighted_choice(key: str, weights: dict[str, float], salt: str) -> str:
    """The variant ``key`` belongs to, with probability proportional to its weight.

    Weighted rendezvous hashing: each variant draws an exponential score from the key and
    the lowest wins. Raising one variant's weight (others unchanged or lowered) can only
    lower its score relative to the others, so a key already on it never moves away.
    """
    best, best_score = "", math.inf
    for variant, weight in weights.items():
        if weight <= 0:
            continue
        score = -math.log(unit(key, f"{salt}:{variant}")) / weight
        if score < best_score:
            best, best_score = variant, score
    if not best:
        raise ValueError("At least one variant needs a positive weight.")
    return best
