"""Provider text is scrubbed where it enters the gateway (gateway/upstreams.py): a provider reply that echoes the
gateway's API key, whole or in part, reaches no reply, job record or log line, and the text is bounded and one
line; the Scrubber itself masks every run of 8 or more of a secret's characters."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from gateway.scrubbing import Scrubber
from gateway.store.base import JobStore
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import GatewayFactory, auth, gateway_settings, wait_terminal

REDACTED = "[REDACTED]"  # the marker replies and logs carry in place of a secret


def test_a_secret_and_every_long_fragment_of_it_are_masked() -> None:
    """The whole key, its first 12 and its last 9 characters are masked; a 4-character mask tail is not."""
    key = "sk-live-0123456789abcdefXYZ"
    scrubber = Scrubber([key])
    for echoed in (key, key[:12], key[-9:]):
        text = scrubber.scrub(f"Invalid API key: {echoed}!")
        assert echoed not in text
        assert text == f"Invalid API key: {REDACTED}!"
    assert scrubber.scrub("key ending in …fXYZ") == "key ending in …fXYZ"


def test_provider_text_is_one_bounded_line() -> None:
    """Control characters become spaces and a long text is cut to the bound."""
    text = Scrubber().provider_text("line one\r\nline\x00two\x1b[31m" + "x" * 5_000)
    for control in ("\n", "\r", "\x00", "\x1b"):
        assert control not in text
    assert len(text) == 1_000
    assert text.startswith("line one line two [31m")


async def test_a_refused_submit_that_echoes_the_key_answers_without_it(
    vidgen_url: str, vidgen_key: str, serve_gateway: GatewayFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """Vidgen refuses with a 400 quoting our key: the client's 400 carries the provider's words, minus the key."""
    async with httpx.AsyncClient(base_url=vidgen_url) as emulator:
        body = msgspec.json.encode({"error": f"Invalid API key: {vidgen_key} (prefix {vidgen_key[:10]})"}).decode()
        await SandboxControl(emulator).arm(FaultSpec(action="generate", status_code=400, body=body))
    async with serve_gateway(gateway_settings(vidgen_url)) as url, httpx.AsyncClient(base_url=url) as client:
        reply = await client.post("/v1/videos", json={"prompt": "a lighthouse"}, headers=auth())
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "upstream_rejected"
    assert "Invalid API key" in reply.text
    assert REDACTED in reply.text
    assert vidgen_key[:8] not in reply.text
    assert vidgen_key[:8] not in capfd.readouterr().out


async def test_a_failed_job_whose_reason_echoes_the_key_is_stored_and_shown_without_it(
    vidgen_url: str, vidgen_key: str, serve_gateway: GatewayFactory, store: JobStore, capfd: pytest.CaptureFixture[str]
) -> None:
    """Vidgen reports the job FAILED with a reason quoting our key: the job record, the Video and the logs keep
    the reason without the key."""
    async with httpx.AsyncClient(base_url=vidgen_url) as emulator:
        body = msgspec.json.encode({"status": "FAILED", "error": f"billing for {vidgen_key}\nfailed"}).decode()
        await SandboxControl(emulator).arm(FaultSpec(action="status", status_code=200, body=body, times=-1))
    settings = gateway_settings(vidgen_url)
    async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url) as client:
        reply = await client.post("/v1/videos", json={"prompt": "a lighthouse"}, headers=auth())
        assert reply.status_code == 202, reply.text
        video = await wait_terminal(client, reply.json()["id"])
    assert video["status"] == "failed"
    assert video["error"]["message"] == f"billing for {REDACTED} failed"
    record = await store.get(video["id"])
    assert record is not None
    assert vidgen_key[:8] not in msgspec.json.encode(record).decode()
    assert vidgen_key[:8] not in capfd.readouterr().out
