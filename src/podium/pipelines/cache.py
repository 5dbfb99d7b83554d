"""Step caching: a key from the step's code, parameters, input content and podium version.

A hit reuses the outputs of an earlier execution with the same key. A miss records which
part of the key changed since the step last ran. A parameter that cannot be hashed turns
caching off for that execution (logged and recorded), never a wrong hit. Code is the step
function's own source: a change inside a helper it calls is not seen.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import textwrap
from dataclasses import dataclass
from typing import Any

from podium._version import __version__
from podium.core.records import StepRun
from podium.pipelines.graph import OutputRef

log = logging.getLogger("podium.pipelines")


@dataclass(frozen=True)
class CacheKey:
    key: str | None  # None when caching is off for this execution
    components: dict[str, Any]
    disabled_reason: str | None = None


@functools.lru_cache(maxsize=4096)
def code_hash(fn: Any) -> str:
    """sha256 of the function's source from its ``def`` line (decorators excluded).

    Cached per function object: reading source costs ~50 µs, a step may run thousands of
    times in a process, and a function's source does not change while it lives.
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        lines = source.splitlines()
        start = next(
            (i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def "))),
            0,
        )
        text = "\n".join(lines[start:])
    except (OSError, TypeError):  # defined in a REPL: fall back to the bytecode
        code = fn.__code__
        text = repr((code.co_code, code.co_consts, code.co_names))
    return hashlib.sha256(text.encode()).hexdigest()


def compute(fn: Any, bound: dict[str, Any], digests: dict[str, list[str]], step: str) -> CacheKey:
    """The cache key of one execution; ``digests`` maps upstream steps to output digests."""
    params: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    for name, value in bound.items():
        try:
            if _has_ref(value):
                inputs[name] = _fingerprint(value, digests)
            else:
                params[name] = json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError):
            reason = (
                f"parameter {name!r} is a {type(value).__name__}, which cannot be hashed; "
                "pass it through a step output or as a JSON-able value"
            )
            log.warning("Caching is off for step %r: %s.", step, reason)
            return CacheKey(None, {}, reason)
    components = {"code": code_hash(fn), "params": params, "inputs": inputs, "podium": __version__}
    blob = json.dumps(components, sort_keys=True).encode()
    return CacheKey(hashlib.sha256(blob).hexdigest(), components)


def miss_reason(current: dict[str, Any], previous: StepRun | None) -> str:
    """What changed since the step last ran, in words."""
    if previous is None:
        return "first run of this step"
    before = previous.cache_info.get("components") or {}
    if before.get("podium") != current["podium"]:
        return f"podium version changed ({before.get('podium')} -> {current['podium']})"
    if before.get("code") != current["code"]:
        return "the step's code changed"
    for kind in ("params", "inputs"):
        old, new = before.get(kind, {}), current[kind]
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                word = "parameter" if kind == "params" else "input"
                if kind == "params":
                    return f"{word} {name!r} changed ({old.get(name)!r} -> {new.get(name)!r})"
                return f"{word} {name!r} changed (new content)"
    return "the earlier result is no longer available"


def _has_ref(value: Any) -> bool:
    if isinstance(value, OutputRef):
        return True
    if isinstance(value, list | tuple):
        return any(_has_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_has_ref(v) for v in value.values())
    return False


def _fingerprint(value: Any, digests: dict[str, list[str]]) -> Any:
    if isinstance(value, OutputRef):
        outs = digests.get(value.node, [])
        if value.index is None:
            return outs[0] if outs else None
        return outs[value.index] if value.index < len(outs) else None
    if isinstance(value, list | tuple):
        return [_fingerprint(v, digests) for v in value]
    if isinstance(value, dict):
        return {str(k): _fingerprint(v, digests) for k, v in value.items()}
    return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))  # may raise
