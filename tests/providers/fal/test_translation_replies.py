"""fal's reply parsers at their edges (docs/providers.md §fal.2, §fal.4): the queue calls' operations and paths, what
each reply carries besides its class (provider, status, progress, provenance), the 2xx range on both sides, and
which result and cancel errors are about the call rather than the job. Pure: no I/O beyond fixture files."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from providers.contract import (
    ErrorClass,
    InvalidUpstreamRequest,
    Operation,
    QuotaExhausted,
    Reply,
    UpstreamError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
)
from providers.fal import build_cancel, build_poll, build_result, parse_cancel, parse_result, parse_status, parse_submit
from tests.providers.fal.conftest import KLING, SETTINGS, VEO, reply, request


def raw(status_code: int, body: object) -> Reply:
    """A reply whose body is `body` as JSON, or as it is when it is already bytes."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(status_code=status_code, headers={}, body=content)


def test_queue_calls_are_status_and_cancel_operations_with_the_id_as_one_segment() -> None:
    """Polls and result reads spend the status window, cancel is a cancel; an id is one path segment, escaped."""
    job = UpstreamJob(provider="fal", upstream_id="req/1?x", upstream_model=VEO)
    calls = [build_poll(job, SETTINGS), build_result(job, SETTINGS), build_cancel(job, SETTINGS)]
    assert [(c.path, c.operation) for c in calls] == [
        ("/fal-ai/veo3.1/requests/req%2F1%3Fx/status", Operation.STATUS),
        ("/fal-ai/veo3.1/requests/req%2F1%3Fx", Operation.STATUS),
        ("/fal-ai/veo3.1/requests/req%2F1%3Fx/cancel", Operation.CANCEL),
    ]


@pytest.mark.parametrize(
    "parse",
    [
        lambda r: parse_submit(r, request(KLING)),
        parse_status,
        parse_result,
    ],
    ids=["submit", "status", "result"],
)
def test_a_body_that_is_not_fals_is_a_protocol_error_from_fal(parse: Callable[[Reply], object]) -> None:
    """A 200 whose body is not the documented JSON (a proxy's page) is fal's protocol error, with the status."""
    with pytest.raises(UpstreamProtocolError) as caught:
        parse(raw(200, b"<html>gateway</html>"))
    assert (caught.value.provider, caught.value.status_code) == ("fal", 200)


def test_a_submit_reply_without_a_request_id_names_it() -> None:
    """The queue's submit reply must carry `request_id` (§fal.2)."""
    with pytest.raises(UpstreamProtocolError, match="request_id") as caught:
        parse_submit(reply("submit_without_request_id.json"), request(KLING))
    assert (caught.value.provider, caught.value.status_code) == ("fal", 200)


def test_queued_is_at_zero_progress_and_running_reports_none() -> None:
    """IN_QUEUE has not started (progress 0); IN_PROGRESS gives no percentage, so none is made up."""
    queued = parse_status(reply("status_in_queue.json", 202))
    running = parse_status(reply("status_in_progress.json", 202))
    assert queued is not None
    assert running is not None
    assert (queued.status, queued.progress, running.status, running.progress) == ("queued", 0, "in_progress", None)


def test_an_undocumented_status_is_a_protocol_error_from_fal() -> None:
    """fal has no FAILED state (§fal.2); a reply naming one is a protocol error carrying the status code."""
    with pytest.raises(UpstreamProtocolError) as caught:
        parse_status(reply("status_failed_undocumented.json"))
    assert (caught.value.provider, caught.value.status_code) == ("fal", 200)


def test_a_result_keeps_the_content_type_and_no_seed_it_did_not_echo() -> None:
    """The output is complete at 100%; provenance holds the file's content type, and a seed only when echoed."""
    done = parse_result(reply("result_video.json"))
    assert (done.status, done.progress) == ("completed", 100)
    assert done.output is not None
    assert done.output.provenance == {"content_type": "video/mp4"}
    seeded = parse_result(reply("result_video_with_seed.json"))
    assert seeded.output is not None
    assert seeded.output.provenance == {"seed": "314159", "content_type": "video/mp4"}


def test_a_result_without_a_video_url_is_a_protocol_error_from_fal() -> None:
    with pytest.raises(UpstreamProtocolError, match=r"video\.url") as caught:
        parse_result(reply("result_without_video.json"))
    assert (caught.value.provider, caught.value.status_code) == ("fal", 200)


def test_only_a_2xx_result_is_the_output() -> None:
    """299 is a success like 200; a 300 carrying the same video body is no result and raises."""
    body = (reply("result_video.json")).body
    assert parse_result(Reply(status_code=299, headers={}, body=body)).status == "completed"
    with pytest.raises(UpstreamProtocolError):
        parse_result(Reply(status_code=300, headers={}, body=body))


@pytest.mark.parametrize(
    ("status_code", "body", "error_type"),
    [
        (403, "error_403_exhausted_balance.json", QuotaExhausted),
        (404, {"detail": "Request not found"}, InvalidUpstreamRequest),
        (429, {"detail": "Too Many Requests"}, UpstreamRateLimited),
    ],
)
def test_result_errors_about_the_call_raise_rather_than_fail_the_job(
    status_code: int, body: object, error_type: type[UpstreamError]
) -> None:
    """403, 404 and 429 on the result GET are about this call, not the job's outcome (§fal.4): they raise, and the
    job is polled again."""
    error_reply = reply(body, status_code) if isinstance(body, str) else raw(status_code, body)
    with pytest.raises(error_type):
        parse_result(error_reply)


def test_a_failed_result_keeps_fal_located_message() -> None:
    """The job's failure message is fal's location and text for the model error."""
    outcome = parse_result(reply("error_422_content_policy.json", 422))
    assert outcome.failure is not None
    assert outcome.failure.error_class == ErrorClass.CONTENT_POLICY
    assert "body.prompt: The content was flagged by a content checker." in outcome.failure.message


def test_cancel_accepts_ok_and_any_2xx_and_nothing_else() -> None:
    """200 `OK` is a cancel like 202 CANCELLATION_REQUESTED (§fal.2); a 300 with it is no success and raises."""
    assert parse_cancel(raw(200, {"status": "OK"})) is True
    assert parse_cancel(raw(299, {"status": "CANCELLATION_REQUESTED"})) is True
    with pytest.raises(UpstreamProtocolError):
        parse_cancel(raw(300, {"status": "CANCELLATION_REQUESTED"}))


def test_a_2xx_cancel_with_an_undocumented_status_names_it() -> None:
    """A 2xx cancel reply whose status is none of fal's values is a protocol error naming that status."""
    with pytest.raises(UpstreamProtocolError, match="'PENDING'") as caught:
        parse_cancel(raw(200, {"status": "PENDING"}))
    assert (caught.value.provider, caught.value.status_code) == ("fal", 200)


def test_a_400_cancel_is_nothing_to_stop_only_when_already_completed() -> None:
    """400 ALREADY_COMPLETED means the request finished; another 400 is a refused cancel and raises, and
    ALREADY_COMPLETED on another status is not read as finished."""
    with pytest.raises(InvalidUpstreamRequest):
        parse_cancel(raw(400, {"detail": "Bad request", "error_type": "bad_request"}))
    with pytest.raises(InvalidUpstreamRequest):
        parse_cancel(raw(404, {"status": "ALREADY_COMPLETED"}))
