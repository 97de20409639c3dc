"""The console's ops pages and sessions over HTTP without a browser: a session shared by two gateways on one Redis,
a job's status history and webhook log, per-key and per-team limits with inline errors, and the routing preview
against recent request shapes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import httpx
import pytest
import redis.asyncio as aioredis

from sandbox.serving import serve_app
from tests.conftest import GatewayFactory, gateway_settings, wait_terminal
from tests.console.conftest import ADMIN_KEY, VIDEOS_KEY, console_keyring
from tests.gateway.webhooks.conftest import SECRET_ENV, Receiver, new_secret, wait_delivery, webhook_config

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HTMX = {"HX-Request": "true"}


async def _sign_in(client: httpx.AsyncClient, key: str = ADMIN_KEY) -> str:
    """Sign in through the form (the client keeps the cookie); the session's CSRF token."""
    reply = await client.post("/console/login", data={"key": key})
    assert reply.status_code == 303, reply.text
    return _csrf((await client.get("/console/keys")).text)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


async def test_a_session_signed_in_on_one_replica_works_and_ends_on_the_other(two_replicas: tuple[str, str]) -> None:
    """Signed in through replica A, the same cookie opens replica B's pages with the same CSRF token and changes
    there; signing out on B sends the cookie back to sign-in on A too."""
    first, second = two_replicas
    async with httpx.AsyncClient(base_url=first) as a, httpx.AsyncClient(base_url=second) as b:
        token = await _sign_in(a)
        b.cookies.set("vg_console", a.cookies["vg_console"])
        page = await b.get("/console/keys")
        assert page.status_code == 200, page.text
        assert _csrf(page.text) == token
        created = await b.post("/console/keys", data={"csrf_token": token, "team": "studio", "id": "made-on-b"})
        assert created.status_code == 200, created.text
        assert "Key made-on-b created" in created.text
        assert (await b.post("/console/logout", data={"csrf_token": token})).status_code == 303
        reply = await a.get("/console/keys")
        assert (reply.status_code, reply.headers["location"]) == (303, "/console/login")


async def test_revoking_the_key_ends_its_session_on_both_replicas(two_replicas: tuple[str, str]) -> None:
    """A session of a key created on A ends on A and on B once the key is revoked through B's admin API."""
    first, second = two_replicas
    async with httpx.AsyncClient(base_url=first) as a, httpx.AsyncClient(base_url=second) as b:
        body = {"team": "ops", "scopes": ["admin"], "id": "ops-3"}
        created = await a.post("/v1/admin/keys", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
        await _sign_in(a, created.json()["key"])
        b.cookies.set("vg_console", a.cookies["vg_console"])
        assert (await b.get("/console/providers")).status_code == 200
        assert (await b.delete("/v1/admin/keys/ops-3", headers=ADMIN)).status_code == 200
        for client in (b, a):
            # A learns of the revocation by the control plane's notification: wait for its key ring to drop the key.
            reply = await _until_signed_out(client)
            assert (reply.status_code, reply.headers["location"]) == (303, "/console/login")


async def _until_signed_out(client: httpx.AsyncClient) -> httpx.Response:
    """The providers page once it no longer answers 200 (a replica applies a keys change within a second)."""
    for _ in range(100):
        reply = await client.get("/console/providers")
        if reply.status_code != 200:
            return reply
        await asyncio.sleep(0.05)
    return reply


def _rows(page: str, table: str) -> list[list[str]]:
    """The body cells of the table with id `table`, row by row, tags stripped."""
    body = page[page.index(f'<table id="{table}">') :].split("</table>")[0].split("<tbody>")[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in body.split("</tr>")
        if "<td" in row
    ]


async def test_a_job_shows_its_status_history_and_webhook_log(
    vidgen_url: str, serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Vidgen job whose receiver fails once: the jobs page lists the job's steps from queued (submitting) to
    completed, and the webhook delivered on its second attempt after a 500, as `/v1/videos/{id}/webhook` logs it."""
    monkeypatch.setenv(SECRET_ENV, new_secret())
    receiver = Receiver(fail_first=1)
    settings = gateway_settings(vidgen_url, extra=webhook_config())
    async with (
        serve_app(receiver.app()) as hook_url,
        serve_gateway(settings, keyring=console_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        body = {"prompt": "a heron", "webhook": {"url": f"{hook_url}/hook?token=receiver-secret"}}
        created = await client.post("/v1/videos", headers={"Authorization": f"Bearer {VIDEOS_KEY}"}, json=body)
        assert created.status_code == 202, created.text
        video_id = created.json()["id"]
        await wait_terminal(client, video_id, key=VIDEOS_KEY)
        log = await wait_delivery(client, video_id, key=VIDEOS_KEY)
        await _sign_in(client)
        page = (await client.get("/console/jobs", params={"job_id": video_id})).text

    steps = _rows(page, "status-history")
    assert [step[1:] for step in steps] == [
        ["queued", "submitting", "vidgen"],
        ["queued", "following", "vidgen"],
        ["in_progress", "following", "vidgen"],
        ["completed", "done", "vidgen"],
    ]
    assert all(step[0].endswith(" UTC") for step in steps)
    attempts = _rows(page, "webhook-attempts")
    assert [a[2] for a in attempts] == [str(a["status_code"]) for a in log["attempts"]] == ["500", "204"]
    assert '<strong class="state">delivered</strong>' in page
    assert "receiver-secret" not in page


async def test_a_key_rate_set_from_the_form_is_enforced_audited_and_removed(api: httpx.AsyncClient) -> None:
    """Through htmx: a 1/minute rate for the videos key `maker` is a new quotas version, audited as a `key`
    change, and its second create is a 429; every field empty removes the key's own limits."""
    token = await _sign_in(api)
    version = (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"]
    form = {"csrf_token": token, "version": str(version), "key": "maker", "requests": "1/minute"}
    reply = await api.post("/console/key-limits", data=form, headers=HTMX)
    assert (reply.status_code, reply.headers["hx-redirect"]) == (200, "/console/keys"), reply.text
    quotas = (await api.get("/v1/admin/quotas", headers=ADMIN)).json()
    unset = {"max_concurrent_jobs": None, "monthly_budget_usd": None, "monthly_video_seconds": None}
    assert (quotas["version"], quotas["value"]["keys"]) == (version + 1, {"maker": {"requests": "1/minute", **unset}})
    entry = (await api.get("/v1/admin/audit", params={"kind": "quotas"}, headers=ADMIN)).json()["data"][0]
    assert (entry["action"], entry["target"], entry["actor"]) == ("key", "maker", "ops")
    assert _rows((await api.get("/console/keys")).text, "key-limits") == [["1/minute", "—", "—", "—"]]
    maker = {"Authorization": f"Bearer {VIDEOS_KEY}"}
    first = await api.post("/v1/videos", json={"model": "sora-2", "prompt": "a paper boat"}, headers=maker)
    assert first.status_code == 202, first.text
    second = await api.post("/v1/videos", json={"model": "sora-2", "prompt": "a paper boat"}, headers=maker)
    assert second.status_code == 429, second.text
    cleared = {"csrf_token": token, "version": str(version + 1), "key": "maker"}
    assert (await api.post("/console/key-limits", data=cleared, headers=HTMX)).status_code == 200
    assert (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["value"]["keys"] == {}


async def test_a_malformed_or_stale_limit_form_shows_the_error_beside_it_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    """A negative budget is a 400 fragment naming the key's path, a key that does not exist a 400; a form of an
    older quotas version is a 412 fragment; the quotas version stays where it was."""
    token = await _sign_in(api)
    version = (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"]
    bad = {"csrf_token": token, "version": str(version), "key": "maker", "monthly_budget_usd": "-5"}
    reply = await api.post("/console/key-limits", data=bad, headers=HTMX)
    assert reply.status_code == 400
    assert reply.text.startswith('<p class="error" role="alert" id="error">')
    assert "$.quotas.keys.maker.monthly_budget_usd" in reply.text
    unknown = await api.post(
        "/console/key-limits", data={**bad, "key": "nobody", "monthly_budget_usd": "5"}, headers=HTMX
    )
    assert unknown.status_code == 400
    assert "no key &#39;nobody&#39;" in unknown.text
    stale = {"csrf_token": token, "version": str(version - 1), "team": "studio", "max_concurrent_jobs": "2"}
    reply = await api.post("/console/teams", data=stale, headers=HTMX)
    assert reply.status_code == 412
    assert 'id="error"' in reply.text
    assert (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"] == version


async def test_the_routing_preview_runs_the_recent_request_shapes_under_both_tables(api: httpx.AsyncClient) -> None:
    """Three sora-2 jobs of two shapes, 8 s twice then 10 s (the example catalogue: NanoGPT serves 4, 8 or 12 s,
    videogenapi 10 s only). A table that denies nanogpt lists each shape once, newest first, with its job count:
    8 s goes from nanogpt to none, 10 s stays on videogenapi. No prompt text shows."""
    maker = {"Authorization": f"Bearer {VIDEOS_KEY}"}
    bodies = [
        {"model": "sora-2", "prompt": "a lighthouse only we know", "seconds": 8},
        {"model": "sora-2", "prompt": "a lighthouse only we know", "seconds": 8},
        {"model": "sora-2", "prompt": "another secret harbour", "seconds": 10},
    ]
    for body in bodies:
        created = await api.post("/v1/videos", json=body, headers=maker)
        assert created.status_code == 202, created.text
    token = await _sign_in(api)
    table = (await api.get("/v1/admin/routing", headers=ADMIN)).json()["value"]
    edited = {**table, "rules": [{"name": "no-nanogpt", "deny": ["nanogpt"]}]}
    form = {"csrf_token": token, "routing": json.dumps(edited), "request": "{}"}
    reply = await api.post("/console/routing/shapes", data=form, headers=HTMX)
    assert reply.status_code == 200, reply.text
    shape = ["team-a", "sora-2", "generate", "t2v", "1", "0"]
    assert _rows(reply.text, "shapes") == [
        [*shape, "10", "1280x720", "1", "videogenapi", "videogenapi"],
        [*shape, "8", "1280x720", "2", "nanogpt", "no_provider_available (changes)"],
    ]
    assert "lighthouse" not in reply.text
    assert "harbour" not in reply.text


async def test_a_session_in_redis_holds_the_key_digest_and_csrf_token_only_and_expires(
    two_replicas: tuple[str, str], redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """One `console_session:<sha256 of the id>` key with a TTL of at most 8 hours, holding the key's sha256, the
    CSRF token and the expiry: neither the key nor the cookie's id; sign-out deletes it."""
    first, _ = two_replicas
    async with httpx.AsyncClient(base_url=first) as client:
        token = await _sign_in(client)
        session_id = client.cookies["vg_console"]
        names = [name async for name in redis_client.scan_iter(match=f"{redis_prefix}console_session:*")]
        assert [n.decode() for n in names] == [
            f"{redis_prefix}console_session:{hashlib.sha256(session_id.encode()).hexdigest()}"
        ]
        stored = await redis_client.get(names[0])
        assert 0 < await redis_client.ttl(names[0]) <= 8 * 3600
        record = json.loads(stored)
        assert set(record) == {"key_digest", "csrf_token", "expires_at"}
        assert (record["key_digest"], record["csrf_token"]) == (hashlib.sha256(ADMIN_KEY.encode()).hexdigest(), token)
        assert ADMIN_KEY.encode() not in stored
        assert session_id.encode() not in stored
        assert (await client.post("/console/logout", data={"csrf_token": token})).status_code == 303
        assert await redis_client.exists(names[0]) == 0
