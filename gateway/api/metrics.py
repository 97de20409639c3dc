"""`GET /metrics`: the app's Prometheus registry, for scrapers (not a client route, so not in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from gateway.metrics.registry import Metrics


@get("/metrics", include_in_schema=False)
async def scrape_metrics(request: Request[Any, Any, Any], metrics: NamedDependency[Metrics]) -> Response[bytes]:
    metrics.authorize(request.headers.get("authorization"))
    body, content_type = await metrics.exposition(request.headers.get("accept"))
    # The header as given: litestar would append a second charset to a text/* media type.
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})
