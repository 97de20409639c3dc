"""The fal shell over httpx.MockTransport: what goes on the wire for submit, poll (status, then the result once
COMPLETED) and cancel, and how transport errors surface."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from providers.contract import GenerationRequest, ProviderSettings, Scene, UpstreamJob, UpstreamTimeout
from providers.fal import FalProvider

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://queue.fal.run/", api_key="fal-key-id:secret")
WAN = "fal-ai/wan-25-preview/text-to-video"
RID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
JOB = UpstreamJob(provider="fal", upstream_id=RID, upstream_model=WAN)


class FakeFal:
    """Answers each (method, path) with a canned fixture, or raises a transport error; records every request."""

    def __init__(self, routes: dict[tuple[str, str], tuple[int, str] | type[httpx.TransportError]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.routes[(request.method, request.url.path)]
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, name = outcome
        return httpx.Response(status_code, content=(FIXTURES / name).read_bytes())


def over(fake: FakeFal) -> FalProvider:
    return FalProvider(httpx.AsyncClient(transport=httpx.MockTransport(fake)), SETTINGS)


async def test_submit_posts_the_model_input_to_the_queue_with_key_auth() -> None:
    """POST https://queue.fal.run/{model id}, `Authorization: Key ...`, JSON body of the model's own fields."""
    fake = FakeFal({("POST", f"/{WAN}"): (200, "submit.json")})
    job = await over(fake).submit(GenerationRequest(upstream_model=WAN, scenes=(Scene(prompt="a boat"),), seconds=5))
    [sent] = fake.requests
    assert (sent.method, str(sent.url)) == ("POST", "https://queue.fal.run/fal-ai/wan-25-preview/text-to-video")
    assert sent.headers["authorization"] == "Key fal-key-id:secret"
    assert json.loads(sent.content) == {"prompt": "a boat", "duration": "5", "enable_prompt_expansion": False}
    assert job.upstream_id == RID


async def test_a_completed_poll_reads_the_result_under_the_app_id() -> None:
    """A COMPLETED status is followed by GET .../requests/{id} on the app id, whose video is the output."""
    base = f"/fal-ai/wan-25-preview/requests/{RID}"
    fake = FakeFal(
        {("GET", f"{base}/status"): (200, "status_completed.json"), ("GET", base): (200, "result_video.json")}
    )
    status = await over(fake).poll(JOB)
    assert [str(r.url) for r in fake.requests] == [
        f"https://queue.fal.run{base}/status",
        f"https://queue.fal.run{base}",
    ]
    assert status.output is not None
    assert status.output.video_url == "https://v3.fal.media/files/kangaroo/output.mp4"


async def test_a_queued_poll_makes_one_call() -> None:
    """While IN_QUEUE (a 202) the result is not asked for."""
    fake = FakeFal({("GET", f"/fal-ai/wan-25-preview/requests/{RID}/status"): (202, "status_in_queue.json")})
    assert (await over(fake).poll(JOB)).status == "queued"
    assert len(fake.requests) == 1


async def test_cancel_puts_to_the_cancel_url() -> None:
    """Cancel is PUT .../requests/{id}/cancel; CANCELLATION_REQUESTED means it was asked."""
    fake = FakeFal({("PUT", f"/fal-ai/wan-25-preview/requests/{RID}/cancel"): (202, "cancel_202.json")})
    assert await over(fake).cancel(JOB) is True
    assert fake.requests[0].headers["authorization"] == "Key fal-key-id:secret"


@pytest.mark.parametrize(("error", "unknown"), [(httpx.ConnectTimeout, False), (httpx.ReadTimeout, True)])
async def test_timeouts_become_the_timeout_class(error: type[httpx.TransportError], unknown: bool) -> None:
    """A connect timeout never reached fal (outcome known); a read timeout may have been accepted."""
    fake = FakeFal({("POST", f"/{WAN}"): error})
    with pytest.raises(UpstreamTimeout) as raised:
        await over(fake).submit(GenerationRequest(upstream_model=WAN, scenes=(Scene(prompt="a boat"),)))
    assert raised.value.outcome_unknown is unknown
