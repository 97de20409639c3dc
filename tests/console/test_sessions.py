"""Console sessions over HTTP without a browser: the key becomes an opaque HttpOnly SameSite=Strict cookie, every
change needs the session's CSRF token, pages carry a strict CSP, and logout or revoking the key ends the session."""

from __future__ import annotations

import re

import httpx

from tests.console.conftest import ADMIN_KEY, FINANCE_KEY, VIDEOS_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _signed_in(api: httpx.AsyncClient, key: str = ADMIN_KEY) -> tuple[str, str]:
    """(session cookie, CSRF token) after signing in through the form (the client keeps the cookie)."""
    reply = await api.post("/console/login", data={"key": key})
    assert reply.status_code == 303, reply.text
    session = reply.cookies["vg_console"]
    page = await api.get("/console/providers")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return session, match.group(1)


async def _drain(api: httpx.AsyncClient) -> bool:
    reply = await api.get("/v1/admin/providers/nanogpt", headers=ADMIN)
    drain: bool = reply.json()["value"]["drain"]
    return drain


async def test_sign_in_sets_an_opaque_strict_cookie(api: httpx.AsyncClient) -> None:
    """The reply's cookie is HttpOnly, SameSite=Strict, scoped to /console, and carries no part of the key."""
    reply = await api.post("/console/login", data={"key": ADMIN_KEY})
    cookie = reply.headers["set-cookie"].lower()
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/providers"
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    assert ADMIN_KEY.lower() not in cookie
    assert ADMIN_KEY[4:] not in reply.text


async def test_a_change_without_the_csrf_token_is_refused(api: httpx.AsyncClient) -> None:
    """Draining without the token, or with another, is a 403 `csrf_token_invalid` and the routing is unchanged."""
    _, token = await _signed_in(api)
    for data in ({"drain": "true", "version": "1"}, {"drain": "true", "version": "1", "csrf_token": "forged"}):
        reply = await api.post("/console/providers/nanogpt", data=data)
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "csrf_token_invalid"
    assert await _drain(api) is False
    version = (await api.get("/v1/admin/routing", headers=ADMIN)).json()["version"]
    data = {"drain": "true", "version": str(version), "csrf_token": token}
    reply = await api.post("/console/providers/nanogpt", data=data)
    assert reply.status_code == 200, reply.text
    assert await _drain(api) is True


async def test_pages_carry_a_strict_content_security_policy(api: httpx.AsyncClient) -> None:
    """The sign-in page allows scripts and styles from the gateway only, no inline ones, and no framing."""
    policy = (await api.get("/console/login")).headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy


async def test_logout_ends_the_session(api: httpx.AsyncClient) -> None:
    """After signing out, the old cookie leads back to the sign-in page."""
    session, token = await _signed_in(api)
    assert (await api.post("/console/logout", data={"csrf_token": token})).status_code == 303
    api.cookies.set("vg_console", session)  # the browser dropped it; an attacker who kept it tries again
    reply = await api.get("/console/providers")
    assert (reply.status_code, reply.headers["location"]) == (303, "/console/login")


async def test_revoking_the_key_ends_its_session(api: httpx.AsyncClient) -> None:
    """A session signed in with a key created through the admin API ends when that key is revoked."""
    created = await api.post("/v1/admin/keys", json={"team": "ops", "scopes": ["admin"], "id": "ops-2"}, headers=ADMIN)
    assert created.status_code == 201, created.text
    await _signed_in(api, created.json()["key"])
    assert (await api.get("/console/providers")).status_code == 200
    assert (await api.delete("/v1/admin/keys/ops-2", headers=ADMIN)).status_code == 200
    reply = await api.get("/console/providers")
    assert (reply.status_code, reply.headers["location"]) == (303, "/console/login")


async def test_a_videos_key_cannot_sign_in(api: httpx.AsyncClient) -> None:
    """A key with only the `videos` scope gets the sign-in page back with a 403 and no cookie."""
    reply = await api.post("/console/login", data={"key": VIDEOS_KEY})
    assert reply.status_code == 403
    assert "admin or usage scope" in reply.text
    assert "set-cookie" not in reply.headers


async def test_a_usage_key_sees_spend_but_no_ops_page(api: httpx.AsyncClient) -> None:
    """A finance session lands on the spend page; the providers page is a 403 `missing_scope` for it."""
    reply = await api.post("/console/login", data={"key": FINANCE_KEY})
    assert (reply.status_code, reply.headers["location"]) == (303, "/console/usage")
    assert (await api.get("/console/usage")).status_code == 200
    refused = await api.get("/console/providers")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "missing_scope"


async def test_budgets_show_a_team_limit_set_through_the_admin_api(api: httpx.AsyncClient) -> None:
    """A $250 monthly budget set for team-a shows on the finance budgets page with nothing spent yet."""
    version = (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"]
    headers = {**ADMIN, "If-Match": f'"{version}"'}
    assert (
        await api.put("/v1/admin/teams/team-a", json={"monthly_budget_usd": 250}, headers=headers)
    ).status_code == 200
    await api.post("/console/login", data={"key": FINANCE_KEY})
    page = (await api.get("/console/budgets")).text
    row = page[page.index('data-name="team:team-a"') :].split("</tr>")[0]
    assert "250.000000" in row
    assert '<td class="cost spent">0.000000</td>' in row


async def test_rotating_a_key_shows_a_new_secret_once_and_both_work(api: httpx.AsyncClient) -> None:
    """Rotate on the keys page shows a new secret; it and the old one (within the grace period) both authenticate."""
    created = (await api.post("/v1/admin/keys", json={"team": "ops", "id": "turn"}, headers=ADMIN)).json()
    _, token = await _signed_in(api)
    page = await api.post("/console/keys/turn/rotate", data={"csrf_token": token})
    assert page.status_code == 200, page.text
    assert "<title>Keys · video-gateway console</title>" in page.text
    match = re.search(r'<output id="issued-secret">([^<]+)</output>', page.text)
    assert match is not None
    fresh = match.group(1)
    assert fresh != created["key"]
    for secret in (fresh, created["key"]):
        reply = await api.get("/v1/videos", headers={"Authorization": f"Bearer {secret}"})
        assert reply.status_code == 200, reply.text
    assert fresh not in (await api.get("/console/keys")).text


async def test_team_limits_are_set_from_the_form_and_checked_as_the_file(api: httpx.AsyncClient) -> None:
    """The team form writes a budget and rate the admin API then reads; a malformed rate is a 400 naming it."""
    _, token = await _signed_in(api)
    version = str((await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"])
    form = {"csrf_token": token, "version": version, "team": "studio", "monthly_budget_usd": "120.5"}
    bad = await api.post("/console/teams", data={**form, "requests": "often"})
    assert bad.status_code == 400
    assert "requests" in bad.json()["error"]["message"]
    good = await api.post("/console/teams", data={**form, "requests": "60/minute"})
    assert good.status_code == 303, good.text
    team = (await api.get("/v1/admin/teams/studio", headers=ADMIN)).json()["value"]
    assert (team["monthly_budget_usd"], team["requests"]) == (120.5, "60/minute")
