"""The upstream client's own tests run on both event loops it meets: asyncio's (the test suite's, and
`video-gateway run` where uvloop is not installed) and uvloop's (what granian and uvicorn pick when it is)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

BOTH_LOOPS = frozenset({"test_http1.py", "test_aiohttp_pool.py"})


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    del config
    if item.path.name in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}  # the hook may not decline: every other test as before
