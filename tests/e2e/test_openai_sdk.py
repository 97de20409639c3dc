"""The real `openai` SDK against a gateway served on loopback over the Vidgen emulator: the OpenAI video
surface (multipart create, retrieve, poll, list, delete, download) works unchanged."""

from __future__ import annotations

import collections
import contextlib
import secrets
import struct
import zlib
from collections.abc import AsyncIterator

import openai
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY, VIDGEN_KEY_ENV, gateway_settings

# One gateway per emulator speed serves the whole module (starting and stopping a pair costs ~0.4 s).
pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    # The SDK marks every videos method deprecated (the Sora API shutdown); that is not what is tested here.
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),
]


POLL_MS = 20


def _png_1x1() -> bytes:
    """A valid one-pixel PNG, built here so the test needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Team keys: each list test has a team of its own, so the module's shared gateway can hold other jobs.
LIST_PAGES_KEY = "vgk_test_list_pages_" + secrets.token_hex(8)
LIST_AUTO_KEY = "vgk_test_list_auto_" + secrets.token_hex(8)


def _keyring() -> KeyRing:
    teams = {TEAM_A_KEY: "team-a", TEAM_B_KEY: "team-b", LIST_PAGES_KEY: "pages", LIST_AUTO_KEY: "auto"}
    videos = frozenset({"videos"})
    return KeyRing({digest(k): Caller(key_id=t, team=t, scopes=videos) for k, t in teams.items()})


@contextlib.asynccontextmanager
async def _serve(vidgen_key: str, *, queue_s: float, run_s: float) -> AsyncIterator[str]:
    emulator = create_vidgen_emulator(
        VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=queue_s, run_s=run_s)
    )
    async with serve_app(emulator) as vidgen_url:
        app = create_app(gateway_settings(vidgen_url), keyring=_keyring())
        async with serve_app(app) as url:
            yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers() -> AsyncIterator[tuple[str, str]]:
    """(fast, slow) gateway URLs: jobs finish in ~0.3 s on the first and stay running on the second."""
    vidgen_key = "sbx_" + secrets.token_hex(12)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(VIDGEN_KEY_ENV, vidgen_key)
        async with (
            _serve(vidgen_key, queue_s=0.05, run_s=0.25) as fast,
            _serve(vidgen_key, queue_s=600.0, run_s=600.0) as slow,
        ):
            yield fast, slow


@pytest.fixture
def gateway_url(servers: tuple[str, str]) -> str:
    return servers[0]


@pytest.fixture
def slow_gateway_url(servers: tuple[str, str]) -> str:
    return servers[1]


def _client(gateway_url: str, key: str = TEAM_A_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key=key, max_retries=0, timeout=10.0)


@pytest_asyncio.fixture(loop_scope="module")
async def client(gateway_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = _client(gateway_url)
    yield sdk
    await sdk.close()


async def test_sdk_create_returns_a_queued_video_the_sdk_can_retrieve(client: openai.AsyncOpenAI) -> None:
    """A multipart create from the SDK is accepted and the returned id retrieves the same video."""
    created = await client.videos.create(model="scenex", prompt="a lighthouse at dawn, -blurry")
    assert created.object == "video"
    assert created.id.startswith("video_")
    assert created.status in ("queued", "in_progress")
    fetched = await client.videos.retrieve(created.id)
    assert fetched.id == created.id
    assert fetched.model == "scenex"
    assert fetched.prompt == created.prompt


async def test_sdk_create_and_poll_reaches_completed(client: openai.AsyncOpenAI) -> None:
    """`create_and_poll` returns a completed video with progress 100."""
    video = await client.videos.create_and_poll(
        model="scenex", prompt="waves on a pebble beach", poll_interval_ms=POLL_MS
    )
    assert video.status == "completed", video.error
    assert video.progress == 100
    assert video.completed_at is not None


async def test_gateway_sets_poll_after_header_while_the_job_runs(slow_gateway_url: str) -> None:
    """While a job is not terminal, a retrieve carries `openai-poll-after-ms`, which the SDK poll reads."""
    sdk = _client(slow_gateway_url)
    created = await sdk.videos.create(model="scenex", prompt="a slow sunrise")
    raw = await sdk.videos.with_raw_response.retrieve(created.id)
    video = raw.parse()
    await sdk.close()
    assert video.status in ("queued", "in_progress")
    assert int(raw.headers["openai-poll-after-ms"]) > 0
    assert int(raw.headers["retry-after"]) >= 1


async def test_completed_job_has_no_poll_after_header(client: openai.AsyncOpenAI) -> None:
    """Once the job is terminal, the poll hint is gone."""
    video = await client.videos.create_and_poll(model="scenex", prompt="a red kite", poll_interval_ms=POLL_MS)
    raw = await client.videos.with_raw_response.retrieve(video.id)
    assert raw.parse().status == "completed"
    assert "openai-poll-after-ms" not in raw.headers


async def test_sdk_list_pages_give_every_created_id_exactly_once(gateway_url: str) -> None:
    """Following the cursor with a small `limit` visits each of the team's videos once, over several pages."""
    client = _client(gateway_url, LIST_PAGES_KEY)
    created = [(await client.videos.create(model="scenex", prompt=f"scene number {i}")).id for i in range(5)]
    first = await client.videos.list(limit=2)
    pages = 0
    seen: list[str] = []
    async for page in first.iter_pages():
        pages += 1
        assert len(page.data) <= 2
        seen += [video.id for video in page.data]
    await client.close()
    assert pages >= 3
    assert collections.Counter(seen) == collections.Counter(created)


async def test_sdk_list_auto_pagination_matches_created_ids(gateway_url: str) -> None:
    """Iterating the list directly (SDK auto-pagination) yields the created ids, none twice."""
    client = _client(gateway_url, LIST_AUTO_KEY)
    created = {(await client.videos.create(model="scenex", prompt=f"bird {i}")).id for i in range(3)}
    seen = [video.id async for video in client.videos.list(limit=1, order="asc")]
    await client.close()
    assert len(seen) == len(set(seen))
    assert set(seen) == created


async def test_sdk_list_hides_other_teams_videos(gateway_url: str, client: openai.AsyncOpenAI) -> None:
    """A team's listing never contains another team's video."""
    mine = await client.videos.create(model="scenex", prompt="team a only")
    other = _client(gateway_url, TEAM_B_KEY)
    theirs = [video.id async for video in other.videos.list(limit=10)]
    await other.close()
    assert mine.id not in theirs


async def test_sdk_delete_reports_deleted_and_the_job_then_404s(client: openai.AsyncOpenAI) -> None:
    """`delete` returns `deleted=True`, after which retrieving the id raises `NotFoundError`."""
    created = await client.videos.create(model="scenex", prompt="a paper boat")
    deleted = await client.videos.delete(created.id)
    assert deleted.deleted is True
    assert deleted.id == created.id
    with pytest.raises(openai.NotFoundError) as raised:
        await client.videos.retrieve(created.id)
    assert raised.value.status_code == 404


async def test_sdk_download_content_gives_mp4_and_thumbnail_jpeg(client: openai.AsyncOpenAI) -> None:
    """The default variant downloads MP4 bytes and `variant="thumbnail"` downloads JPEG bytes."""
    video = await client.videos.create_and_poll(model="scenex", prompt="rain on a window", poll_interval_ms=POLL_MS)
    assert video.status == "completed", video.error
    mp4 = await client.videos.download_content(video.id)
    assert mp4.content[4:8] == b"ftyp"
    thumbnail = await client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.content[:2] == b"\xff\xd8"


async def test_sdk_download_before_completion_is_a_conflict(slow_gateway_url: str) -> None:
    """Downloading a job that is still running is a 409 (`ConflictError`), not a redirect to nothing."""
    sdk = _client(slow_gateway_url)
    created = await sdk.videos.create(model="scenex", prompt="not yet")
    with pytest.raises(openai.ConflictError) as raised:
        await sdk.videos.download_content(created.id)
    await sdk.close()
    assert raised.value.code == "video_not_ready"


async def test_sdk_image_to_video_with_input_reference_completes(client: openai.AsyncOpenAI) -> None:
    """An `input_reference` PNG upload makes an i2v job that completes."""
    video = await client.videos.create_and_poll(
        model="scenex",
        prompt="the frame comes alive",
        input_reference=("frame.png", _png_1x1(), "image/png"),
        poll_interval_ms=POLL_MS,
    )
    assert video.status == "completed", video.error


async def test_sdk_input_reference_of_wrong_type_is_a_bad_request(client: openai.AsyncOpenAI) -> None:
    """An `input_reference` that is not an image is a 400 naming `input_reference`."""
    with pytest.raises(openai.BadRequestError) as raised:
        await client.videos.create(model="scenex", prompt="x", input_reference=("notes.txt", b"hello", "text/plain"))
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] == "input_reference"


async def test_sdk_seconds_and_size_form_strings_are_parsed(client: openai.AsyncOpenAI) -> None:
    """The SDK's string `seconds` and `size` form fields become the job's length and size."""
    created = await client.videos.create(
        model="scenex",
        prompt="city lights",
        seconds="5",  # type: ignore[arg-type]  # the SDK types only Sora's 4/8/12; scenex makes 5 s scenes
        size="1280x720",
    )
    assert created.seconds == "5"
    assert created.size == "1280x720"


async def test_sdk_bad_key_raises_authentication_error(gateway_url: str) -> None:
    """An unknown key is a 401 the SDK raises as `AuthenticationError`, with the gateway's error code."""
    sdk = _client(gateway_url, "vgk_not_a_real_key_" + secrets.token_hex(8))
    with pytest.raises(openai.AuthenticationError) as raised:
        await sdk.videos.create(model="scenex", prompt="nope")
    await sdk.close()
    assert raised.value.code == "invalid_key"


async def test_sdk_unknown_model_is_a_bad_request(client: openai.AsyncOpenAI) -> None:
    """A model the catalogue lacks is a 400 naming `model`, raised as `BadRequestError`."""
    with pytest.raises(openai.BadRequestError) as raised:
        await client.videos.create(model="sora-2", prompt="a cat")
    assert raised.value.code == "unknown_model"
    assert raised.value.param == "model"
