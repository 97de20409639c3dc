"""videogenapi's seed-002 options beyond the basics: `camera_fixed`, `veo_model` (the offering's configured
variant) and the read-only `GET /v1/user` account check."""

from __future__ import annotations

import pytest

from providers.contract import (
    CapacityReport,
    GenerationRequest,
    HttpCall,
    ImageUrl,
    ProviderSettings,
    Reply,
    Scene,
    UpstreamAuthError,
)
from providers.videogenapi import build_submit, build_user, classify_error, parse_user

SETTINGS = ProviderSettings(base_url="https://videogenapi.test", api_key="lt_test")


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


def test_build_submit_sends_the_seed_image_to_video_example_with_camera_fixed() -> None:
    """Seed 002's image-to-video example sends `camera_fixed: false` as asked."""
    scene = Scene(
        prompt="The dog runs in the park chasing a butterfly",
        image=ImageUrl(url="https://example.com/images/my-dog.jpg"),
    )
    request = GenerationRequest(upstream_model="veo_3", scenes=(scene,), seed=123456, camera_fixed=False)
    body = body_of(build_submit(request, SETTINGS))
    assert body["camera_fixed"] is False
    assert body["image_url"] == "https://example.com/images/my-dog.jpg"


def test_build_submit_sends_the_seed_veo_31_example_with_its_veo_model() -> None:
    """Seed 002's Veo 3.1 two-image example: the offering's variant goes out as `veo_model: "veo3_fast"`."""
    scene = Scene(
        prompt="The scene transitions smoothly from day to night",
        image=ImageUrl(url="https://example.com/day.jpg"),
        end_image=ImageUrl(url="https://example.com/night.jpg"),
    )
    request = GenerationRequest(upstream_model="veo-31", upstream_variant="veo3_fast", scenes=(scene,))
    body = body_of(build_submit(request, SETTINGS))
    assert body["veo_model"] == "veo3_fast"
    assert body["reference_image_urls"] == ["https://example.com/day.jpg", "https://example.com/night.jpg"]


def test_build_submit_sends_neither_option_unless_set() -> None:
    """No `camera_fixed` or `veo_model` is sent when the request and offering set none."""
    request = GenerationRequest(upstream_model="kling_25", scenes=(Scene(prompt="a cat"),))
    assert not {"camera_fixed", "veo_model"} & set(body_of(build_submit(request, SETTINGS)))


def test_build_user_is_a_read_only_get_with_the_bearer_key() -> None:
    """Seed 002 "User Information": `GET /api/v1/user` with the Bearer key."""
    call = build_user(SETTINGS)
    assert (call.method, call.path, call.json) == ("GET", "/api/v1/user", None)
    assert call.headers == {"Authorization": "Bearer lt_test"}


def test_parse_user_reads_the_month_usage() -> None:
    """The `/user` reply's `usage` counters become the month's capacity report."""
    body = (
        b'{"success": true, "user": {"plan": "Unlimited"}, "usage": {"current_month_usage": 7, "monthly_limit": 100}}'
    )
    report = parse_user(Reply(status_code=200, headers={}, body=body))
    assert report == CapacityReport(provider="videogenapi", scope="month", used=7, limit=100, remaining=93)


def test_a_rejected_key_on_user_is_the_auth_class() -> None:
    """A 401 to `/user` classifies as the auth error: the credential check fails loudly."""
    reply = Reply(status_code=401, headers={}, body=b'{"error": "Unauthorized", "message": "Invalid API key"}')
    with pytest.raises(UpstreamAuthError):
        raise classify_error(reply, now_s=0.0)
