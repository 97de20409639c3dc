"""The webhook retry schedule over hours, driven by the injected clock: each retry waits its own step of
`retry_schedule_s`, is not sent a moment before it is due, and the default schedule is the one the README states."""

from __future__ import annotations

import httpx

from gateway.store.outbox import MemoryOutbox, WebhookDelivery
from gateway.webhooks.delivery import WebhookDispatcher
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.signing import SigningSecret
from sandbox.serving import serve_app
from tests.conftest import FakeClock
from tests.gateway.webhooks.conftest import Receiver

# README "Webhooks": the default `retry_schedule_s`, 5 s … 8 h, about 32 h in all.
README_DEFAULT_SCHEDULE_S = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800]


async def _gaps_until_failed(settings: WebhookSettings) -> tuple[list[float], WebhookDelivery]:
    """Sends one delivery to a receiver that always fails, moving the clock to each retry's due time; returns the
    waits the dispatcher scheduled and the final record. Checks on the way that nothing is claimed early."""
    clock, outbox = FakeClock(), MemoryOutbox()
    receiver = Receiver(fail_first=-1)
    secret = SigningSecret(b"k" * 32)
    gaps: list[float] = []
    async with serve_app(receiver.app()) as hook_url, httpx.AsyncClient() as client:
        dispatcher = WebhookDispatcher(
            outbox=outbox, client=client, settings=settings, secrets={"team-a": secret}, clock=clock
        )
        delivery = WebhookDelivery(
            id="msg_schedule", job_id="job", team="team-a", url=f"{hook_url}/hook", body=b"{}", created_at=clock.now
        )
        await outbox.enqueue(delivery, due_at=clock.now)
        while True:
            claimed = await outbox.claim_due(clock(), limit=10, lease_s=settings.lease_s)
            assert claimed == ["msg_schedule"]
            await dispatcher.attempt("msg_schedule")
            record = await outbox.get("msg_schedule")
            assert record is not None
            if record.next_attempt_at is None:
                return gaps, record
            gaps.append(record.next_attempt_at - clock.now)
            clock.now = record.next_attempt_at - 0.5
            assert await outbox.claim_due(clock(), limit=10, lease_s=settings.lease_s) == []  # not due yet
            clock.now = record.next_attempt_at


async def test_the_default_schedule_waits_5_s_to_8_h_then_fails_the_delivery_after_about_32_h() -> None:
    """With no `retry_schedule_s` configured, the n-th retry waits the n-th step of the README's default
    schedule, and the delivery is failed after its last retry (12 attempts, ~32 h)."""
    gaps, final = await _gaps_until_failed(WebhookSettings(allow_private_hosts=True))

    assert gaps == README_DEFAULT_SCHEDULE_S
    assert 31 * 3600 < sum(gaps) < 33 * 3600
    assert final.state == "failed"
    assert len(final.attempts) == 12


async def test_each_retry_waits_its_own_step_of_a_configured_schedule() -> None:
    """A configured schedule of unequal steps is followed step by step, not by its first or last step."""
    gaps, final = await _gaps_until_failed(WebhookSettings(allow_private_hosts=True, retry_schedule_s=(7, 11, 13)))

    assert gaps == [7, 11, 13]
    assert final.state == "failed"
    assert [a.status_code for a in final.attempts] == [500, 500, 500, 500]
