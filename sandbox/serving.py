"""Serve an ASGI app on a loopback socket inside the running event loop (tests, `make run`, benches)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serve_app(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run `app` until the block exits; yields its base URL. Port 0 picks a free port."""
    async with serve_apps({"app": app}, host=host, port=port) as urls:
        yield urls["app"]


@contextlib.asynccontextmanager
async def serve_apps(
    apps: Mapping[str, Any], *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[dict[str, str]]:
    """Run every app until the block exits, each on its own port (port 0: a free one each; another port suits one
    app only); yields name -> base URL. They start together and stop together: one after another, each server's
    shutdown (uvicorn notices it on a 0.1 s tick, then runs the app's lifespan shutdown) would add up."""
    servers = [_Server(app, host, port) for app in apps.values()]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield {name: server.url for name, server in zip(apps, servers, strict=True)}
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


class _Server:
    """One uvicorn server on its own loopback socket, run as a task of the current event loop."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (else ~40 ms per
        # reply on a kept-alive connection, Nagle against delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        # Idle kept-alive connections stay open a minute (uvicorn's default is 5 s): a client reusing one from its
        # pool just as the server closes it gets "Server disconnected without sending a response", which nothing
        # retries.
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_keep_alive=60)
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        task = self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()
