"""The OpenAI emulator's account limits and its Azure flavour, each on an emulator of its own: the per-key request
window with `x-ratelimit-*` headers, the `insufficient_quota` 429, and Azure's `api-key` and `api-version`."""

from __future__ import annotations

from sandbox.openai.app import OpenAiEmulatorConfig
from tests.sandbox.openai.conftest import AUTH, KEY, error_of, post_video, running


async def test_the_request_window_counts_down_then_refuses_with_retry_after() -> None:
    """2 creates a minute: the headers count down, the third is a 429 with `retry-after`; a minute on, it passes."""
    config = OpenAiEmulatorConfig(api_keys=frozenset({KEY}), requests_per_minute=2)
    async with running(config) as sandbox:
        first = await post_video(sandbox.client)
        sandbox.clock.advance(15.0)
        second = await post_video(sandbox.client)
        refused = await post_video(sandbox.client)
        sandbox.clock.advance(45.0)
        later = await post_video(sandbox.client)
    assert [first.headers["x-ratelimit-remaining-requests"], second.headers["x-ratelimit-remaining-requests"]] == [
        "1",
        "0",
    ]
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert refused.status_code == 429
    assert (refused.headers["retry-after"], refused.headers["x-ratelimit-reset-requests"]) == ("45", "45s")
    assert error_of(refused)["code"] == "rate_limit_exceeded"
    assert later.status_code == 200


async def test_an_exhausted_account_is_insufficient_quota() -> None:
    """Past the account's allowance a create is the `insufficient_quota` 429."""
    config = OpenAiEmulatorConfig(api_keys=frozenset({KEY}), monthly_videos=1)
    async with running(config) as sandbox:
        accepted = await post_video(sandbox.client)
        refused = await post_video(sandbox.client)
    assert accepted.status_code == 200
    assert refused.status_code == 429
    assert (error_of(refused)["type"], error_of(refused)["code"]) == ("insufficient_quota", "insufficient_quota")


async def test_azure_flavour_takes_api_key_and_api_version() -> None:
    """Under /openai/v1: the `api-key` header and `api-version` query; Bearer auth or a missing version are refused."""
    config = OpenAiEmulatorConfig(api_keys=frozenset({KEY}), flavour="azure", api_version="preview")
    path = "/openai/v1/videos"
    async with running(config) as sandbox:
        accepted = await post_video(sandbox.client, {"api-key": KEY}, path=f"{path}?api-version=preview")
        bearer = await post_video(sandbox.client, AUTH, path=f"{path}?api-version=preview")
        unversioned = await post_video(sandbox.client, {"api-key": KEY}, path=path)
        openai_path = await post_video(sandbox.client, {"api-key": KEY}, path="/v1/videos?api-version=preview")
    assert accepted.status_code == 200
    assert bearer.status_code == 401
    assert error_of(bearer)["code"] == "401"
    assert (unversioned.status_code, error_of(unversioned)["message"]) == (400, "API version not supported")
    assert openai_path.status_code == 404


async def test_azure_rate_limit_also_says_retry_after_ms() -> None:
    """Azure's 429 carries `retry-after-ms` beside `retry-after`."""
    config = OpenAiEmulatorConfig(api_keys=frozenset({KEY}), flavour="azure", requests_per_minute=1)
    async with running(config) as sandbox:
        await post_video(sandbox.client, {"api-key": KEY}, path="/openai/v1/videos")
        refused = await post_video(sandbox.client, {"api-key": KEY}, path="/openai/v1/videos")
    assert refused.status_code == 429
    assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("60", "60000")
