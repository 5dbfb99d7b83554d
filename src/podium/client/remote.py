"""The Python API over HTTP: the same methods as :class:`podium.Client`, answered by a
``podium server`` (the control API) instead of a store this process opens itself.

``Client()`` returns one when ``$PODIUM_URL`` is set (and ``$PODIUM_TOKEN`` carries the
bearer token when the server has ``--auth``), so the CLI and scripts move between a laptop
store and a team server without a change. Records come back as the same dataclasses and
errors as the same exception classes, with the same messages and hints.

>>> client = RemoteClient("http://127.0.0.1:8700")  # doctest: +SKIP
>>> client.set_alias("churn", "champion", 3).version  # doctest: +SKIP
3
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Hashable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from podium.core.context import current_actor
from podium.core.errors import ConfigError, PodiumError, StoreError, error_from_dict
from podium.core.names import ModelRef, check_name
from podium.core.records import (
    AliasMove,
    ApprovalRequest,
    AuditRecord,
    DataVersion,
    Deployment,
    DeploymentEvent,
    Event,
    Model,
    ModelVersion,
    Run,
    Schedule,
    ScheduleFire,
)
from podium.core.tokens import TokenRecord

__all__ = ["TOKEN_ENV", "URL_ENV", "RemoteClient"]

URL_ENV = "PODIUM_URL"
TOKEN_ENV = "PODIUM_TOKEN"
PREFIX = "/api/v1"
T = TypeVar("T")


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _as(kind: type[T], data: Any) -> T:
    result: T = _adapter(cast(Hashable, kind)).validate_python(data)
    return result


def _seg(value: str, kind: str = "name") -> str:
    """One path segment, escaped. The server checks names; one that cannot even travel as a
    segment (a '/', only dots, empty) is refused here with the error the store would give."""
    text = str(value)
    if not text or "/" in text or "\\" in text or set(text) <= {"."}:
        check_name(text, kind)
    return quote(text, safe="")


def _aware(at: datetime) -> datetime:
    """A time as the store reads it: without a zone, UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _retention_path(kind: str, name: str) -> str:
    """The policy's path; its name is checked as the store does (a model name, ...)."""
    what = "deployment name" if kind == "predictions" else f"{kind} name"
    return f"/retention/{_seg(kind, 'retention kind')}/{_seg(name, what)}"


def _rows(rows: list[dict[str, Any]], *times: str) -> list[dict[str, Any]]:
    """Store rows as the local client returns them: their times as datetimes again."""
    for row in rows:
        for key in times:
            if isinstance(row.get(key), str):
                row[key] = datetime.fromisoformat(row[key])
    return rows


class RemoteClient:
    """A client of the control API at ``url``.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8700`` (default ``$PODIUM_URL``).
        token: a bearer token (default ``$PODIUM_TOKEN``), needed when the server has auth on.
        timeout: seconds to wait for an answer.
    """

    def __init__(
        self, url: str | None = None, *, token: str | None = None, timeout: float = 60.0
    ) -> None:
        url = (url or os.environ.get(URL_ENV, "")).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{URL_ENV} must be an http(s) URL of a podium server, got {url!r}.",
                hint="E.g. PODIUM_URL=http://127.0.0.1:8700 after `podium server`.",
            )
        self.url = url
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        # The actor counts only on a server without auth; with auth, the token's name does.
        headers = {"x-podium-actor": current_actor()}
        if token:
            headers["authorization"] = f"Bearer {token.strip()}"
        self._http = httpx.Client(base_url=url + PREFIX, headers=headers, timeout=timeout)
        weakref.finalize(self, self._http.close)  # CLI commands make one client each

    def __repr__(self) -> str:
        return f"RemoteClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    # -- the wire ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(
                f"Cannot reach the podium server at {self.url}: {type(exc).__name__}: {exc}.",
                hint=f"Start one with `podium server`, or check {URL_ENV} (unset it to use "
                "the local store).",
            ) from None
        if r.status_code == 204:
            return None
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.is_success:
            return body if body is not None else r.text
        if isinstance(body, dict) and "error" in body:
            raise error_from_dict(body, r.status_code)
        raise PodiumError(
            f"The podium server at {self.url} answered {r.status_code} to {method} {path}.",
            hint="Check that PODIUM_URL points at `podium server` (not at a model server).",
        )

    def _pages(self, path: str, limit: int, offset: int, **params: Any) -> list[Any]:
        """Every item of a paged list from ``offset``, up to ``limit`` items."""
        items: list[Any] = []
        while len(items) < limit:
            want = min(limit - len(items), 1000)
            got = self._call("GET", path, params={**params, "limit": want, "offset": offset})
            items += got["items"]
            if got["next_offset"] is None:
                break
            offset = got["next_offset"]
        return items

    @staticmethod
    def _local_only(what: str) -> PodiumError:
        return ConfigError(
            f"{what} needs direct access to the store; this client talks to {URL_ENV}.",
            hint=f"Run it where the store is (unset {URL_ENV}), e.g. inside a pipeline step.",
        )

    # -- models ------------------------------------------------------------------------------
    def register_model(self, *args: Any, **kwargs: Any) -> ModelVersion:
        """Not over HTTP: a model is registered where it was trained (a pipeline run)."""
        raise self._local_only("Registering a model")

    def load(self, uri: str, *, flavor: str | None = None) -> Any:
        raise self._local_only("Loading a model")

    def get_version(self, uri: str) -> ModelVersion:
        ref = ModelRef.parse(uri)
        which = ref.alias or (str(ref.version) if ref.version else "latest")
        return _as(
            ModelVersion, self._call("GET", f"/models/{_seg(ref.name)}/versions/{_seg(which)}")
        )

    def get_model(self, name: str) -> Model:
        return _as(Model, self._call("GET", f"/models/{_seg(name)}"))

    def list_models(self, *, limit: int = 100, offset: int = 0) -> list[Model]:
        return _as(list[Model], self._pages("/models", limit, offset))

    def list_versions(self, name: str, *, limit: int = 100, offset: int = 0) -> list[ModelVersion]:
        items = self._pages(f"/models/{_seg(name)}/versions", limit, offset)
        return _as(list[ModelVersion], items)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        body = {"version": version}
        path = f"/models/{_seg(name, 'model name')}/aliases/{_seg(alias, 'alias')}"
        return _as(ModelVersion, self._call("PUT", path, json=body))

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", f"/models/{_seg(name, 'model name')}/aliases/{_seg(alias, 'alias')}")

    def alias_history(self, name: str, alias: str, *, limit: int = 1000) -> list[AliasMove]:
        path = f"/models/{_seg(name, 'model name')}/aliases/{_seg(alias, 'alias')}/history"
        return _as(list[AliasMove], self._call("GET", path, params={"limit": limit}))

    def set_reference(self, uri: str, data: Any) -> dict[str, Any]:
        """``data``: a ``data:/`` reference, a DataFrame, or a local CSV/Parquet/JSONL file."""
        mv = self.get_version(uri)
        if isinstance(data, str) and data.startswith("data:/"):
            body: dict[str, Any] = {"data": data}
        else:
            import pandas as pd

            if isinstance(data, str | Path):
                from podium.data import read_table

                data = read_table(data)
            frame = pd.DataFrame(data)
            body = {"columns": [str(c) for c in frame.columns], "data": frame.to_numpy().tolist()}
        path = f"/models/{_seg(mv.model)}/versions/{mv.version}/reference"
        result: dict[str, Any] = self._call("PUT", path, json=body)
        return result

    # -- data --------------------------------------------------------------------------------
    def register_data(
        self, source: Any, name: str, *, format: str | None = None, label: str | None = None
    ) -> DataVersion:
        """Upload a local file (or a DataFrame, as Parquet) as the next version of ``name``."""
        import pandas as pd

        if isinstance(source, pd.DataFrame):
            with tempfile.TemporaryDirectory(prefix="podium-") as tmp:
                path = Path(tmp) / "frame.parquet"
                source.to_parquet(path, index=False)
                return self._upload(path, name, "parquet", label or "<DataFrame>")
        from podium.data.versions import local_file

        # Checked and fetched here, as the local client does (the same errors); a URL is
        # read with this machine's credentials, then uploaded.
        with local_file(source, format) as (path, fmt, text):
            return self._upload(path, name, fmt, label or text)

    def _upload(self, path: Path, name: str, format: str | None, label: str) -> DataVersion:
        params = {"filename": path.name, "format": format, "source": label}
        with path.open("rb") as f:
            got = self._call(
                "POST",
                f"/data/{_seg(name)}",
                params=params,
                content=f,
                headers={"content-type": "application/octet-stream"},
            )
        return _as(DataVersion, got)

    def lineage_of(self, mv: ModelVersion) -> list[DataVersion]:
        got = self._call("GET", f"/models/{_seg(mv.model)}/versions/{mv.version}/data")
        return _as(list[DataVersion], got)

    def load_data(self, ref: str) -> Any:
        raise self._local_only("Loading data")

    def get_data(self, ref: str) -> DataVersion:
        from podium.core.names import DataRef

        parsed = DataRef.parse(ref)
        which = str(parsed.version) if parsed.version else "latest"
        return _as(DataVersion, self._call("GET", f"/data/{_seg(parsed.name)}/{which}"))

    def list_data(
        self, name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DataVersion]:
        got = self._call("GET", "/data", params={"name": name, "limit": limit, "offset": offset})
        return _as(list[DataVersion], got)

    def lineage(self, ref: str, *, direction: str = "both", depth: int | None = None) -> Any:
        from podium.registry.lineage import Lineage

        params = {"ref": ref, "direction": direction, "depth": depth}
        return Lineage.from_dict(self._call("GET", "/lineage", params=params))

    # -- runs, schedules, events, retention --------------------------------------------------
    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        filters = {"pipeline": pipeline, "status": status, "trigger": trigger}
        items = self._pages("/runs", limit, offset, **filters)
        return _as(list[Run], items)

    def get_run(self, run_id: str) -> Run:
        return _as(Run, self._call("GET", f"/runs/{_seg(run_id)}"))

    def pipelines(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self._call("GET", "/pipelines")
        for p in got:
            p["last_run"] = _as(Run, p["last_run"]) if p["last_run"] else None
        return got

    def load_artifact(self, artifact_id: str) -> Any:
        raise self._local_only("Loading an artifact")

    def recover_crashed_runs(self) -> list[str]:
        """Nothing to do here: the server recovers crashed runs before it lists them."""
        return []

    def add_schedule(self, pipeline_ref: str, **options: Any) -> Schedule:
        body = {"pipeline_ref": pipeline_ref, **options}
        if body.get("params") is None:
            body["params"] = {}
        return _as(Schedule, self._call("POST", "/schedules", json=body))

    def list_schedules(self) -> list[Schedule]:
        return _as(list[Schedule], self._call("GET", "/schedules"))

    def schedule_fires(self, name: str) -> list[ScheduleFire]:
        return _as(list[ScheduleFire], self._call("GET", f"/schedules/{_seg(name)}/fires"))

    def pause_schedule(self, name: str) -> Schedule:
        return _as(Schedule, self._call("POST", f"/schedules/{_seg(name)}/pause"))

    def resume_schedule(self, name: str) -> Schedule:
        return _as(Schedule, self._call("POST", f"/schedules/{_seg(name)}/resume"))

    def remove_schedule(self, name: str) -> None:
        self._call("DELETE", f"/schedules/{_seg(name)}")

    def emit_event(self, name: str, payload: dict[str, Any] | None = None) -> Event:
        body = {"name": name, "payload": payload or {}}
        return _as(Event, self._call("POST", "/events", json=body))

    def set_retention(
        self, kind: str, name: str, *, keep_last: int | None = None, max_age_s: float | None = None
    ) -> dict[str, Any]:
        body = {"keep_last": keep_last, "max_age_s": max_age_s}
        result: dict[str, Any] = self._call("PUT", _retention_path(kind, name), json=body)
        return result

    def retention_policies(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/retention")
        return result

    def remove_retention(self, kind: str, name: str) -> None:
        self._call("DELETE", _retention_path(kind, name))

    # -- deployments -------------------------------------------------------------------------
    def deploy(self, source: Any) -> Deployment:
        """A spec, a dict shaped like the YAML, or a local YAML file (checked here first)."""
        from podium.deploy.spec import DeploymentSpec, load_file, parse

        if isinstance(source, str | Path):
            source = load_file(source)
        if isinstance(source, dict):
            source = parse(source)
        if not isinstance(source, DeploymentSpec):
            raise ConfigError(f"Cannot deploy a {type(source).__name__}.", hint="Pass a spec.")
        body = {"spec": source.model_dump(mode="json", exclude_unset=True)}
        return _as(Deployment, self._call("POST", "/deployments", json=body))

    def deploy_model(self, uri: str, name: str) -> Deployment:
        body = {"model": uri, "name": name}
        return _as(Deployment, self._call("POST", "/deployments", json=body))

    def get_deployment(self, name: str) -> Deployment:
        return _as(Deployment, self._call("GET", f"/deployments/{_seg(name)}"))

    def list_deployments(self) -> list[Deployment]:
        return _as(list[Deployment], self._call("GET", "/deployments"))

    def deployment_status(self, name: str, *, window: int = 10_000) -> dict[str, Any]:
        path = f"/deployments/{_seg(name)}/status"
        result: dict[str, Any] = self._call("GET", path, params={"window": window})
        return result

    def deployment_history(self, name: str) -> list[DeploymentEvent]:
        got = self._call("GET", f"/deployments/{_seg(name)}/history")
        return _as(list[DeploymentEvent], got)

    def _act(self, name: str, action: str) -> Deployment:
        return _as(Deployment, self._call("POST", f"/deployments/{_seg(name)}/{action}"))

    def promote(self, name: str) -> Deployment:
        return self._act(name, "promote")

    def rollback(self, name: str) -> Deployment:
        return self._act(name, "rollback")

    def pause(self, name: str) -> Deployment:
        return self._act(name, "pause")

    def resume(self, name: str) -> Deployment:
        return self._act(name, "resume")

    def set_traffic(self, name: str, shares: dict[str, float]) -> Deployment:
        path = f"/deployments/{_seg(name)}/traffic"
        return _as(Deployment, self._call("PUT", path, json={"shares": shares}))

    def flags(self, name: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/deployments/{_seg(name)}/flags")
        return result

    def set_flag(
        self,
        name: str,
        flag: str,
        *,
        enabled: bool | None = None,
        percent: float | None = None,
        kill: bool | None = None,
    ) -> Deployment:
        body = {"enabled": enabled, "percent": percent, "kill": kill}
        path = f"/deployments/{_seg(name)}/flags/{_seg(flag)}"
        return _as(Deployment, self._call("PATCH", path, json=body))

    # -- monitoring --------------------------------------------------------------------------
    def monitor_snapshot(
        self, name: str, *, rows: int | None = None, minutes: float | None = None
    ) -> dict[str, Any]:
        params = {"rows": rows, "minutes": minutes}
        result: dict[str, Any] = self._call(
            "GET", f"/deployments/{_seg(name)}/monitor", params=params
        )
        return result

    def monitor_report(
        self, name: str, *, rows: int | None = None, minutes: float | None = None
    ) -> dict[str, Any]:
        params = {"rows": rows, "minutes": minutes}
        result: dict[str, Any] = self._call(
            "GET", f"/deployments/{_seg(name)}/report", params=params
        )
        return result

    def retraining_loops(self) -> list[dict[str, Any]]:
        return _rows(self._call("GET", "/loops"), "started_at", "updated_at")

    def alerts(self, deployment: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        params = {"deployment": deployment, "limit": limit}
        return _rows(self._call("GET", "/alerts", params=params), "at")

    # -- audit and tokens --------------------------------------------------------------------
    def audit(
        self,
        *,
        target: str | None = None,
        target_prefix: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        params = {
            "target": target,
            "target_prefix": target_prefix,
            "actor": actor,
            "action": action,
            "since": _aware(since).isoformat() if since else None,
            "limit": limit,
            "offset": offset,
        }
        return _as(list[AuditRecord], self._call("GET", "/audit", params=params))

    def create_token(
        self, name: str, role: str, *, expires_in_s: float | None = None
    ) -> tuple[TokenRecord, str]:
        body = {"name": name, "role": role, "expires_in_s": expires_in_s}
        got = self._call("POST", "/tokens", json=body)
        return _as(TokenRecord, got["token"]), str(got["secret"])

    def list_tokens(self) -> list[TokenRecord]:
        return _as(list[TokenRecord], self._call("GET", "/tokens"))

    def revoke_token(self, name: str) -> TokenRecord:
        return _as(TokenRecord, self._call("POST", f"/tokens/{_seg(name)}/revoke"))

    # -- policies and approvals --------------------------------------------------------------
    def set_policy(
        self,
        kind: str,
        name: str,
        *,
        protected_aliases: list[str] | None = None,
        approver_role: str | None = None,
        gates: list[str] | None = None,
        allow_self_approval: bool = False,
    ) -> dict[str, Any]:
        body = {
            "protected_aliases": protected_aliases,
            "approver_role": approver_role,
            "gates": gates,
            "allow_self_approval": allow_self_approval,
        }
        path = f"/policies/{_seg(kind, 'kind')}/{_seg(name)}"
        result: dict[str, Any] = self._call("PUT", path, json=body)
        return result

    def get_policy(self, kind: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/policies/{_seg(kind, 'kind')}/{_seg(name)}")
        return result

    def list_policies(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/policies")
        return result

    def delete_policy(self, kind: str, name: str) -> None:
        self._call("DELETE", f"/policies/{_seg(kind, 'kind')}/{_seg(name)}")

    def approval_requests(
        self, *, status: str | None = None, target: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        params = {"status": status, "target": target, "limit": limit}
        return _as(list[ApprovalRequest], self._call("GET", "/approvals", params=params))

    def approve(self, request_id: str) -> ApprovalRequest:
        got = self._call("POST", f"/approvals/{_seg(request_id, 'request id')}/approve")
        return _as(ApprovalRequest, got)

    def reject(self, request_id: str, reason: str = "") -> ApprovalRequest:
        path = f"/approvals/{_seg(request_id, 'request id')}/reject"
        return _as(ApprovalRequest, self._call("POST", path, json={"reason": reason}))
