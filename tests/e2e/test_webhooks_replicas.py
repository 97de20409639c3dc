"""Webhooks across replicas and crashes: two gateways on one Redis share the outbox (each delivery sent once), a
replica killed mid-POST leaves its claimed delivery to another after the lease, and re-running the terminal effect
after a crash queues nothing new."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from litestar import Litestar, Request, Response, post

from gateway.config import parse_settings
from gateway.schema.job import JobWebhook, VideoJob, new_job_id
from gateway.store.outbox import MemoryOutbox, Outbox
from gateway.store.outbox_redis import RedisOutbox
from gateway.store.redis import RedisStore
from gateway.webhooks.delivery import WebhookDispatcher
from gateway.webhooks.settings import WebhookSettings
from sandbox.serving import serve_app
from tests.conftest import REDIS_URL, VIDGEN_KEY_ENV, GatewayFactory, auth, gateway_settings, gateway_settings_text
from tests.e2e.processes import gateway_process
from tests.gateway.webhooks.conftest import SECRET_ENV, Receiver, new_secret, wait_delivery, webhook_config


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


class HangingReceiver:
    """The first delivery hangs (its sender is killed meanwhile); later ones are answered 204."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.release = asyncio.Event()

    def app(self) -> Litestar:
        @post("/hook")
        async def hook(request: Request[Any, Any, Any]) -> Response[bytes]:
            self.ids.append(request.headers["webhook-id"])
            if len(self.ids) == 1:
                await self.release.wait()
            return Response(b"", status_code=204)

        return Litestar(route_handlers=[hook], debug=False)


async def test_a_delivery_claimed_by_a_killed_replica_is_sent_by_another_after_the_lease(
    vidgen_url: str,
    vidgen_key: str,
    serve_gateway: GatewayFactory,
    redis_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replica A (an OS process) claims the delivery and is SIGKILLed mid-POST, before recording the attempt;
    replica B claims it once A's lease runs out and delivers it with the same webhook-id (at least once)."""
    secret = new_secret()
    monkeypatch.setenv(SECRET_ENV, secret)
    store_section = f'[store]\nbackend = "redis"\nredis_url = "{REDIS_URL}"\nkey_prefix = "{redis_prefix}"\n'
    text = gateway_settings_text(vidgen_url, extra=webhook_config()).replace(
        "[providers.vidgen]", store_section + "[providers.vidgen]", 1
    )
    receiver = HangingReceiver()
    async with serve_app(receiver.app()) as hook_url:
        env = {VIDGEN_KEY_ENV: vidgen_key, SECRET_ENV: secret}
        async with (
            gateway_process(text, workdir=tmp_path, env=env, name="replica-a") as replica_a,
            httpx.AsyncClient(base_url=replica_a.url, timeout=10) as client,
        ):
            body = {"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook"}}
            created = await client.post("/v1/videos", headers=auth(), json=body)
            assert created.status_code == 202, created.text
            for _ in range(400):
                if receiver.ids:
                    break
                await asyncio.sleep(0.02)
            replica_a.kill()
        assert len(receiver.ids) == 1
        store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
        async with (
            serve_gateway(parse_settings(text), store=store) as url_b,
            httpx.AsyncClient(base_url=url_b, timeout=10) as client,
        ):
            log = await wait_delivery(client, created.json()["id"])
        await store.close()
        receiver.release.set()

    assert receiver.ids == [log["id"], log["id"]]
    assert [a["status_code"] for a in log["attempts"]] == [204]  # A's attempt died with it, unrecorded


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
