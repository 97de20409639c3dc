"""fal's error classifier on its own (providers/fal/errors.py): each HTTP status and fal code of docs/providers.md
§fal.4 to its class, with fal's machine `code`, the provider and the status carried on the error. Bodies are the
fixtures (fixtures/SOURCES.md) or the documented shapes written inline; no I/O beyond fixture files."""

from __future__ import annotations

import json

import pytest

from providers.contract import (
    ContentPolicyError,
    InvalidUpstreamRequest,
    QuotaExhausted,
    Reply,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.fal import classify_error
from tests.providers.fal.conftest import reply


def request_error(status_code: int, error_type: str, headers: dict[str, str] | None = None) -> Reply:
    """A request error in fal's shape: a string `detail` and its `error_type` (§fal.4)."""
    body = {"detail": "Request failed", "error_type": error_type}
    return Reply(status_code=status_code, headers=headers or {}, body=json.dumps(body).encode())


def model_error(status_code: int, *items: dict[str, object]) -> Reply:
    """A model error in fal's shape: `detail` a list of items with `loc`, `msg` and `type` (§fal.4)."""
    return Reply(status_code=status_code, headers={}, body=json.dumps({"detail": list(items)}).encode())


@pytest.mark.parametrize(
    ("error_reply", "error_type", "code"),
    [
        (reply("error_401_unknown_key.json", 401), UpstreamAuthError, None),
        (reply("error_403_exhausted_balance.json", 403), QuotaExhausted, "exhausted_balance"),
        (reply("error_403_admin_lock.json", 403), UpstreamAuthError, None),
        (Reply(status_code=402, headers={}, body=b'{"detail": "Payment required"}'), QuotaExhausted, None),
        (Reply(status_code=429, headers={}, body=b'{"detail": "Too Many Requests"}'), UpstreamRateLimited, None),
        (reply("error_422_content_policy.json", 422), ContentPolicyError, "content_policy_violation"),
        (reply("error_422_validation.json", 422), InvalidUpstreamRequest, "literal_error"),
        (request_error(400, "bad_request"), InvalidUpstreamRequest, "bad_request"),
        (reply("error_499_client_cancelled.json", 499), InvalidUpstreamRequest, "client_cancelled"),
        (request_error(500, "runner_server_error"), UpstreamInternalError, "runner_server_error"),
        (request_error(501, "internal_error"), UpstreamUnavailable, "internal_error"),
        (request_error(502, "runner_incomplete_response"), UpstreamUnavailable, "runner_incomplete_response"),
        (reply("error_503_runner_scheduling.json", 503), UpstreamUnavailable, "runner_scheduling_failure"),
        (reply("error_504_request_timeout.json", 504), UpstreamUnavailable, "request_timeout"),
    ],
)
def test_each_status_and_code_maps_to_its_class_with_fal_code_and_status(
    error_reply: Reply, error_type: type[UpstreamError], code: str | None
) -> None:
    """§fal.4's adapter mapping: 401 auth; 403 "Exhausted balance" quota (`exhausted_balance`), another 403 auth;
    402 quota; 429 rate limited; 422 `content_policy_violation` content policy; other 4xx invalid; 500 internal;
    above 500 unavailable. The error names fal, the HTTP status and fal's own code."""
    error = classify_error(error_reply)
    assert type(error) is error_type
    assert (error.provider, error.status_code, error.code) == ("fal", error_reply.status_code, code)


@pytest.mark.parametrize("status_code", [302, 399])
def test_a_status_below_400_is_not_an_error_fal_documents(status_code: int) -> None:
    """An error path reached with a non-error status (a redirect, say) is a protocol error, not the caller's."""
    error = classify_error(Reply(status_code=status_code, headers={}, body=b"{}"))
    assert type(error) is UpstreamProtocolError
    assert (error.provider, error.status_code) == ("fal", status_code)


def test_content_policy_is_the_422_with_that_type_anywhere_in_the_items() -> None:
    """Any item typed `content_policy_violation` makes a 422 a content-policy refusal; the code is the first
    typed item's, and an item without a `type` gives none."""
    error = classify_error(
        model_error(
            422,
            {"loc": ["body", "seed"], "msg": "untyped"},
            {"loc": ["body", "duration"], "msg": "Input should be '5' or '10'", "type": "literal_error"},
            {"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"},
        )
    )
    assert type(error) is ContentPolicyError
    assert error.code == "literal_error"


def test_the_content_policy_type_on_another_status_is_not_content_policy() -> None:
    """Only a 422 carries fal's content-policy refusal (§fal.4); on a 400 the type is a plain invalid request."""
    error = classify_error(model_error(400, {"loc": ["body"], "msg": "m", "type": "content_policy_violation"}))
    assert type(error) is InvalidUpstreamRequest
    assert error.code == "content_policy_violation"


def test_a_model_error_without_types_falls_back_to_the_request_error_type() -> None:
    """No item has a `type`: the code is the body's `error_type`, if any."""
    body = {"detail": [{"loc": ["body"], "msg": "m"}], "error_type": "bad_request"}
    assert classify_error(Reply(status_code=400, headers={}, body=json.dumps(body).encode())).code == "bad_request"
    assert classify_error(model_error(400, {"loc": ["body"], "msg": "m"})).code is None


def test_a_403_that_is_not_fal_json_is_an_auth_error_without_a_code() -> None:
    """A proxy's page on a 403 is no locked-balance reply: auth, and nothing read from the body."""
    error = classify_error(Reply(status_code=403, headers={}, body=b"<html>403 Forbidden</html>"))
    assert type(error) is UpstreamAuthError
    assert (error.code, error.status_code) == (None, 403)


def test_a_403_model_error_list_is_an_auth_error() -> None:
    """The balance lock is a string `detail`; a list `detail` on a 403 is another refusal of the key."""
    error = classify_error(model_error(403, {"loc": ["body"], "msg": "Exhausted balance", "type": "forbidden"}))
    assert type(error) is UpstreamAuthError
    assert error.code == "forbidden"


def test_retry_after_is_read_on_a_429_only() -> None:
    """A 429's `Retry-After` (seconds or an HTTP date from now) is kept; on a 503 fal's queue retries itself."""
    limited = classify_error(
        request_error(429, "rate_limited", {"Retry-After": "Sun, 06 Dec 2026 10:00:30 GMT"}), now_s=1796551200.0
    )
    assert limited.retry_after_s == 30.0
    unavailable = classify_error(request_error(503, "runner_scheduling_failure", {"Retry-After": "12"}))
    assert unavailable.retry_after_s is None


def test_the_message_carries_each_located_item_and_never_the_echoed_input() -> None:
    """A model error's message names each item's location (dotted) and fal's text, never the `input` it echoes."""
    error = classify_error(reply("error_422_content_policy.json", 422))
    assert "422" in error.message
    assert "body.prompt: The content was flagged by a content checker." in error.message
    assert "the flagged input" not in error.message
    two = classify_error(
        model_error(
            422,
            {"loc": ["body", "images", 0], "msg": "too large", "type": "image_too_large"},
            {"loc": ["body", "seed"], "type": "int_type"},
            {"loc": ["body", "duration"], "msg": "Input should be '5' or '10'", "type": "literal_error"},
        )
    )
    assert "body.images.0: too large" in two.message
    assert "body.duration: Input should be '5' or '10'" in two.message
    assert "body.seed" not in two.message  # an item without text adds nothing


def test_a_request_error_message_is_its_detail() -> None:
    """A request error's string `detail` is fal's explanation, carried as it is."""
    error = classify_error(reply("error_503_runner_scheduling.json", 503))
    assert "No runner could be allocated to handle the request." in error.message
