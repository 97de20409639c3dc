"""Logging: the Redactor masks secret-looking keys, bearer tokens and every registered secret wherever they
sit in an event; a gateway configured with its secrets prints JSON lines with `request_id` and no secret."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import structlog

from gateway.logging import Redactor, configure_logging
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, gateway_settings, wait_terminal

REDACTED = "[REDACTED]"

PROVIDER_KEY = "sbx_provider_" + secrets.token_hex(8)
CLIENT_KEY = "vgk_client_" + secrets.token_hex(8)


def _redact(secrets: tuple[str, ...] = (), **event: Any) -> dict[str, Any]:
    return dict(Redactor(secrets)(None, "info", event))


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "Authorization",
        "api_key",
        "api-key",
        "apiKey",
        "x-api-key",
        "client_secret",
        "token",
        "password",
    ],
)
def test_values_under_secret_looking_keys_are_masked(key: str) -> None:
    """Whatever the value's type, a key that names a credential has its value replaced."""
    for value in ("plain-value", 12345, {"nested": "thing"}, ["a", "b"]):
        assert _redact(**{key: value})[key] == REDACTED


def test_ordinary_keys_are_left_alone() -> None:
    """Job ids, prompts, counts and booleans pass through unchanged."""
    event = {"event": "job_accepted", "job_id": "video_1", "prompt": "a lighthouse", "polls": 3, "ok": True}
    assert _redact(**event) == event


def test_secret_keys_are_masked_inside_nested_structures() -> None:
    """A credential key deep in dicts and lists is masked; its siblings are kept."""
    event = _redact(request={"headers": {"Authorization": "Basic abc", "Accept": "json"}, "calls": [{"token": "t"}]})
    assert event["request"] == {
        "headers": {"Authorization": REDACTED, "Accept": "json"},
        "calls": [{"token": REDACTED}],
    }


@pytest.mark.parametrize(
    "text",
    [
        "upstream said: Bearer sk-live.abc_DEF~123/+= was refused",
        "header bearer sk-live.abc_DEF~123/+= was refused",
        "BEARER   sk-live.abc_DEF~123/+=",
    ],
)
def test_bearer_tokens_inside_strings_are_masked(text: str) -> None:
    """A `Bearer <token>` anywhere in free text loses the token, in any letter case."""
    cleaned = _redact(message=text)["message"]
    assert "sk-live" not in cleaned
    assert REDACTED in cleaned


def test_bearer_tokens_in_lists_and_the_event_itself_are_masked() -> None:
    """Free-text scrubbing covers the event name and strings inside lists and tuples."""
    event = _redact(event="sent Bearer abcdefgh123", notes=["x", "Bearer zyxwvut987"], pair=("Bearer qwertyu555", 1))
    assert "abcdefgh123" not in event["event"]
    assert not any("zyxwvut987" in n for n in event["notes"])
    assert "qwertyu555" not in event["pair"][0]
    assert event["pair"][1] == 1


def test_registered_secret_values_are_masked_anywhere() -> None:
    """A registered secret is masked inside any string, at any depth, under any key."""
    event = _redact(
        (PROVIDER_KEY, CLIENT_KEY),
        event=f"calling with {PROVIDER_KEY}",
        detail={"upstream": {"echo": f"key={PROVIDER_KEY};"}, "list": [f"x{CLIENT_KEY}y", 1]},
        url=f"https://host/?key={CLIENT_KEY}&a=1",
    )
    rendered = json.dumps(event)
    assert PROVIDER_KEY not in rendered
    assert CLIENT_KEY not in rendered
    assert event["detail"]["upstream"]["echo"] == f"key={REDACTED};"
    assert event["url"] == f"https://host/?key={REDACTED}&a=1"


def test_longer_secret_is_masked_whole_when_it_contains_a_shorter_one() -> None:
    """Overlapping secrets are replaced longest first, so no tail of the longer one survives."""
    short, long = "abcdefgh", "abcdefgh_more_secret"
    assert _redact((short, long), text=f"{long} and {short}")["text"] == f"{REDACTED} and {REDACTED}"


def test_very_short_secret_values_are_not_registered() -> None:
    """Values under 8 characters are not treated as secrets (they would mask ordinary words)."""
    assert _redact(("video",), text="video_1")["text"] == "video_1"


def test_secrets_inside_other_objects_are_masked() -> None:
    """An object the renderer shows by repr (bytes, a struct, a set) cannot carry a secret past redaction."""

    class Call(msgspec.Struct):
        headers: dict[str, str]

    event = _redact(
        (PROVIDER_KEY,),
        body=f"key={PROVIDER_KEY}".encode(),
        call=Call(headers={"Authorization": f"Bearer {PROVIDER_KEY}"}),
        keys=frozenset({PROVIDER_KEY}),
    )
    rendered = json.dumps(event, default=repr)
    assert PROVIDER_KEY not in rendered


# ---------------------------------------------------------------------------------------- configured output


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes structlog globally; put the previous configuration back afterwards."""
    previous = structlog.get_config()
    yield
    structlog.configure(**previous)


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            record: dict[str, Any] = json.loads(line)
            lines.append(record)
    return lines


@pytest.mark.usefixtures("restore_logging")
def test_configured_logger_scrubs_exceptions(capfd: pytest.CaptureFixture[str]) -> None:
    """An exception message carrying a secret is masked in the rendered traceback."""
    configure_logging("info", secrets=[PROVIDER_KEY])
    try:
        raise RuntimeError(f"upstream refused key {PROVIDER_KEY}")
    except RuntimeError:
        structlog.get_logger("test").exception("upstream_call_failed")
    err = capfd.readouterr().err
    assert PROVIDER_KEY not in err
    (record,) = _json_lines(err)
    assert record["event"] == "upstream_call_failed"
    assert REDACTED in record["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_configured_logger_filters_by_level(capfd: pytest.CaptureFixture[str]) -> None:
    """Below the configured level nothing prints; at or above it, one JSON line with level and timestamp."""
    configure_logging("warning")
    log = structlog.get_logger("test")
    log.info("job_accepted")
    log.warning("poll_store_unavailable")
    (record,) = _json_lines(capfd.readouterr().err)
    assert record["event"] == "poll_store_unavailable"
    assert record["level"] == "warning"
    assert "timestamp" in record


@pytest.mark.usefixtures("restore_logging")
async def test_gateway_logs_carry_request_id_and_never_a_secret(
    vidgen_url: str,
    vidgen_key: str,
    serve_gateway: GatewayFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A full create → poll → read → delete run, plus refused keys, logs JSON with `request_id` and no key."""
    configure_logging("debug", secrets=[TEAM_A_KEY, vidgen_key])
    bogus = "vgk_bogus_" + secrets.token_hex(8)
    async with serve_gateway(gateway_settings(vidgen_url)) as url, httpx.AsyncClient(base_url=url) as client:
        created = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a kite, -blurry", "metadata": {"k": "v"}}
        )
        assert created.status_code == 202, created.text
        video = await wait_terminal(client, created.json()["id"])
        assert video["status"] == "completed"
        await client.get("/v1/videos", headers=auth())
        await client.delete(f"/v1/videos/{video['id']}", headers=auth())
        await client.get("/v1/videos", headers={"Authorization": f"Bearer {bogus}"})
        await client.get("/v1/videos", headers={"Authorization": TEAM_A_KEY})
    err = capfd.readouterr().err
    assert TEAM_A_KEY not in err
    assert vidgen_key not in err
    records = _json_lines(err)
    events = {r["event"] for r in records}
    assert {"gateway_started", "job_accepted", "job_deleted"} <= events
    accepted = next(r for r in records if r["event"] == "job_accepted")
    assert accepted["request_id"] == created.headers["x-request-id"]
    assert accepted["job_id"] == video["id"]
