"""The source of a remix or edit is handed over as a link that works: one that has expired is renewed with one
status call before the target provider is asked (here VideoGen restyling its own clip, whose link lives 1 s), and
a repeat of the request with its Idempotency-Key answers the job the first one made, however its link changed."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from gateway.config import Settings
from gateway.store.memory import MemoryStore
from providers.contract import Capabilities
from tests.conftest import GatewayFactory, auth, wait_terminal
from tests.gateway.videos.test_assets import completed_video, status_calls, until_dead, videogen, videogen_settings


def restyling(settings: Settings) -> Settings:
    """The test catalogue's videogen-clip, also taking edits through VideoGen's upload flow."""
    model = settings.models["videogen-clip"]
    [offering] = model.offerings
    caps = msgspec.structs.replace(
        offering.capabilities, video_operations=frozenset({"edit"}), video_transports=frozenset({"upload"})
    )
    offering = msgspec.structs.replace(offering, capabilities=Capabilities(**msgspec.structs.asdict(caps)))
    models = {"videogen-clip": msgspec.structs.replace(model, offerings=(offering,))}
    return msgspec.structs.replace(settings, models=models)


async def test_an_expired_source_link_is_renewed_and_a_replay_answers_the_same_job(
    monkeypatch: pytest.MonkeyPatch, serve_gateway: GatewayFactory
) -> None:
    """Edit of a video whose link has died: one status call renews it, the edit completes, and the same
    Idempotency-Key again is a replay of that job."""
    store = MemoryStore()
    async with videogen(monkeypatch, ttl_s=1) as control:
        settings = restyling(videogen_settings(str(control.base_url)))
        async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url) as client:
            source_id = await completed_video(client)
            source = await store.get(source_id)
            assert source is not None
            assert source.output is not None
            await until_dead(source.output.video_url)
            calls = await status_calls(control)
            body = {"prompt": "as a watercolour", "video": {"id": source_id}}
            headers = auth() | {"Idempotency-Key": "restyle-1"}
            first = await client.post("/v1/videos/edits", json=body, headers=headers)
            renewals = await status_calls(control) - calls
            done = await wait_terminal(client, first.json()["id"])
            again = await client.post("/v1/videos/edits", json=body, headers=headers)
        renewed = await store.get(source_id)
        edit = await store.get(first.json()["id"])

    assert first.status_code == 202, first.text
    assert renewals == 1
    assert renewed is not None
    assert renewed.output is not None
    assert renewed.output.video_url != source.output.video_url
    assert (done["status"], done["remixed_from_video_id"]) == ("completed", source_id)
    assert (again.status_code, again.json()["id"], again.headers["Idempotent-Replayed"]) == (202, done["id"], "true")
    assert edit is not None
    assert edit.source is not None
    assert source.upstream is not None
    assert (edit.source.video_id, edit.source.upstream_id) == (source_id, source.upstream.upstream_id)
