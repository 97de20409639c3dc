"""`GET /v1/videos/{id}` tells a client when to come back, on the gateway's clock: until just after the next
upstream poll, within the README's 0.5 to 60 s."""

from __future__ import annotations

import time

import httpx

from tests.conftest import FakeClock, GatewayFactory, auth, gateway_settings


async def test_the_poll_hint_follows_the_next_poll_between_half_a_second_and_a_minute(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """With the first upstream poll 600 s away (no jitter) the hint is capped at 60 s; 10 s before the poll it is
    those 10 s and a 0.1 s margin; once the poll is overdue it is the 0.5 s floor, never "now"."""
    clock = FakeClock(time.time())
    settings = gateway_settings(vidgen_url, poll_interval_s=600, extra="[providers.vidgen.polling]\njitter = 0.0\n")
    hints: list[tuple[str, str]] = []
    async with (
        serve_gateway(settings, clock=clock, run_poller=False) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post("/v1/videos", json={"prompt": "a slow tide"}, headers=auth())
        assert created.status_code == 202, created.text
        for advance_s in (0, 590, 20):
            clock.advance(advance_s)
            reply = await client.get(f"/v1/videos/{created.json()['id']}", headers=auth())
            hints.append((reply.headers["openai-poll-after-ms"], reply.headers["retry-after"]))

    assert hints == [("60000", "60"), ("10100", "11"), ("500", "1")]
