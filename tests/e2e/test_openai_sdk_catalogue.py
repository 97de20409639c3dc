"""The real `openai` SDK, sync and async, against a gateway on the example catalogue over every emulator: gateway
fields sent through `extra_body` in the SDK's multipart create, the SDK's defaults, "never" (400) against "not
now" (503), and download variants a provider did not make."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import openai
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.config import Settings
from gateway.webhooks.settings import WebhookTeam
from routing.headroom.config import HeadroomConfig, WindowConfig
from sandbox.serving import serve_app
from tests.conftest import TEAM_A_KEY, example_settings, serve_sandbox
from tests.conftest import test_keyring as keyring_for_tests
from tests.gateway.metrics.conftest import scrape, value

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    # The SDK marks every videos method deprecated (the Sora API shutdown); that is not what is tested here.
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),
]

POLL_MS = 20
SECRET_ENV = "VIDEO_GATEWAY_TEST_SDK_WEBHOOK_SECRET"
# Any loopback URL will do: the tests read the job's webhook, they do not wait for its delivery.
WEBHOOK_URL = "http://127.0.0.1:9/hooks/video"

Call = Callable[..., Awaitable[Any]]


def _with_webhooks(settings: Settings) -> Settings:
    webhooks = msgspec.structs.replace(
        settings.webhooks, allow_private_hosts=True, teams={"team-a": WebhookTeam(secret_env=SECRET_ENV)}
    )
    return msgspec.structs.replace(settings, webhooks=webhooks)


def _vidgen_one_per_hour(settings: Settings) -> Settings:
    """Vidgen (scenex's one provider) allows one generation an hour: the second scenex create finds it saturated."""
    providers = dict(settings.providers)
    window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=1, per_s=3600),))
    providers["vidgen"] = msgspec.structs.replace(providers["vidgen"], headroom=window)
    return msgspec.structs.replace(settings, providers=providers)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers() -> AsyncIterator[tuple[str, str]]:
    """(gateway, saturating gateway) URLs, both on the example catalogue over one set of emulators."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SECRET_ENV, "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
        async with serve_sandbox(env) as urls:
            settings = _with_webhooks(example_settings(urls))
            async with (
                serve_app(create_app(settings, keyring=keyring_for_tests())) as url,
                serve_app(create_app(_vidgen_one_per_hour(settings), keyring=keyring_for_tests())) as saturating,
            ):
                yield url, saturating


def _videos(url: str, flavour: str, *, max_retries: int = 0) -> Call:
    """`call("create", ...)` on `client.videos` of the sync SDK (run in a thread: the servers share this loop) or
    the async one."""
    options: dict[str, Any] = {"base_url": f"{url}/v1", "api_key": TEAM_A_KEY, "max_retries": max_retries}
    if flavour == "sync":
        sync = openai.OpenAI(timeout=10.0, **options)
        return lambda method, *args, **kwargs: asyncio.to_thread(getattr(sync.videos, method), *args, **kwargs)
    client = openai.AsyncOpenAI(timeout=10.0, **options)
    return lambda method, *args, **kwargs: getattr(client.videos, method)(*args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def videos(request: pytest.FixtureRequest, servers: tuple[str, str]) -> Call:
    return _videos(servers[0], request.param)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/json"])
async def test_extra_body_gateway_fields_reach_the_job_as_multipart_and_as_json(
    videos: Call, content_type: str
) -> None:
    """Metadata, routing (strategy, a provider list, a cost cap), webhook and audio sent as `extra_body` reach the
    job alike in the SDK's multipart create and with its body forced to JSON."""
    extra = {
        "metadata": {"project": "x", "ticket": "T-1"},
        "routing": {"strategy": "fastest", "providers": ["nanogpt", "videogenapi"], "max_cost_usd": 1.5},
        "webhook": {"url": WEBHOOK_URL},
        "audio": {"enabled": True},
    }
    headers = {"Content-Type": content_type}
    created = await videos(
        "create", model="veo-3.1-fast", prompt="a harbour at dusk", extra_body=extra, extra_headers=headers
    )
    fetched = await videos("retrieve", created.id)
    assert fetched.metadata == {"project": "x", "ticket": "T-1"}
    assert fetched.model_extra is not None
    assert fetched.model_extra["routing"]["strategy"] == "fastest"
    # veo-3.1-fast on videogenapi costs 1.99 USD a video, over the 1.5 cap: only NanoGPT (8 s x 0.15 USD) fits.
    assert fetched.model_extra["provider"] == "nanogpt"
    assert fetched.model_extra["webhook"] == {"url": WEBHOOK_URL}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"routing": {"max_cost_usd": "lots"}}, "routing[max_cost_usd]"),
        ({"routing": {"providers": ["Not A Slug"]}}, "routing[providers][0]"),
        ({"routing": {"colour": "red"}}, "routing[colour]"),
        ({"audio": {"enabled": "maybe"}}, "audio[enabled]"),
        ({"webhook": {"url": "ftp://example.com/hook"}}, "webhook[url]"),
    ],
)
async def test_a_bad_extra_body_value_is_a_400_naming_its_bracketed_path(
    videos: Call, extra: dict[str, Any], param: str
) -> None:
    """A mistyped, malformed or unknown nested form field is refused as the JSON body would be, named as sent."""
    with pytest.raises(openai.BadRequestError) as raised:
        await videos("create", prompt="a kite", extra_body=extra)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] == param


async def test_create_with_only_a_prompt_completes_on_the_default_model(videos: Call) -> None:
    """No model, seconds or size (what the SDK sends by default) completes on `default_model` with its defaults."""
    video = await videos("create_and_poll", prompt="a lighthouse in fog", poll_interval_ms=POLL_MS)
    assert video.status == "completed", video.error
    assert (video.model, video.seconds, video.size) == ("scenex", "5", "832x480")


async def test_an_unservable_shape_is_one_non_retryable_400_naming_what_fits(servers: tuple[str, str]) -> None:
    """4 s on scenex (5 s scenes only): a 400 the SDK does not retry, naming the gap and the models that take 4 s."""
    url = servers[0]
    async with httpx.AsyncClient(base_url=url) as plain:
        before = await scrape(plain)
        for flavour in ("sync", "async"):
            videos = _videos(url, flavour, max_retries=2)  # the SDK's default: it retries a 503, never a 400
            with pytest.raises(openai.BadRequestError) as raised:
                await videos("create", prompt="a fox", seconds="4", size="720x1280")
            assert raised.value.code == "unsupported_request"
            assert isinstance(raised.value.body, dict)
            assert raised.value.body["retryable"] is False
            message = raised.value.body["message"]
            assert "vidgen (scenex): 4 s not offered" in message
            assert message.endswith("models that could serve it: sora-2, veo-3, veo-3-fast, veo-3.1-fast")
        after = await scrape(plain)
    refusals = "video_gateway_router_refusals_total"
    unsupported = {"reason": "unsupported_request"}
    assert value(after, refusals, **unsupported) - value(before, refusals, **unsupported) == 2


async def test_a_fitting_but_saturated_provider_is_a_503_with_retry_after(servers: tuple[str, str]) -> None:
    """Vidgen's hourly window spent, scenex fits but cannot run now: 503, retryable, Retry-After within the hour."""
    videos = _videos(servers[1], "async")
    await videos("create", model="scenex", prompt="the first of the hour")
    with pytest.raises(openai.InternalServerError) as raised:
        await videos("create", model="scenex", prompt="the second of the hour")
    assert raised.value.status_code == 503
    assert raised.value.code == "no_provider_available"
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["retryable"] is True
    assert 1 <= int(raised.value.response.headers["retry-after"]) <= 3600


async def test_a_spritesheet_is_a_404_naming_the_variant_and_the_provider(videos: Call) -> None:
    """No provider makes a spritesheet: the SDK's documented variant is a 404, not a 400."""
    video = await videos("create_and_poll", model="scenex", prompt="a paper crane", poll_interval_ms=POLL_MS)
    assert video.status == "completed", video.error
    with pytest.raises(openai.NotFoundError) as raised:
        await videos("download_content", video.id, variant="spritesheet")
    assert raised.value.code == "variant_not_available"
    assert "vidgen made no spritesheet" in raised.value.message


async def test_a_missing_thumbnail_is_a_404_naming_the_provider(servers: tuple[str, str]) -> None:
    """NanoGPT returns no thumbnail: downloading one is a 404 naming `thumbnail` and `nanogpt`, the MP4 still there."""
    videos = _videos(servers[0], "async")
    video = await videos(
        "create_and_poll",
        model="sora-2",
        prompt="a tram in the rain",
        extra_body={"routing": {"providers": ["nanogpt"]}},
        poll_interval_ms=POLL_MS,
    )
    assert video.status == "completed", video.error
    with pytest.raises(openai.NotFoundError) as raised:
        await videos("download_content", video.id, variant="thumbnail")
    assert isinstance(raised.value.body, dict)
    assert (raised.value.body["param"], raised.value.body["provider"]) == ("variant", "nanogpt")
    assert "nanogpt made no thumbnail" in raised.value.message
    assert (await videos("download_content", video.id)).content[4:8] == b"ftyp"
