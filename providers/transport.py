"""Sends an adapter's `HttpCall` through an injected httpx client; the one place transport errors become
upstream errors. Knows nothing of any provider's body shapes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from providers.aiohttp_pool import PooledClient
from providers.contract import (
    HttpCall,
    ProviderSettings,
    Reply,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

T = TypeVar("T")

CallObserver = Callable[[str, str, str, float], None]
"""(provider, operation, outcome, elapsed_s): lets the gateway meter calls without this layer knowing it."""


def ignore_calls(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
    return None


def upstream_client() -> httpx.AsyncClient:
    """The one client every adapter shares: at most 200 connections, over aiohttp's pool (`PooledClient`)."""
    return PooledClient(httpx.Limits(max_connections=200, max_keepalive_connections=50))


class Transport:
    """One provider's connection: base URL, timeout and the shared client. On a `PooledClient` a call goes to its
    aiohttp pool directly (`AiohttpPool.exchange`) with the client's default headers, the same timeouts and the
    same httpx errors; on any other client (adapter tests' mock transports) through httpx."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        provider: str,
        observe: CallObserver = ignore_calls,
    ) -> None:
        self._client = client
        self._pool = client.pool if isinstance(client, PooledClient) else None
        self._client_headers = dict(client.headers)  # what httpx would add to every request
        self._base_url = settings.base_url.rstrip("/")
        self._timeout = httpx.Timeout(settings.timeout_s)
        self._settings = settings
        self._provider = provider
        self._observe = observe

    async def send(self, call: HttpCall) -> Reply:
        absolute = call.path.startswith(("https://", "http://"))
        url = call.path if absolute else self._base_url + call.path
        headers = dict(call.headers)
        content = call.content
        if call.json is not None:
            content = msgspec.json.encode(call.json)
            headers.setdefault("content-type", "application/json")
        started = time.perf_counter()
        try:
            reply = await self._exchange(call, url, headers, content)
        except httpx.TimeoutException as exc:
            self._observe(self._provider, call.operation, "timeout", time.perf_counter() - started)
            # A connect or pool timeout never reached the provider; anything later may have been accepted.
            unknown = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise UpstreamTimeout(
                f"{self._provider} {call.operation} timed out after {self._settings.timeout_s:g}s",
                provider=self._provider,
                outcome_unknown=unknown,
            ) from exc
        except httpx.TransportError as exc:
            self._observe(self._provider, call.operation, "connection_error", time.perf_counter() - started)
            raise UpstreamUnavailable(
                f"{self._provider} {call.operation} failed: {type(exc).__name__}",
                provider=self._provider,
            ) from exc
        self._observe(self._provider, call.operation, str(reply.status_code), time.perf_counter() - started)
        return reply

    async def _exchange(self, call: HttpCall, url: str, headers: dict[str, str], content: bytes | None) -> Reply:
        if self._pool is not None and not (call.params and "?" in url):  # httpx merges params into a query
            if call.params:
                url = f"{url}?{urlencode(call.params)}"  # as httpx encodes them
            sent = self._client_headers | {name.lower(): value for name, value in headers.items()}
            got = await self._pool.exchange(call.method, url, headers=sent, body=content, timeouts=self._timeout)
            return Reply(status_code=got.status, headers=got.headers, body=got.body)
        response = await self._client.request(
            call.method, url, content=content, params=call.params or None, headers=headers, timeout=self._timeout
        )
        return Reply(status_code=response.status_code, headers=dict(response.headers), body=response.content)


def decode_reply(reply: Reply, wire_type: type[T], *, provider: str) -> T:
    """Decode a vendor body into its wire struct; a body that does not fit is a protocol error."""
    try:
        return msgspec.json.decode(reply.body, type=wire_type)
    except msgspec.DecodeError as exc:
        raise UpstreamProtocolError(
            f"{provider} replied {reply.status_code} with a body that does not match its documents: {exc}",
            provider=provider,
            status_code=reply.status_code,
        ) from exc
