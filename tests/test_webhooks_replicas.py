"""Webhooks across replicas and crashes: two gateways on one Redis share the outbox (each delivery sent once),
and re-running the terminal effect after a crash queues nothing new."""

from __future__ import annotations

import time

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.jobs import JobWebhook, VideoJob, new_job_id
from gateway.store.outbox import MemoryOutbox, Outbox
from gateway.store.outbox_redis import RedisOutbox
from gateway.store.redis import RedisStore
from gateway.webhooks.delivery import WebhookDispatcher
from gateway.webhooks.settings import WebhookSettings
from providers.sandbox.serving import serve_app
from tests.conftest import REDIS_URL, GatewayFactory, auth, gateway_settings
from tests.webhook_support import SECRET_ENV, Receiver, new_secret, wait_delivery, webhook_config


async def test_two_replicas_on_one_redis_send_each_delivery_once(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both replicas' dispatchers claim from one outbox: six jobs, six deliveries, six distinct webhook-ids."""
    monkeypatch.setenv(SECRET_ENV, new_secret())
    receiver = Receiver()
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    first, second = (RedisStore.from_url(REDIS_URL, prefix=redis_prefix) for _ in range(2))
    async with (
        serve_app(receiver.app()) as hook_url,
        serve_gateway(settings, store=first) as url_a,
        serve_gateway(settings, store=second) as url_b,
        httpx.AsyncClient(timeout=10) as client,
    ):
        ids = []
        for index in range(6):
            base = url_a if index % 2 else url_b
            reply = await client.post(
                f"{base}/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook"}}
            )
            assert reply.status_code == 202, reply.text
            ids.append(reply.json()["id"])
        client.base_url = httpx.URL(url_a)
        logs = [await wait_delivery(client, video_id) for video_id in ids]
    await first.close()
    await second.close()

    assert all(len(log["attempts"]) == 1 for log in logs)
    assert sorted(call.headers["webhook-id"] for call in receiver.calls) == sorted(log["id"] for log in logs)


@pytest.fixture(params=["memory", "redis"])
async def outbox(request: pytest.FixtureRequest, redis_client: aioredis.Redis, redis_prefix: str) -> Outbox:
    if request.param == "memory":
        return MemoryOutbox()
    return RedisOutbox(redis_client, prefix=redis_prefix)


async def test_running_the_terminal_effect_again_queues_nothing_new(outbox: Outbox) -> None:
    """The delivery id derives from the job id: a second run (after a crash before finalized_at) finds the record
    and leaves it, attempts and all; a job without a webhook queues nothing."""
    now = time.time()
    job = VideoJob(
        id=new_job_id(now),
        team="team-a",
        key_id="key-a",
        model="scenex",
        created_at=now,
        updated_at=now,
        status="completed",
        phase="done",
        webhook=JobWebhook(url="https://example.com/hook", content_base="https://gw.example"),
    )
    async with httpx.AsyncClient() as client:
        dispatcher = WebhookDispatcher(
            outbox=outbox, client=client, settings=WebhookSettings(), secrets={}, clock=time.time
        )
        await dispatcher.enqueue(job)
        first = await outbox.claim_due(now + 1, limit=10, lease_s=60)
        await dispatcher.enqueue(msgspec.structs.replace(job, progress=100, version=2))
        await dispatcher.enqueue(msgspec.structs.replace(job, id=new_job_id(now), webhook=None))
        again = await outbox.claim_due(now + 1, limit=10, lease_s=60)

    assert len(first) == 1
    assert again == []  # nothing new queued, and the first one is still leased
    stored = await outbox.get(first[0])
    assert stored is not None
    assert stored.job_id == job.id
    assert msgspec.json.decode(stored.body)["progress"] == 0
    assert msgspec.json.decode(stored.body)["output"] is None
