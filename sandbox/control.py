"""A typed client for one emulator's private control routes (`/_sandbox/faults`, `/_sandbox/stats`,
`/_sandbox/clock`): arm and clear fault switches, read and reset call statistics, move the emulator's time forward
(for an emulator in another process; in-process, a test may also move the clock it passed in)."""

from __future__ import annotations

import asyncio
import http

import httpx
import msgspec

from sandbox.clock import ClockAdvance, ClockReading
from sandbox.faults import CLOCK_PATH, FAULTS_PATH, STATS_PATH, FaultSpec, QueuedReply, StatsReport

_JSON = {"content-type": "application/json"}


class SandboxControlError(RuntimeError):
    """A control route answered something other than what it answers on success."""

    def __init__(self, reply: httpx.Response, expected: int) -> None:
        request = reply.request
        super().__init__(f"{request.method} {request.url}: {reply.status_code}, not {expected}: {reply.text}")
        self.reply = reply


class SandboxControl:
    """The control routes of the emulator at `base_url`, over `client` (which the caller owns and closes). With
    `base_url` empty, paths go to the client's own base URL."""

    def __init__(self, client: httpx.AsyncClient, base_url: str = "") -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def arm(self, fault: FaultSpec) -> int:
        """Queue one fault switch; returns how many switches are queued now."""
        reply = await self._client.post(self._base_url + FAULTS_PATH, content=msgspec.json.encode(fault), headers=_JSON)
        _expect(reply, http.HTTPStatus.CREATED)
        return msgspec.json.decode(reply.content, type=QueuedReply).queued

    async def clear_faults(self) -> None:
        """Drop every queued switch (the log of switches already taken stays in the stats)."""
        _expect(await self._client.delete(self._base_url + FAULTS_PATH), http.HTTPStatus.NO_CONTENT)

    async def stats(self) -> StatsReport:
        """Calls per action, poll calls and in-flight high-water mark per job id, switches taken in order."""
        reply = await self._client.get(self._base_url + STATS_PATH)
        _expect(reply, http.HTTPStatus.OK)
        return msgspec.json.decode(reply.content, type=StatsReport)

    async def wait_for_calls(self, action: str, count: int, *, timeout_s: float = 10.0) -> None:
        """Return once the emulator has seen `count` calls of `action` (counted as each arrives, before any delay a
        switch adds): how a test knows its requests are at the provider, on a slow machine as on a fast one."""
        async with asyncio.timeout(timeout_s):
            while True:  # another process's counter: polled over HTTP, there is no event to wait on
                if (await self.stats()).calls.get(action, 0) >= count:
                    return
                await asyncio.sleep(0.01)

    async def reset_stats(self) -> None:
        """Zero the call counters and forget the switches taken."""
        _expect(await self._client.delete(self._base_url + STATS_PATH), http.HTTPStatus.NO_CONTENT)

    async def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clocks `seconds` forward (jobs progress, windows slide, signed URLs age); returns
        the total skew now."""
        body = msgspec.json.encode(ClockAdvance(advance_s=seconds))
        reply = await self._client.post(self._base_url + CLOCK_PATH, content=body, headers=_JSON)
        _expect(reply, http.HTTPStatus.OK)
        return msgspec.json.decode(reply.content, type=ClockReading).offset_s


def _expect(reply: httpx.Response, status: int) -> None:
    if reply.status_code != status:
        raise SandboxControlError(reply, status)
