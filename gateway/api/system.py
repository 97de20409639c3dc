"""Liveness and readiness."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from gateway.errors import StoreUnavailable
from gateway.schema.wire import Health
from gateway.store.base import JobStore


@get("/healthz", summary="Liveness", operation_id="healthz", security=[{}])
async def healthz() -> Health:
    return Health(status="ok")


@get("/readyz", summary="Readiness: store reachable and config loaded", operation_id="readyz", security=[{}])
async def readyz(store: NamedDependency[JobStore]) -> Health:
    if not await store.ping():
        raise StoreUnavailable("the job store does not answer")
    return Health(status="ok", checks={"store": "ok", "config": "loaded"})
