"""The console driven in headless Chromium against a gateway over real sockets: an admin drains a provider and a
request avoids it, creates, uses and revokes a key; a videos key is refused; a change the browser sends without the
CSRF token is refused; and no page loads a URL outside the gateway. The finance user's walk is in
test_finance_browser.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from gateway.store.redis import RedisStore
from tests.conftest import REDIS_URL, GatewayFactory, example_settings
from tests.console.conftest import (
    ADMIN_KEY,
    VIDEOS_KEY,
    console_keyring,
    in_browser,
    requested_urls,
    sign_in,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SORA = {"model": "sora-2", "prompt": "a paper boat"}


def _text(browser: WebDriver, css: str) -> str:
    text: str = browser.find_element(By.CSS_SELECTOR, css).text
    return text


def _wait_text(browser: WebDriver, css: str, expected: str) -> None:
    # htmx swaps the table: an element read mid-swap is stale, and is read again.
    wait = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, css).text == expected)


async def test_admin_drains_a_provider_and_a_request_avoids_it(
    driver: WebDriver, console: str, api: httpx.AsyncClient
) -> None:
    """After the Drain button on nanogpt's row, a sora-2 job (nanogpt and videogenapi offer it) goes to videogenapi."""
    before = (await api.post("/v1/routing/explain", json=SORA, headers=ADMIN)).json()
    assert {c["provider"] for c in before["candidates"]} == {"nanogpt", "videogenapi"}

    def drain() -> None:
        sign_in(driver, console, ADMIN_KEY)
        assert _text(driver, "#provider-nanogpt .switches") == "serving"
        driver.find_element(By.CSS_SELECTOR, "#provider-nanogpt button[name=drain]").click()
        _wait_text(driver, "#provider-nanogpt .switches", "draining")

    await in_browser(drain)
    created = await api.post("/v1/videos", json=SORA, headers=ADMIN)
    assert created.status_code == 202, created.text
    assert created.json()["provider"] == "videogenapi"


async def test_admin_creates_uses_and_revokes_a_key(driver: WebDriver, console: str, api: httpx.AsyncClient) -> None:
    """The secret shown once after Create works on /v1/videos; after Revoke the same secret is a 401."""

    def create() -> str:
        sign_in(driver, console, ADMIN_KEY)
        driver.get(f"{console}/console/keys")
        driver.find_element(By.ID, "team").send_keys("team-new")
        driver.find_element(By.ID, "key-id").send_keys("new-key")
        driver.find_element(By.ID, "create-key").click()
        return _text(driver, "#issued-secret")

    secret = await in_browser(create)
    used = await api.post("/v1/videos", json=SORA, headers={"Authorization": f"Bearer {secret}"})
    assert used.status_code == 202, used.text

    def revoke() -> None:
        driver.get(f"{console}/console/keys")
        assert secret not in driver.page_source
        driver.find_element(By.ID, "revoke-new-key").click()
        _wait_text(driver, "#key-new-key .state", "revoked")

    await in_browser(revoke)
    refused = await api.post("/v1/videos", json=SORA, headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


async def test_a_videos_key_is_refused(driver: WebDriver, console: str) -> None:
    """Signing in with a videos-only key shows the refusal and leaves the pages closed."""

    def attempt() -> tuple[str, str]:
        sign_in(driver, console, VIDEOS_KEY)
        error = _text(driver, "#login-error")
        driver.get(f"{console}/console/providers")
        return error, driver.current_url

    error, landed = await in_browser(attempt)
    assert "admin or usage scope" in error
    assert landed == f"{console}/console/login"


async def test_a_change_without_the_csrf_token_is_refused_in_the_browser(
    driver: WebDriver, console: str, api: httpx.AsyncClient
) -> None:
    """The signed-in browser itself posts the Drain form's fields without its token (its session cookie goes along,
    same origin): a 403 `csrf_token_invalid`, and nanogpt still serves."""
    version = (await api.get("/v1/admin/routing", headers=ADMIN)).json()["version"]

    def forge() -> list[object]:
        sign_in(driver, console, ADMIN_KEY)
        driver.get(f"{console}/console/providers")
        script = """
            const done = arguments[arguments.length - 1];
            const body = new URLSearchParams({drain: "true", version: arguments[0]});
            fetch("/console/providers/nanogpt", {method: "POST", body: body, credentials: "same-origin"})
                .then(async (reply) => done([reply.status, (await reply.json()).error.code]));
        """
        reply: list[object] = driver.execute_async_script(script, str(version))
        return reply

    assert await in_browser(forge) == [403, "csrf_token_invalid"]
    explained = (await api.post("/v1/routing/explain", json=SORA, headers=ADMIN)).json()
    assert {c["provider"] for c in explained["candidates"]} == {"nanogpt", "videogenapi"}


async def test_the_pages_load_no_external_url(driver: WebDriver, console: str) -> None:
    """Every request the browser makes while an admin walks the pages goes to the gateway itself."""

    def walk() -> list[str]:
        requested_urls(driver)
        sign_in(driver, console, ADMIN_KEY)
        for page in ("providers", "keys", "usage", "usage/records", "providers"):
            driver.get(f"{console}/console/{page}")
        urls: list[str] = []

        def refreshed(browser: WebDriver) -> bool:
            """The providers table refreshes through htmx: wait for one such fetch."""
            urls.extend(requested_urls(browser))
            return any(u.endswith("/console/providers/table") for u in urls)

        WebDriverWait(driver, 15).until(refreshed)  # the first refresh is due 5 s after the page loads
        return urls

    urls = await in_browser(walk)
    assert any(u.endswith("/console/static/htmx.min.js") for u in urls)
    # data: URLs leave nothing to fetch (Chromium draws the date input's calendar icon with one).
    assert [u for u in urls if not u.startswith((console, "data:"))] == []


async def test_admin_sees_the_drain_in_the_audit_the_replica_version_and_the_job(
    driver: WebDriver, console: str, api: httpx.AsyncClient
) -> None:
    """After a drain through the API: the audit lists it, the replica runs routing version 2, and a job is found
    by id with the provider it went to."""
    drained = await api.put("/v1/admin/providers/nanogpt", json={"drain": True}, headers={**ADMIN, "If-Match": '"1"'})
    assert drained.status_code == 200, drained.text
    created = (await api.post("/v1/videos", json=SORA, headers=ADMIN)).json()

    def look() -> tuple[str, str, str, str]:
        sign_in(driver, console, ADMIN_KEY)
        driver.get(f"{console}/console/audit?kind=routing")
        target = _text(driver, "#audit tbody tr:first-child .target")
        driver.get(f"{console}/console/replicas")
        version = _text(driver, "#replicas tbody tr:first-child .routing")
        driver.get(f"{console}/console/jobs")
        driver.find_element(By.ID, "job-id").send_keys(created["id"])
        driver.find_element(By.ID, "find-job").click()
        return target, version, _text(driver, "#job .provider"), _text(driver, "#attempts tbody td:nth-child(3)")

    target, version, provider, outcome = await in_browser(look)
    assert (target, version, provider, outcome) == ("nanogpt", "2", "videogenapi", "accepted")


DENY_NANOGPT = {"name": "no-nanogpt", "deny": ["nanogpt"]}


@pytest.fixture
async def shared_redis(redis_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two replicas' stores on one Redis prefix: one control plane between them."""
    one, two = RedisStore.from_url(REDIS_URL, prefix=redis_prefix), RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_admin_edits_previews_applies_and_rolls_back_routing_seen_by_a_second_replica(
    driver: WebDriver,
    sandbox: dict[str, str],
    serve_gateway: GatewayFactory,
    shared_redis: tuple[RedisStore, RedisStore],
) -> None:
    """A bad table shows its path inline; a deny rule previews without nanogpt, applies as version 2 (which the
    second replica's console shows), and rolling back makes version 3 with nanogpt routed again."""
    settings, keys = example_settings(sandbox), console_keyring()
    one, two = shared_redis
    async with (
        serve_gateway(settings, keyring=keys, store=one) as base,
        serve_gateway(settings, keyring=keys, store=two) as second,
        httpx.AsyncClient(base_url=base, timeout=30, headers=ADMIN) as api,
    ):
        table = (await api.get("/v1/admin/routing")).json()["value"]
        edited = json.dumps({**table, "rules": [DENY_NANOGPT]})

        def edit(text: str) -> None:
            editor = driver.find_element(By.ID, "routing")
            editor.clear()
            editor.send_keys(text)

        def preview_and_apply() -> tuple[str, str, str, str]:
            sign_in(driver, base, ADMIN_KEY)
            driver.get(f"{base}/console/routing")
            edit('{"rules": [{"name": "a b"}]}')
            driver.find_element(By.ID, "preview").click()
            error = _text(driver, "#error")
            edit(edited)
            driver.find_element(By.ID, "preview").click()
            _wait_text(driver, "#plan-proposed .candidates", "videogenapi")
            active = _text(driver, "#plan-active .candidates")
            driver.find_element(By.ID, "apply").click()
            _wait_text(driver, "#history tbody tr:first-child th", "2")
            sign_in(driver, second, ADMIN_KEY)
            driver.get(f"{second}/console/replicas")
            versions = ",".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "#replicas td.routing"))
            return error, active, versions, driver.find_element(By.ID, "replicas").text

        error, active, versions, _ = await in_browser(preview_and_apply)
        assert "$.routing.rules[0].name" in error
        assert set(active.split(", ")) == {"nanogpt", "videogenapi"}
        assert versions == "2,2"
        planned = (await api.post("/v1/routing/explain", json=SORA)).json()
        assert [c["provider"] for c in planned["candidates"]] == ["videogenapi"]

        def roll_back() -> None:
            sign_in(driver, base, ADMIN_KEY)
            driver.get(f"{base}/console/routing")
            driver.find_element(By.ID, "rollback-1").click()
            _wait_text(driver, "#history tbody tr:first-child th", "3")

        await in_browser(roll_back)
        planned = (await api.post("/v1/routing/explain", json=SORA)).json()
        assert {c["provider"] for c in planned["candidates"]} == {"nanogpt", "videogenapi"}
