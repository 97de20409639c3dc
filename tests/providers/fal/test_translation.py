"""fal's pure translators against the documents' own examples (fixtures/SOURCES.md): the body each model's schema
takes, the queue URLs under the app id, the queue states, the result's video or error, cancel and error classes."""

from __future__ import annotations

import json

import pytest

from providers.contract import (
    Audio,
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.fal import (
    build_cancel,
    build_poll,
    build_result,
    build_submit,
    classify_error,
    parse_cancel,
    parse_result,
    parse_status,
    parse_submit,
)
from tests.providers.fal.conftest import KLING, LTX, SETTINGS, VEO, WAN, reply, request

FRAME = ImageUrl(url="https://v3.fal.media/files/panda/frame.jpg")
VEO_JOB = UpstreamJob(provider="fal", upstream_id="80e732af-660e-45cd-bd63-580e4f2a94cc", upstream_model=VEO)


# ------------------------------------------------------------------------------------------------ submit


def test_kling_text_request_posts_its_schema_to_the_model_id_with_key_auth() -> None:
    """Kling t2v: POST /{model id}, `Authorization: Key`, duration as the string "10", the ratio, -terms negative."""
    scene = Scene(prompt="a paper boat on a pond", negative_terms=("blurry", "text"))
    call = build_submit(
        request(KLING, scene=scene, seconds=10, dimensions=Dimensions(width=1080, height=1920)), SETTINGS
    )
    assert (call.method, call.path) == ("POST", "/fal-ai/kling-video/v2.5-turbo/pro/text-to-video")
    assert call.headers == {"Authorization": "Key fal-key-id:secret"}
    assert call.json == {
        "prompt": "a paper boat on a pond",
        "duration": "10",
        "aspect_ratio": "9:16",
        "negative_prompt": "blurry, text",
    }


def test_kling_image_request_goes_to_its_image_endpoint_with_the_tail_frame() -> None:
    """First and last frame: the image-to-video endpoint, `image_url` and `tail_image_url`, no aspect ratio."""
    scene = Scene(prompt="cars race", image=FRAME, end_image=ImageUrl(url="https://v3.fal.media/files/panda/end.jpg"))
    call = build_submit(request(KLING, scene=scene, dimensions=Dimensions(width=1920, height=1080)), SETTINGS)
    assert call.path == "/fal-ai/kling-video/v2.5-turbo/pro/image-to-video"
    assert call.json == {
        "prompt": "cars race",
        "image_url": "https://v3.fal.media/files/panda/frame.jpg",
        "tail_image_url": "https://v3.fal.media/files/panda/end.jpg",
    }


def test_veo_sends_seconds_with_s_resolution_and_audio_off_unless_asked() -> None:
    """Veo 3.1 Fast: duration "8s", resolution and ratio, and `generate_audio` false (its default is true)."""
    call = build_submit(request(VEO, seconds=8, dimensions=Dimensions(width=1920, height=1080), seed=7), SETTINGS)
    assert call.json == {
        "prompt": "a paper boat on a pond",
        "duration": "8s",
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "seed": 7,
        "generate_audio": False,
    }
    with_audio = build_submit(request(VEO, audio=Audio()), SETTINGS)
    assert with_audio.json == {"prompt": "a paper boat on a pond", "generate_audio": True}


def test_veo_image_request_keeps_the_aspect_field_its_image_endpoint_has() -> None:
    """Veo's image-to-video endpoint takes `aspect_ratio`; an inline image travels as a data URI."""
    image = ImageData(mime_type="image/png", data=b"\x89PNG", digest="0" * 64)
    call = build_submit(
        request(VEO, scene=Scene(prompt="p", image=image), dimensions=Dimensions(width=720, height=1280)), SETTINGS
    )
    assert call.path == "/fal-ai/veo3.1/fast/image-to-video"
    assert call.json == {
        "prompt": "p",
        "image_url": "data:image/png;base64,iVBORw==",
        "resolution": "720p",
        "aspect_ratio": "9:16",
        "generate_audio": False,
    }


def test_wan_always_says_whether_to_rewrite_the_prompt() -> None:
    """Wan 2.5's `enable_prompt_expansion` defaults to true, so it is sent false unless enhancement is asked."""
    plain = build_submit(request(WAN, dimensions=Dimensions(width=832, height=480)), SETTINGS)
    assert plain.json == {
        "prompt": "a paper boat on a pond",
        "resolution": "480p",
        "aspect_ratio": "16:9",
        "enable_prompt_expansion": False,
    }
    enhanced = build_submit(request(WAN, enhance_prompt=True), SETTINGS)
    assert enhanced.json == {"prompt": "a paper boat on a pond", "enable_prompt_expansion": True}


def test_ltx_takes_its_duration_as_an_integer() -> None:
    """LTX-2 Fast's `duration` is an integer (6-20), unlike the other models' strings; 1080p 16:9 only."""
    call = build_submit(request(LTX, seconds=12, dimensions=Dimensions(width=1920, height=1080)), SETTINGS)
    assert call.json == {
        "prompt": "a paper boat on a pond",
        "duration": 12,
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "generate_audio": False,
    }
    image = build_submit(request(LTX, scene=Scene(prompt="p", image=FRAME), seconds=6), SETTINGS)
    assert image.path == "/fal-ai/ltx-2/image-to-video/fast"


@pytest.mark.parametrize(
    ("model", "fields", "named"),
    [
        (KLING, {"seconds": 7}, r"7s is not one of \[5, 10\]"),
        (KLING, {"dimensions": Dimensions(width=1280, height=720)}, "size 1280x720"),
        (KLING, {"seed": 3}, "no seed"),
        (KLING, {"audio": Audio()}, "no audio"),
        (KLING, {"enhance_prompt": True}, "no prompt enhancement"),
        (VEO, {"music": Music()}, "music"),
        (VEO, {"watermark": False}, "watermark"),
        (VEO, {"scene": Scene(prompt="p", image=FRAME, end_image=FRAME)}, "no end frame"),
        (WAN, {"scene": Scene(prompt="x" * 801)}, "maximum is 800"),
        (LTX, {"scene": Scene(prompt="p", negative_terms=("blur",))}, "no negative prompt"),
        ("fal-ai/unknown/model", {}, "no input schema is known"),
    ],
)
def test_what_a_model_has_no_field_for_is_refused(model: str, fields: dict[str, object], named: str) -> None:
    """An input the model's schema cannot carry is a 400-class refusal naming it, never dropped."""
    with pytest.raises(InvalidUpstreamRequest, match=named):
        build_submit(request(model, **fields), SETTINGS)


def test_submit_reply_gives_the_request_id() -> None:
    """The documented submit reply's `request_id` becomes the upstream id."""
    job = parse_submit(reply("submit.json"), request(KLING))
    assert (job.provider, job.upstream_id, job.upstream_model) == ("fal", "80e732af-660e-45cd-bd63-580e4f2a94cc", KLING)
    with pytest.raises(UpstreamProtocolError):
        parse_submit(reply("submit_without_request_id.json"), request(KLING))


# --------------------------------------------------------------------------------------- queue URLs


def test_status_result_and_cancel_use_the_app_id_not_the_sub_path() -> None:
    """`fal-ai/veo3.1/fast` polls `fal-ai/veo3.1/requests/{id}`: status GET, result GET, cancel PUT."""
    rid = "80e732af-660e-45cd-bd63-580e4f2a94cc"
    calls = [build_poll(VEO_JOB, SETTINGS), build_result(VEO_JOB, SETTINGS), build_cancel(VEO_JOB, SETTINGS)]
    assert [(c.method, c.path) for c in calls] == [
        ("GET", f"/fal-ai/veo3.1/requests/{rid}/status"),
        ("GET", f"/fal-ai/veo3.1/requests/{rid}"),
        ("PUT", f"/fal-ai/veo3.1/requests/{rid}/cancel"),
    ]
    assert all(c.headers == {"Authorization": "Key fal-key-id:secret"} for c in calls)


# ------------------------------------------------------------------------------------- status, result


def test_queue_states_map_and_completed_defers_to_the_result() -> None:
    """IN_QUEUE is queued, IN_PROGRESS in progress, COMPLETED says read the result, others are protocol errors."""
    queued = parse_status(reply("status_in_queue.json", 202))
    running = parse_status(reply("status_in_progress.json", 202))
    assert (queued and queued.status, running and running.status) == ("queued", "in_progress")
    assert parse_status(reply("status_completed.json")) is None
    with pytest.raises(UpstreamProtocolError, match="FAILED"):
        parse_status(reply("status_failed_undocumented.json"))


def test_result_video_is_the_output() -> None:
    """The output's `video.url` is the asset; a seed, when echoed, is kept as provenance."""
    done = parse_result(reply("result_video.json"))
    assert done.status == "completed"
    assert done.output is not None
    assert done.output.video_url == "https://v3.fal.media/files/kangaroo/output.mp4"
    seeded = parse_result(reply("result_video_with_seed.json"))
    assert seeded.output is not None
    assert seeded.output.provenance["seed"] == "314159"
    with pytest.raises(UpstreamProtocolError, match=r"video\.url"):
        parse_result(reply("result_without_video.json"))


@pytest.mark.parametrize(
    ("name", "status_code", "error_class", "code"),
    [
        ("error_422_content_policy.json", 422, ErrorClass.CONTENT_POLICY, "content_policy_violation"),
        ("error_422_validation.json", 422, ErrorClass.INVALID_REQUEST, "literal_error"),
        ("error_504_request_timeout.json", 504, ErrorClass.TIMEOUT, "request_timeout"),
        ("error_503_runner_scheduling.json", 503, ErrorClass.UPSTREAM_UNAVAILABLE, "runner_scheduling_failure"),
    ],
)
def test_an_error_result_fails_the_job_with_its_class(
    name: str, status_code: int, error_class: ErrorClass, code: str
) -> None:
    """The result "returns the same error" the model returned: the job fails with its class and fal's code."""
    outcome = parse_result(reply(name, status_code))
    assert outcome.status == "failed"
    assert outcome.failure is not None
    assert (outcome.failure.error_class, outcome.failure.code) == (error_class, code)
    assert "the flagged input" not in outcome.failure.message  # the echoed input stays out of job records


def test_a_cancelled_request_ends_cancelled() -> None:
    """The `client_cancelled` request error in the result is the cancelled state."""
    assert parse_result(reply("error_499_client_cancelled.json", 499)).status == "cancelled"


def test_errors_about_the_result_call_itself_raise_instead_of_failing_the_job() -> None:
    """A 401 or a proxy's HTML 502 on the result GET is not the job's outcome: it raises; the job is polled again."""
    with pytest.raises(UpstreamAuthError):
        parse_result(reply("error_401_unknown_key.json", 401))
    with pytest.raises(UpstreamUnavailable):
        parse_result(Reply(status_code=502, headers={}, body=b"<html>502 Bad Gateway</html>"))


# ------------------------------------------------------------------------------------------ cancel, errors


def test_cancel_replies() -> None:
    """202 CANCELLATION_REQUESTED is a cancel; 400 ALREADY_COMPLETED is nothing to stop; 404 raises."""
    assert parse_cancel(reply("cancel_202.json", 202)) is True
    assert parse_cancel(reply("cancel_400_already_completed.json", 400)) is False
    with pytest.raises(InvalidUpstreamRequest):
        parse_cancel(Reply(status_code=404, headers={}, body=json.dumps({"status": "NOT_FOUND"}).encode()))


def test_error_classes_by_status_and_fal_codes() -> None:
    """403 "Exhausted balance" is quota, another lock is auth; 422 policy is content policy; 429 keeps Retry-After."""
    assert isinstance(classify_error(reply("error_403_exhausted_balance.json", 403)), QuotaExhausted)
    assert isinstance(classify_error(reply("error_403_admin_lock.json", 403)), UpstreamAuthError)
    assert isinstance(classify_error(reply("error_422_content_policy.json", 422)), ContentPolicyError)
    limited = classify_error(
        Reply(status_code=429, headers={"Retry-After": "12"}, body=b'{"detail": "Too Many Requests"}')
    )
    assert isinstance(limited, UpstreamRateLimited)
    assert limited.retry_after_s == 12.0
