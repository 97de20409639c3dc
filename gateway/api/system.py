"""Liveness and readiness."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from gateway.errors import StoreUnavailable
from gateway.schema.wire import Health
from gateway.store.base import JobStore


@get("/healthz", summary="Liveness", operation_id="healthz", security=[{}])
async def healthz() -> Health:
    """200 while the process serves requests; no key, no dependency checked (a liveness probe)."""
    return Health(status="ok")


@get("/readyz", summary="Readiness: store reachable and config loaded", operation_id="readyz", security=[{}])
async def readyz(store: NamedDependency[JobStore]) -> Health:
    """200 when the job store answers and the config is loaded, else 503 `store_unavailable`; no key (a readiness
    probe: take the replica out of rotation while it fails)."""
    if not await store.ping():
        raise StoreUnavailable("the job store does not answer")
    return Health(status="ok", checks={"store": "ok", "config": "loaded"})
