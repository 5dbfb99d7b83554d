"""What every router shares: the client of the request's app, pages, and bodies."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from podium.client import Client

T = TypeVar("T")
MAX_PAGE = 1000


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


ClientDep = Annotated[Client, Depends(_client)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list; ask for the next with ``offset=next_offset`` until it is null."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


def page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """``items`` fetched with one more than ``limit``: the extra one says a next page exists."""
    more = len(items) > limit
    return {
        "items": items[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


class Body(BaseModel):
    """Request bodies: unknown fields are refused (a typo is not silently ignored)."""

    model_config = ConfigDict(extra="forbid")
