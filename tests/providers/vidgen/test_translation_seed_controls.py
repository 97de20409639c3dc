"""Vidgen's seed-000 controls beyond the basics: watermark (`wm_*`) and content-credential (`cs_*`) overrides,
2x upscaling, the standalone `optimize` action and why a blocked video was blocked."""

from __future__ import annotations

import pytest

from providers.contract import (
    ContentCredentials,
    ErrorClass,
    ImageData,
    Reply,
    Scene,
    UpstreamProtocolError,
    UpstreamUnavailable,
    WatermarkOverlay,
)
from providers.vidgen import build_optimize, build_submit, parse_optimize, parse_status
from tests.providers.vidgen.conftest import SETTINGS, body_of, fixture_reply, make_request

LOGO = ImageData(mime_type="image/png", data=b"logo", digest="0" * 64)


def test_build_submit_sends_the_seed_multi_scene_example_with_upscale() -> None:
    """Seed 000's multi-scene example (`{ upscale: true }`) is sent as `"upscale": true`."""
    scenes = (
        Scene(prompt="woman walking down a neon-lit street at night, rain reflections"),
        Scene(prompt="close-up of her face looking up, rain drops on skin, slow motion"),
    )
    body = body_of(build_submit(make_request(*scenes, multi_scene=True, upscale=True), SETTINGS))
    assert body["upscale"] is True
    assert [scene["prompt"] for scene in body["scenes"]] == [  # type: ignore[attr-defined]
        "woman walking down a neon-lit street at night, rain reflections",
        "close-up of her face looking up, rain drops on skin, slow motion",
    ]


def test_build_submit_leaves_upscale_and_overrides_out_unless_asked() -> None:
    """Without the controls, no `upscale`, `wm_*` or `cs_*` field is sent (the vendor's defaults apply)."""
    body = body_of(build_submit(make_request(), SETTINGS))
    assert not {key for key in body if key == "upscale" or key.startswith(("wm_", "cs_"))}


def test_build_submit_maps_a_watermark_overlay_to_wm_fields() -> None:
    """Every set overlay field becomes its `wm_*` field; opacity is `wm_transparency`, the image a data URI."""
    overlay = WatermarkOverlay(
        image=LOGO, position="top-left", scale=12, opacity=60, rotation_deg=-45, padding_x=20, padding_y=30
    )
    body = body_of(build_submit(make_request(watermark_overlay=overlay), SETTINGS))
    assert {key: value for key, value in body.items() if key.startswith("wm_")} == {
        "wm_image": "data:image/png;base64,bG9nbw==",
        "wm_position": "top-left",
        "wm_scale": 12,
        "wm_transparency": 60,
        "wm_rotation": -45,
        "wm_padding_x": 20,
        "wm_padding_y": 30,
    }


def test_build_submit_sends_only_the_overlay_fields_that_are_set() -> None:
    """An overlay naming only a position sends `wm_position` alone."""
    body = body_of(build_submit(make_request(watermark_overlay=WatermarkOverlay(position="center")), SETTINGS))
    assert {key: value for key, value in body.items() if key.startswith("wm_")} == {"wm_position": "center"}


def test_build_submit_maps_content_credentials_to_cs_fields() -> None:
    """Content-credential overrides become seed 000's `cs_author` ... `cs_vendor`; unset ones are left out."""
    credentials = ContentCredentials(author="Studio A", title="Harbour", organization="ACME")
    body = body_of(build_submit(make_request(content_credentials=credentials), SETTINGS))
    assert {key: value for key, value in body.items() if key.startswith("cs_")} == {
        "cs_author": "Studio A",
        "cs_title": "Harbour",
        "cs_organization": "ACME",
    }


def test_build_optimize_is_the_seed_curl_example() -> None:
    """The prompt-enhancement call is seed 000's `{"action":"optimize","prompt":...,"model":"scenex"}`."""
    call = build_optimize("woman walking in rain", "scenex", SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/v2", "enhance")
    assert call.headers == {"Authorization": "Bearer sk-test"}
    assert call.json == {"action": "optimize", "prompt": "woman walking in rain", "model": "scenex"}


def test_parse_optimize_reads_the_seed_reply() -> None:
    """Seed 000's optimize reply gives the enhanced prompt."""
    body = (
        b'{"prompt": "elegant woman walking gracefully through a gentle downpour, cobblestone street glistening'
        b' with rain, cinematic lighting, shallow depth of field"}'
    )
    assert parse_optimize(Reply(status_code=200, headers={}, body=body)) == (
        "elegant woman walking gracefully through a gentle downpour, cobblestone street glistening with rain,"
        " cinematic lighting, shallow depth of field"
    )


def test_parse_optimize_enhancement_failed_is_an_unavailable_upstream() -> None:
    """Seed 000's 502 "Enhancement failed" is a provider outage (another provider may answer)."""
    with pytest.raises(UpstreamUnavailable):
        parse_optimize(fixture_reply("error_502_enhancement_failed.json", 502))


def test_parse_optimize_without_a_prompt_is_a_protocol_error() -> None:
    """A 200 with neither `prompt` nor `error` is not a documented reply; the error names the field."""
    with pytest.raises(UpstreamProtocolError, match="`prompt`"):
        parse_optimize(Reply(status_code=200, headers={}, body=b"{}"))


def test_parse_status_blocked_names_the_filter_categories() -> None:
    """Seed 000 "Completed (Blocked)": the failure carries `filter_categories` ["id1", "id2"] in its details."""
    status = parse_status(fixture_reply("status_completed_unsafe.json"))
    assert status.failure is not None
    assert status.failure.error_class is ErrorClass.CONTENT_POLICY
    assert status.failure.details == {"filter_categories": ["id1", "id2"]}


def test_parse_status_blocked_in_meta_names_its_compliance_codes() -> None:
    """A meta marked unsafe carries its `compliance_codes` in the failure's details."""
    body = b'{"status": "COMPLETED", "meta": {"compliance": "unsafe", "compliance_codes": ["C12"], "images": []}}'
    status = parse_status(Reply(status_code=200, headers={}, body=body))
    assert status.failure is not None
    assert status.failure.details == {"compliance_codes": ["C12"]}


def test_an_optimize_reply_with_a_prompt_is_the_prompt_even_beside_an_error() -> None:
    """The enhanced prompt is the answer; an `error` is read only when there is no prompt."""
    reply = Reply(status_code=200, headers={}, body=b'{"prompt": "rain, cinematic", "error": "slow"}')
    assert parse_optimize(reply) == "rain, cinematic"


def test_an_optimize_reply_that_is_not_json_is_a_vidgen_protocol_error() -> None:
    """A proxy's HTML page on the optimize route names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_optimize(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "vidgen"
