"""Outgoing webhooks end to end over real sockets (gateway, Vidgen emulator, a receiver on loopback), on both
stores: signed per Standard Webhooks with the team secret, retried with backoff until a 2xx, the body the final
Video, the delivery log on the job; refused targets and unconfigured teams are 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import structlog

from gateway.logging import configure_logging
from gateway.store.base import JobStore
from sandbox.serving import serve_app
from tests.conftest import TEAM_B_KEY, GatewayFactory, auth, gateway_settings, wait_terminal
from tests.gateway.metrics.conftest import scrape, value
from tests.gateway.webhooks.conftest import SECRET_ENV, Receiver, new_secret, verify, wait_delivery, webhook_config


@pytest.fixture
def team_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = new_secret()
    monkeypatch.setenv(SECRET_ENV, secret)
    return secret


async def test_a_receiver_failing_three_times_gets_the_signed_final_video_on_the_fourth_attempt(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str, store: JobStore
) -> None:
    """Three 500s then a 2xx: delivered on the retry, every attempt logged, one webhook-id, signatures that
    verify with the team secret (and not with another), and the body exactly `GET /v1/videos/{id}`."""
    receiver = Receiver(fail_first=3)
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    async with (
        serve_app(receiver.app()) as hook_url,
        serve_gateway(settings, store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook"}}
        )
        assert created.status_code == 202, created.text
        video_id = created.json()["id"]
        assert created.json()["webhook"] == {"url": f"{hook_url}/hook"}
        done = await wait_terminal(client, video_id)
        log = await wait_delivery(client, video_id)
        final = await client.get(f"/v1/videos/{video_id}", headers=auth())
        samples = await scrape(client)

    assert done["status"] == "completed"
    assert value(samples, "video_gateway_webhook_deliveries_total", outcome="retrying") == 3
    assert value(samples, "video_gateway_webhook_deliveries_total", outcome="delivered") == 1
    assert [a["status_code"] for a in log["attempts"]] == [500, 500, 500, 204]
    assert log["url"] == f"{hook_url}/hook"
    assert log["finished_at"] is not None
    assert log["next_attempt_at"] is None
    assert len(receiver.calls) == 4
    assert {call.headers["webhook-id"] for call in receiver.calls} == {log["id"]}
    for call in receiver.calls:
        assert call.headers["content-type"] == "application/json"
        assert call.headers["webhook-timestamp"].isdigit()
        assert verify(team_secret, call.headers, call.body)
        assert not verify(new_secret(), call.headers, call.body)
    assert receiver.calls[-1].body == final.content
    assert final.json()["status"] == "completed"


async def test_a_delivery_is_marked_failed_once_its_retry_schedule_runs_out(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str, store: JobStore
) -> None:
    """A receiver that always fails gets one attempt plus one per scheduled retry, then the delivery is failed
    and nothing more is sent: a later job's webhook, delivered after it, shows the dispatcher ran on past it."""
    receiver, later_receiver = Receiver(fail_first=-1), Receiver()
    settings = gateway_settings(vidgen_url, extra=webhook_config(schedule_s="[0.05, 0.05]"))
    async with (
        serve_app(receiver.app()) as hook_url,
        serve_app(later_receiver.app()) as later_hook_url,
        serve_gateway(settings, store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook"}}
        )
        log = await wait_delivery(client, created.json()["id"], states=("delivered", "failed"))
        later = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a crane", "webhook": {"url": f"{later_hook_url}/hook"}}
        )
        await wait_delivery(client, later.json()["id"])
        # Past three more of the schedule's 0.05 s steps: a failed delivery still due would have been sent again.
        final = await wait_delivery(client, created.json()["id"], states=("failed",))

    assert log["state"] == "failed"
    assert [a["status_code"] for a in log["attempts"]] == [500, 500, 500]
    assert final["attempts"] == log["attempts"]
    assert len(receiver.calls) == 3
    assert len(later_receiver.calls) == 1


async def test_an_unreachable_receiver_is_logged_as_a_connection_error_and_retried(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str
) -> None:
    """With nothing listening, each attempt records an error and no status code, and the schedule still runs."""
    settings = gateway_settings(vidgen_url, extra=webhook_config(schedule_s="[0.05]"))
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        created = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": "http://127.0.0.1:9/hook"}}
        )
        log = await wait_delivery(client, created.json()["id"], states=("failed",))

    assert len(log["attempts"]) == 2
    for attempt in log["attempts"]:
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("connect_error")


async def test_the_delivery_log_waits_for_the_job_and_only_exists_for_jobs_with_a_webhook(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str
) -> None:
    """Before the job is terminal the log says `waiting`; a job without a webhook and another team's job are 404."""
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        stuck = await client.post(
            "/v1/videos",
            headers=auth(),
            json={"prompt": "a heron [sandbox:stuck]", "webhook": {"url": "http://127.0.0.1:9/hook"}},
        )
        plain = await client.post("/v1/videos", headers=auth(), json={"prompt": "a heron"})
        waiting = await client.get(f"/v1/videos/{stuck.json()['id']}/webhook", headers=auth())
        without = await client.get(f"/v1/videos/{plain.json()['id']}/webhook", headers=auth())
        other_team = await client.get(f"/v1/videos/{stuck.json()['id']}/webhook", headers=auth(TEAM_B_KEY))

    assert waiting.status_code == 200
    assert waiting.json()["state"] == "waiting"
    assert waiting.json()["attempts"] == []
    assert plain.json()["webhook"] is None
    assert (without.status_code, without.json()["error"]["code"]) == (404, "no_webhook")
    assert (other_team.status_code, other_team.json()["error"]["type"]) == (404, "not_found")


async def test_a_team_without_a_signing_secret_cannot_ask_for_a_webhook(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str
) -> None:
    """Team B has no `[webhooks.teams.team-b]`: its create with a webhook is a 400 naming that, and no job is made."""
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        reply = await client.post(
            "/v1/videos",
            headers=auth(TEAM_B_KEY),
            json={"prompt": "a heron", "webhook": {"url": "https://example.com/hook"}},
        )
        listed = await client.get("/v1/videos", headers=auth(TEAM_B_KEY))

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("webhook_not_configured", "webhook")
    assert "team-b" in error["message"]
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("http://127.0.0.1:8080/hook", "webhook.url"),
        ("http://localhost/hook", "webhook.url"),
        ("http://169.254.169.254/latest/meta-data", "webhook.url"),
        ("http://10.1.2.3/hook", "webhook.url"),
        ("http://[::1]/hook", "webhook.url"),
        ("http://2130706433/hook", "webhook.url"),
        ("https://user:password@example.com/hook", "webhook.url"),
        ("ftp://example.com/hook", "webhook.url"),
    ],
)
async def test_webhook_urls_the_gateway_must_not_call_are_refused(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str, url: str, param: str
) -> None:
    """With private hosts not allowed (the default), loopback, link-local, private and credentialed URLs are 400s."""
    settings = gateway_settings(vidgen_url, extra=webhook_config(allow_private=False))
    async with serve_gateway(settings) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        reply = await client.post("/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": url}})

    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["param"] == param
    assert "password" not in error["message"]


@pytest.mark.parametrize(
    ("sandbox", "url", "status"),
    [
        (False, "http://127.0.0.1:9/hook", 400),
        (True, "http://127.0.0.1:9/hook", 202),
        (True, "http://10.0.0.5/hook", 400),
    ],
)
async def test_the_sandbox_allows_loopback_receivers_and_nothing_else_private(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str, sandbox: bool, url: str, status: int
) -> None:
    """`create_app(sandbox=True)` (what `run --sandbox` serves) accepts a loopback receiver that is refused outside
    the sandbox, and still refuses a private network's."""
    settings = gateway_settings(vidgen_url, extra=webhook_config(allow_private=False))
    async with serve_gateway(settings, sandbox=sandbox) as base, httpx.AsyncClient(base_url=base) as client:
        reply = await client.post("/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": url}})

    assert reply.status_code == status, reply.text
    if status == 400:
        assert reply.json()["error"]["code"] == "invalid_webhook_url"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    previous = structlog.get_config()
    yield
    structlog.configure(**previous)


@pytest.mark.usefixtures("restore_logging")
async def test_the_signing_secret_never_appears_in_logs_or_replies(
    vidgen_url: str, serve_gateway: GatewayFactory, team_secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """With debug logging and the secret NOT registered with the redactor, a delivery that fails then succeeds
    leaves no trace of the secret (or its key part) in the logs, the Video or the delivery log."""
    configure_logging("debug")
    receiver = Receiver(fail_first=1)
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    async with (
        serve_app(receiver.app()) as hook_url,
        serve_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post(
            "/v1/videos", headers=auth(), json={"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook"}}
        )
        video = await wait_terminal(client, created.json()["id"])
        log = await wait_delivery(client, video["id"])
    output = "".join(capfd.readouterr())

    key_part = team_secret.removeprefix("whsec_")
    assert "webhook_delivered" in output
    for text in (output, created.text, json.dumps(video), json.dumps(log)):
        assert key_part not in text
