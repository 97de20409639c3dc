"""Pure NanoGPT translation: canonical requests into submit bodies, and §4.4/§4.5 replies (both status
shapes) through parse_submit, parse_balance and parse_status."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contract import (
    Audio,
    CapacityReport,
    ContentCredentials,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    HttpCall,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    ProviderSettings,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
)
from providers.nanogpt import build_poll, build_submit, parse_balance, parse_status, parse_submit

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://nano-gpt.test", api_key="sk-nano-test")
START = ImageData(mime_type="image/png", data=b"start", digest="0" * 64)
END = ImageData(mime_type="image/jpeg", data=b"end", digest="1" * 64)
START_URL = ImageUrl(url="https://img.test/start.png")
# Seed 003: `imageDataUrl` is "Recommended for private assets or files larger than 4 MB".
OVER_4_MB = ImageData(mime_type="image/png", data=b"\0" * (4 * 1024 * 1024 + 1), digest="3" * 64)
JOB = UpstreamJob(provider="nanogpt", upstream_id="vid_m1abc123def456", upstream_model="sora-2")


def fixture_reply(name: str, status_code: int = 200) -> Reply:
    return Reply(status_code=status_code, headers={}, body=(FIXTURES / name).read_bytes())


def make_request(model: str = "veo3-1-video", scene: Scene | None = None, **fields: object) -> GenerationRequest:
    chosen = scene or Scene(prompt="ocean waves")
    return GenerationRequest(upstream_model=model, scenes=(chosen,), **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


# ------------------------------------------------------------------------------------------------ build


def test_build_poll_gets_unified_status_by_request_id_with_x_api_key() -> None:
    """A poll is GET /api/video/status?requestId=<runId> with the key in `x-api-key` and no model."""
    call = build_poll(JOB, SETTINGS)
    assert (call.method, call.path, call.operation) == ("GET", "/api/video/status", "status")
    assert call.params == {"requestId": "vid_m1abc123def456"}
    assert call.headers == {"x-api-key": "sk-nano-test"}
    assert call.json is None


def test_build_submit_minimal_t2v_sends_only_model_and_prompt() -> None:
    """A bare t2v request is a POST to /api/generate-video carrying just `model` and `prompt`."""
    call = build_submit(make_request(), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/generate-video", "generate")
    assert call.headers == {"x-api-key": "sk-nano-test"}
    assert call.json == {"model": "veo3-1-video", "prompt": "ocean waves"}


def test_build_submit_sends_every_used_field_with_string_duration() -> None:
    """Negatives, duration (a string), shape, seed, audio and enhancement all land under their §4.3 names."""
    scene = Scene(prompt="ocean waves", negative_terms=("blurry", "low quality"))
    request = make_request(
        scene=scene,
        seconds=8,
        dimensions=Dimensions(width=1920, height=1080),
        seed=42,
        audio=Audio(),
        enhance_prompt=True,
    )
    assert body_of(build_submit(request, SETTINGS)) == {
        "model": "veo3-1-video",
        "prompt": "ocean waves",
        "negative_prompt": "blurry, low quality",
        "duration": "8",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
        "seed": 42,
        "generateAudio": True,
        "enhancePrompt": True,
    }


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("kling-v25-turbo-pro", {"duration": "10"}),
        ("sora-2", {"seconds": "12"}),
        ("veo2-video", {"duration": "5s"}),
    ],
)
def test_build_submit_names_the_duration_per_model(model: str, fields: dict[str, str]) -> None:
    """Most models take `duration`; Sora takes `seconds`; veo2-video writes "5s"; always strings."""
    seconds = int(next(iter(fields.values())).removesuffix("s"))
    body = body_of(build_submit(make_request(model, seconds=seconds), SETTINGS))
    assert {key: body[key] for key in fields} == fields
    assert not {"duration", "seconds"} - set(fields) & set(body)


def test_build_submit_takes_the_scene_length_when_the_request_has_none() -> None:
    """A scene's own `seconds` becomes the duration when the request gives no total."""
    body = body_of(build_submit(make_request(scene=Scene(prompt="x", seconds=6)), SETTINGS))
    assert body["duration"] == "6"


def test_build_submit_without_seconds_leaves_the_model_default() -> None:
    """No requested length sends no duration field at all."""
    assert not {"duration", "seconds"} & set(body_of(build_submit(make_request("sora-2"), SETTINGS)))


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("veo3-1-video", (720, 1280), {"aspect_ratio": "9:16", "resolution": "720p"}),
        ("seedance-video", (1680, 720), {"aspect_ratio": "21:9", "resolution": "720p"}),
        ("seedance-video", (480, 640), {"aspect_ratio": "3:4", "resolution": "480p"}),
        ("sora-2", (720, 1280), {"orientation": "portrait", "resolution": "720p"}),
        ("sora-2", (1280, 720), {"orientation": "landscape", "resolution": "720p"}),
        ("kling-v25-turbo-pro", (1080, 1080), {"aspect_ratio": "1:1"}),
        ("wan-wavespeed-25", (832, 480), {"resolution": "480p"}),
        ("lightricks-ltx-2-fast", (1920, 1080), {}),
    ],
)
def test_build_submit_maps_exact_sizes_to_the_models_shape_fields(
    model: str, size: tuple[int, int], expected: dict[str, str]
) -> None:
    """A size becomes the tokens the model's family takes, and no other field at all (not even an empty one)."""
    request = make_request(model, dimensions=Dimensions(width=size[0], height=size[1]))
    body = body_of(build_submit(request, SETTINGS))
    assert body == {"model": model, "prompt": "ocean waves", **expected}


def test_build_submit_first_frame_url_goes_in_image_url() -> None:
    """An HTTPS image is sent as `imageUrl`, untouched."""
    body = body_of(build_submit(make_request(scene=Scene(prompt="x", image=START_URL)), SETTINGS))
    assert body["imageUrl"] == "https://img.test/start.png"
    assert "imageDataUrl" not in body


def test_build_submit_first_frame_bytes_go_in_image_data_url() -> None:
    """Inline image bytes are sent as a base64 `imageDataUrl`."""
    body = body_of(build_submit(make_request(scene=Scene(prompt="x", image=START)), SETTINGS))
    assert body["imageDataUrl"] == "data:image/png;base64,c3RhcnQ="
    assert "imageUrl" not in body


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("kling-v25-turbo-pro", "image_tail"),
        ("kling-v21-pro", "image_tail"),
        ("bytedance-seedance-2-0", "last_image"),
        ("minimax-hailuo-23-pro", "last_image"),
    ],
)
def test_build_submit_sends_the_last_frame_under_the_models_key(model: str, field: str) -> None:
    """§4.3: Kling takes `image_tail`, Seedance 2 and MiniMax take `last_image`."""
    body = body_of(build_submit(make_request(model, scene=Scene(prompt="x", image=START, end_image=END)), SETTINGS))
    assert body[field] == "data:image/jpeg;base64,ZW5k"
    assert body["imageDataUrl"] == "data:image/png;base64,c3RhcnQ="


def test_build_submit_sends_reference_images_as_a_list() -> None:
    """Reference images go out in order as `referenceImages`, URLs and data URLs alike."""
    request = make_request("kling-video-o1", reference_images=(START_URL, END))
    body = body_of(build_submit(request, SETTINGS))
    assert body["referenceImages"] == ["https://img.test/start.png", "data:image/jpeg;base64,ZW5k"]


def test_build_submit_sends_an_image_over_four_megabytes_as_a_data_url() -> None:
    """An image larger than 4 MB goes inline as `imageDataUrl`, as seed 003 recommends, never refused."""
    body = body_of(build_submit(make_request(scene=Scene(prompt="x", image=OVER_4_MB)), SETTINGS))
    assert body["imageDataUrl"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("size", [(480, 1120), (720, 1680), (1080, 2520)])
def test_build_submit_refuses_a_portrait_ultrawide_size_seed_003_does_not_list(size: tuple[int, int]) -> None:
    """Seed 003 lists 21:9 but no 9:21, so a 9:21 size is refused, never sent as `aspect_ratio: "9:21"`."""
    request = make_request("seedance-video", dimensions=Dimensions(width=size[0], height=size[1]))
    with pytest.raises(InvalidUpstreamRequest, match="matches no"):
        build_submit(request, SETTINGS)


def test_build_submit_sends_camera_fixed_when_asked() -> None:
    """A fixed camera is sent as seed 003's `camera_fixed` (Seedance and Wan variants)."""
    body = body_of(build_submit(make_request("seedance-video", camera_fixed=True), SETTINGS))
    assert body["camera_fixed"] is True


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (make_request(dimensions=Dimensions(width=1000, height=1000)), "matches no"),
        (make_request("sora-2", dimensions=Dimensions(width=720, height=720)), "landscape or portrait"),
        (make_request("kling-v25-turbo-pro", dimensions=Dimensions(width=1280, height=720)), "only makes 1080p"),
        (make_request("wan-wavespeed-25", dimensions=Dimensions(width=480, height=832)), "only makes 16:9"),
        (make_request("lightricks-ltx-2-fast", dimensions=Dimensions(width=1280, height=720)), "only makes 1080p"),
        (make_request(scene=Scene(prompt="x", image=ImageUrl(url="http://img.test/a.png"))), "HTTPS"),
        (make_request(scene=Scene(prompt="x", image=START, end_image=END)), "no known last-frame field"),
        (make_request("kling-v25-turbo-pro", scene=Scene(prompt="x", end_image=END)), "needs a first frame"),
        (
            GenerationRequest(upstream_model="sora-2", scenes=(Scene(prompt="a"), Scene(prompt="b")), multi_scene=True),
            "no scenes",
        ),
        (make_request(music=Music()), "music"),
        (make_request(watermark=False), "watermark"),
        (make_request(audio=Audio(prompt="waves crashing")), "audio prompt"),
        (make_request(scene=Scene(prompt="x", seconds=5), seconds=10), "asks 5s"),
    ],
    ids=[
        "size-without-token",
        "sora-square",
        "kling-not-1080p",
        "wan-portrait",
        "ltx-not-native",
        "http-image-url",
        "last-frame-unknown-key",
        "last-frame-without-first",
        "multi-scene",
        "music",
        "watermark",
        "audio-prompt",
        "conflicting-seconds",
    ],
)
def test_build_submit_refuses_what_nanogpt_would_silently_alter(request_: GenerationRequest, reason: str) -> None:
    """Inputs NanoGPT cannot express, or would ignore, raise instead of being sent."""
    with pytest.raises(InvalidUpstreamRequest, match=reason):
        build_submit(request_, SETTINGS)


# ------------------------------------------------------------------------------------------------ submit


def test_parse_submit_keeps_run_id_model_and_precharged_cost() -> None:
    """The documented 202 body gives the job its runId, model and the cost in micro-USD."""
    job = parse_submit(fixture_reply("submit_202.json", 202), make_request("veo2-video"))
    assert job == UpstreamJob(
        provider="nanogpt", upstream_id="vid_m1abc123def456", upstream_model="veo2-video", reported_cost_micros=350_000
    )


def test_parse_submit_without_cost_reports_no_cost() -> None:
    """The seed's short `{runId, id, model, status}` reply is accepted with no cost invented."""
    job = parse_submit(fixture_reply("submit_minimal.json", 202), make_request("kling-v25-turbo-pro"))
    assert (job.upstream_id, job.reported_cost_micros) == ("vid_mla1k3lja967ue22b", None)


def test_parse_submit_falls_back_to_id_and_reads_a_string_cost() -> None:
    """`id` equals `runId` (§4.4), so either identifies the job; a numeric-string cost still counts."""
    reply = Reply(status_code=200, headers={}, body=b'{"id": "vid_only_id", "status": "pending", "cost": "0.24"}')
    job = parse_submit(reply, make_request())
    assert (job.upstream_id, job.reported_cost_micros) == ("vid_only_id", 240_000)


def test_parse_submit_error_in_a_2xx_is_classified() -> None:
    """A 200 carrying the legacy insufficient-balance body raises quota exhaustion, not a job."""
    with pytest.raises(QuotaExhausted):
        parse_submit(fixture_reply("error_402_insufficient_balance.json"), make_request())


@pytest.mark.parametrize("body", [b'{"status": "pending"}', b"<html>Accepted</html>"])
def test_parse_submit_without_an_id_is_a_protocol_error(body: bytes) -> None:
    """A 2xx with no runId and no error, or not JSON at all, is not what §4.4 documents."""
    with pytest.raises(UpstreamProtocolError):
        parse_submit(Reply(status_code=202, headers={}, body=body), make_request())


def test_parse_balance_reports_remaining_balance_as_micros() -> None:
    """`remainingBalance` becomes balance headroom in micro-USD."""
    assert parse_balance(fixture_reply("submit_202.json", 202)) == CapacityReport(
        provider="nanogpt", scope="balance", balance_micros=12_500_000
    )


def test_parse_balance_without_remaining_balance_is_none() -> None:
    """A submit reply without `remainingBalance` says nothing about the balance."""
    assert parse_balance(fixture_reply("submit_minimal.json", 202)) is None


# ------------------------------------------------------------------------------------------------ status


@pytest.mark.parametrize(
    ("name", "status", "progress"),
    [
        ("status_nested_in_queue.json", "queued", 0),
        ("status_nested_in_progress.json", "in_progress", 42),
        ("status_nested_generating.json", "in_progress", None),
        ("status_nested_delivering.json", "in_progress", 99),
        ("status_nested_canceled.json", "cancelled", None),
        ("status_flat_queued.json", "queued", 0),
        ("status_flat_processing.json", "in_progress", 64),
        ("status_flat_unknown.json", "in_progress", 0),
        ("status_flat_cancelled.json", "cancelled", 0),
    ],
)
def test_parse_status_maps_non_completed_states_in_both_shapes(name: str, status: str, progress: int | None) -> None:
    """Shape A upper-case, Shape B lower-case, prose states, `unknown` and one-L CANCELED all map per §6.1."""
    parsed = parse_status(fixture_reply(name))
    assert (parsed.status, parsed.progress, parsed.output, parsed.failure) == (status, progress, None, None)


@pytest.mark.parametrize(
    ("name", "url", "cost_micros"),
    [
        ("status_nested_completed.json", "https://storage.example.com/video.mp4", 350_000),
        ("status_nested_completed_billing.json", "https://storage.example.com/veo.mp4", 1_200_000),
        ("status_nested_completed_output_url.json", "https://storage.example.com/mj.mp4", 400_000),
        ("status_legacy_completed.json", "https://storage.example.com/legacy.mp4", 350_000),
        ("status_flat_completed.json", "https://storage.example.com/flat.mp4", None),
        ("status_flat_completed_url.json", "https://storage.example.com/bare.mp4", None),
    ],
)
def test_parse_status_completed_reads_the_url_and_final_cost(name: str, url: str, cost_micros: int | None) -> None:
    """The URL comes from output.video.url, output.url, videoUrl or url; `data.cost` is the final cost."""
    parsed = parse_status(fixture_reply(name))
    assert parsed.status == "completed"
    assert parsed.output is not None
    assert (parsed.output.video_url, parsed.reported_cost_micros) == (url, cost_micros)


def test_parse_status_completed_without_cost_keeps_the_precharge() -> None:
    """With no `data.cost`, the submit's pre-charged cost is the best provider-reported figure."""
    parsed = parse_status(fixture_reply("status_nested_completed_without_cost.json"), precharged_micros=240_000)
    assert parsed.reported_cost_micros == 240_000


def test_parse_status_final_cost_wins_over_the_precharge() -> None:
    """`data.cost` on COMPLETED replaces the pre-charged estimate."""
    parsed = parse_status(fixture_reply("status_nested_completed.json"), precharged_micros=999_000)
    assert parsed.reported_cost_micros == 350_000


def test_parse_status_completed_without_url_is_a_protocol_error() -> None:
    """COMPLETED with no video URL anywhere is not a success."""
    with pytest.raises(UpstreamProtocolError, match="without a video URL"):
        parse_status(fixture_reply("status_nested_completed_without_url.json"))


@pytest.mark.parametrize(
    ("name", "error_class", "message", "code"),
    [
        (
            "status_nested_failed_nsfw.json",
            ErrorClass.CONTENT_POLICY,
            "Content flagged as inappropriate. Please modify your prompt and try again.",
            "content_policy_violation",
        ),
        (
            "status_nested_failed_string_error.json",
            ErrorClass.INTERNAL,
            "Upstream provider returned an error",
            None,
        ),
        (
            "status_nested_failed_object_error.json",
            ErrorClass.INTERNAL,
            "Video generation failed: provider timeout",
            "provider_timeout",
        ),
        ("status_flat_failed.json", ErrorClass.INTERNAL, "Generation failed", None),
        ("status_flat_failed_message_only.json", ErrorClass.INTERNAL, "Provider rejected the job", None),
    ],
)
def test_parse_status_failed_reads_the_error_and_nsfw_flag(
    name: str, error_class: ErrorClass, message: str, code: str | None
) -> None:
    """isNSFWError makes a FAILED job content_policy; a string or object error is internal with its message."""
    parsed = parse_status(fixture_reply(name))
    assert parsed.status == "failed"
    assert parsed.failure is not None
    assert (parsed.failure.error_class, parsed.failure.message, parsed.failure.code) == (error_class, message, code)


@pytest.mark.parametrize(
    "body",
    [
        (FIXTURES / "status_nested_undocumented.json").read_bytes(),
        b'{"requestId": "vid_x"}',
        b'{"status": "error"}',
        b"not json",
    ],
)
def test_parse_status_undocumented_replies_are_protocol_errors(body: bytes) -> None:
    """An unknown status, no status at all, or a non-JSON body never default to a pending job."""
    with pytest.raises(UpstreamProtocolError):
        parse_status(Reply(status_code=200, headers={}, body=body))


def test_parse_status_error_body_in_a_2xx_is_classified_as_the_status_route() -> None:
    """A 200 carrying `{"error": 403, ...}` is the status route's not-your-job answer, an invalid request."""
    with pytest.raises(InvalidUpstreamRequest):
        parse_status(fixture_reply("error_403_status_not_yours.json"))


def test_a_failed_job_without_a_reason_in_data_takes_the_top_level_error() -> None:
    """§4.5: error = `d.userFriendlyError ?? d.error(.message) ?? body.error ?? d.message`; here `body.error`."""
    body = b'{"requestId": "vid_x", "error": "Provider rejected the prompt", "data": {"status": "FAILED"}}'
    parsed = parse_status(Reply(status_code=200, headers={}, body=body))
    assert parsed.failure is not None
    assert (parsed.failure.error_class, parsed.failure.message) == (ErrorClass.INTERNAL, "Provider rejected the prompt")


def test_a_balance_reply_that_is_not_json_is_a_nanogpt_protocol_error() -> None:
    """A proxy's HTML page where the submit reply should be names the provider and the status it came with."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_balance(Reply(status_code=202, headers={}, body=b"<html>Bad Gateway</html>"))
    assert (raised.value.provider, raised.value.status_code) == ("nanogpt", 202)


def test_parse_submit_follows_the_model_nanogpt_names_and_an_id_wins_over_an_error() -> None:
    """§4.4 `model` is the model that runs (it may differ from the one asked); a reply with a `runId` is accepted."""
    body = b'{"runId": "vid_m1abc", "model": "veo3-video", "error": "queued behind others"}'
    job = parse_submit(Reply(status_code=202, headers={}, body=body), make_request("veo3-1-video"))
    assert (job.upstream_id, job.upstream_model) == ("vid_m1abc", "veo3-video")


def test_a_submit_reply_that_is_not_json_is_a_nanogpt_protocol_error() -> None:
    """A proxy's HTML page where the 202 should be names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_submit(Reply(status_code=202, headers={}, body=b"<html>Bad Gateway</html>"), make_request())
    assert raised.value.provider == "nanogpt"


def test_a_submit_reply_without_an_id_names_the_fields_the_provider_and_the_status() -> None:
    """§4.4: `runId` (or `id`) is what the job is polled by; the protocol error says so and where it came from."""
    with pytest.raises(UpstreamProtocolError, match="`runId`") as raised:
        parse_submit(Reply(status_code=202, headers={}, body=b'{"status": "pending"}'), make_request())
    assert (raised.value.provider, raised.value.status_code) == ("nanogpt", 202)


def test_a_progress_above_100_is_held_at_100() -> None:
    """Progress is a percentage: a value past 100 is reported as 100, not more."""
    body = b'{"status": "processing", "progress": 140}'
    assert parse_status(Reply(status_code=200, headers={}, body=body)).progress == 100


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (make_request(multi_scene=True), "no scenes"),
        (GenerationRequest(upstream_model="sora-2", scenes=(Scene(prompt="a"), Scene(prompt="b"))), "no scenes"),
        (make_request(content_credentials=ContentCredentials(author="A")), "content credentials"),
        (make_request(upscale=True), "upscaling"),
        (make_request(temporary_output=True), "temporary outputs"),
        (make_request(results=2), "one video per job"),
        (make_request(upstream_variant="fast"), "sub-model selector"),
        (
            make_request("wan-wavespeed-25", dimensions=Dimensions(width=720, height=1280)),
            "wan-wavespeed-25 only makes",
        ),
        (make_request(scene=Scene(prompt="x", image=ImageUrl(url="http://img.test:8080/a.png"))), "not http$"),
    ],
    ids=[
        "multi-scene-flag",
        "two-scenes",
        "credentials",
        "upscale",
        "temporary",
        "two-results",
        "variant",
        "aspect",
        "scheme",
    ],
)
def test_each_option_nanogpt_lacks_is_refused_alone_naming_it(request_: GenerationRequest, reason: str) -> None:
    """One option §4.3 has no field for is enough for a refusal that names it (and the model or scheme at fault)."""
    with pytest.raises(InvalidUpstreamRequest, match=reason) as raised:
        build_submit(request_, SETTINGS)
    assert raised.value.provider == "nanogpt"


def test_a_completed_job_is_at_100_percent() -> None:
    """COMPLETED is the end of the job whatever progress the body last showed."""
    body = b'{"data": {"status": "COMPLETED", "progress": 80, "output": {"video": {"url": "https://cdn.test/v.mp4"}}}}'
    assert parse_status(Reply(status_code=200, headers={}, body=body)).progress == 100


@pytest.mark.parametrize(
    ("body", "match"), [(b'{"requestId": "vid_x"}', "`status`"), (b'{"status": "paused"}', "undocumented status")]
)
def test_status_replies_without_a_known_status_name_what_is_wrong(body: bytes, match: str) -> None:
    """No `status` at all, or one §4.5 does not list: a protocol error saying which."""
    with pytest.raises(UpstreamProtocolError, match=match):
        parse_status(Reply(status_code=200, headers={}, body=body))


def test_a_status_reply_that_is_not_json_names_nanogpt() -> None:
    """A proxy's HTML page on the poll names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_status(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "nanogpt"
