"""The baseline: a bare litestar route returning a small JSON object, nothing else in the request path."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Pong(msgspec.Struct):
    id: str
    object: str
    status: str


@get("/bare")
async def bare() -> Pong:
    return Pong(id="video_0", object="video", status="completed")


def app() -> Litestar:
    return Litestar(route_handlers=[bare], openapi_config=None)
