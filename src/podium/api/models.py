"""Models, versions, aliases and data versions."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from podium.api.deps import Body, ClientDep, Limit, Offset, Page, page
from podium.core.errors import PayloadTooLargeError, ValidationError
from podium.core.names import check_name
from podium.core.records import AliasMove, DataVersion, Model, ModelVersion

router = APIRouter()
MAX_UPLOAD_BYTES = 1 << 30  # data uploads: 1 GiB


class AliasBody(Body):
    version: int


class ReferenceBody(Body):
    """A ``data:/NAME/VERSION`` reference, or rows as ``columns`` and ``data``."""

    data: str | list[list[str | int | float | bool | None]]
    columns: list[str] | None = None


@router.get("/models", tags=["models"], response_model=Page[Model])
def list_models(client: ClientDep, limit: Limit = 100, offset: Offset = 0) -> Any:
    return page(client.list_models(limit=limit + 1, offset=offset), limit, offset)


@router.get("/models/{name}", tags=["models"], response_model=Model)
def get_model(client: ClientDep, name: str) -> Any:
    return client.get_model(name)


@router.get("/models/{name}/versions", tags=["models"], response_model=Page[ModelVersion])
def list_versions(client: ClientDep, name: str, limit: Limit = 100, offset: Offset = 0) -> Any:
    return page(client.list_versions(name, limit=limit + 1, offset=offset), limit, offset)


@router.get("/models/{name}/versions/{ref}", tags=["models"], response_model=ModelVersion)
def get_version(client: ClientDep, name: str, ref: str) -> Any:
    """``ref`` is a version number, an alias, or ``latest``."""
    uri = name if ref == "latest" else f"{name}/{ref}" if ref.isdigit() else f"{name}@{ref}"
    return client.get_version(uri)


@router.get(
    "/models/{name}/versions/{version}/data", tags=["models"], response_model=list[DataVersion]
)
def version_data(client: ClientDep, name: str, version: int) -> Any:
    """The data versions the run that made this version read (and the one it names)."""
    return client.lineage_of(client.get_version(f"{name}/{version}"))


@router.put("/models/{name}/aliases/{alias}", tags=["models"], response_model=ModelVersion)
def set_alias(client: ClientDep, name: str, alias: str, body: AliasBody) -> Any:
    return client.set_alias(name, alias, body.version)


@router.delete("/models/{name}/aliases/{alias}", tags=["models"], status_code=204)
def delete_alias(client: ClientDep, name: str, alias: str) -> Response:
    client.delete_alias(name, alias)
    return Response(status_code=204)


@router.get(
    "/models/{name}/aliases/{alias}/history", tags=["models"], response_model=list[AliasMove]
)
def alias_history(client: ClientDep, name: str, alias: str, limit: Limit = 1000) -> Any:
    return client.alias_history(name, alias, limit=limit)


@router.put("/models/{name}/versions/{version}/reference", tags=["models"])
def set_reference(client: ClientDep, name: str, version: int, body: ReferenceBody) -> Any:
    """The reference profile monitoring compares production with."""
    uri = f"models:/{name}/{version}"
    if isinstance(body.data, str):
        if not body.data.startswith("data:/"):  # never a path or URL for the server to read
            raise ValidationError(
                f"Invalid body field 'data': {body.data[:200]!r} is not a data:/ reference.",
                field="data",
                hint="Send data:/NAME/VERSION, or the rows as 'columns' and 'data'.",
            )
        return client.set_reference(uri, body.data)
    import pandas as pd

    width = len(body.columns) if body.columns is not None else len(body.data[0]) if body.data else 0
    distinct = body.columns is None or len(set(body.columns)) == width
    if not distinct or any(len(row) != width for row in body.data):
        raise ValidationError(
            f"The rows do not make a table of {width} distinct column(s).",
            field="data",
            hint="Send one distinct name a column in 'columns', and that many values a row.",
        )
    return client.set_reference(uri, pd.DataFrame(body.data, columns=body.columns))


@router.get("/data", tags=["data"], response_model=list[DataVersion])
def list_data(
    client: ClientDep,
    name: Annotated[str | None, Query(description="One dataset.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Data versions, newest first: a plain list (ask for one more than a page to know
    whether another follows)."""
    return client.list_data(name, limit=limit, offset=offset)


@router.get("/data/{name}/{version}", tags=["data"], response_model=DataVersion)
def get_data(client: ClientDep, name: str, version: str) -> Any:
    """``version`` is a number or ``latest``."""
    return client.get_data(f"data:/{name}" if version == "latest" else f"data:/{name}/{version}")


@router.post(
    "/data/{name}",
    tags=["data"],
    response_model=DataVersion,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def register_data(
    client: ClientDep,
    request: Request,
    name: str,
    filename: Annotated[str, Query(description="The file's name; its suffix is the format.")],
    format: Annotated[str | None, Query(description="parquet, csv or jsonl.")] = None,
    source: Annotated[
        str | None, Query(max_length=1000, description="Recorded as the source.")
    ] = None,
) -> Any:
    """Upload a file (the raw body) as the next version of dataset ``name``."""
    check_name(name, "dataset name")
    safe = check_name(Path(filename).name or "upload", "filename")
    with tempfile.TemporaryDirectory(prefix="podium-upload-") as tmp:
        path = Path(tmp) / safe
        size = 0
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise PayloadTooLargeError(
                        f"The upload is larger than {MAX_UPLOAD_BYTES:,} bytes.",
                        field="body",
                        hint="Register large data from a path or URL the server can read.",
                        limit=("max_upload_bytes", MAX_UPLOAD_BYTES),
                    )
                f.write(chunk)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(
            client.register_data, str(path), name, format=format, label=source or filename
        )
