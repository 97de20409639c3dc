"""The ops pages in headless Chromium against two gateways on one Redis: one sign-in serves both replicas, a job's
status history, a key's limits with the error shown beside the form, the routing preview against recent request
shapes, and a sign-out that ends the session on both."""

from __future__ import annotations

import json

import httpx
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import wait_terminal
from tests.console.conftest import ADMIN_KEY, VIDEOS_KEY, in_browser, sign_in

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _wait(browser: WebDriver, css: str, contains: str) -> str:
    """The text of `css` once it contains `contains` (htmx swaps in place: a stale element is read again)."""
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda b: contains in b.find_element(By.CSS_SELECTOR, css).text)
    text: str = browser.find_element(By.CSS_SELECTOR, css).text
    return text


async def test_an_admin_signed_in_on_one_replica_works_the_ops_pages_of_the_other(
    driver: WebDriver, two_replicas: tuple[str, str]
) -> None:
    """Signed in on A, the browser reads a sora-2 job's history on B, sets a key's rate on B (a malformed one
    first: its error shows beside the form), previews a table denying nanogpt against the recent shape on A (the
    8 s sora-2 shape: nanogpt before, none after), and after signing out on A, B sends it to sign-in."""
    first, second = two_replicas
    async with httpx.AsyncClient(base_url=first, timeout=30) as api:
        body = {"model": "sora-2", "prompt": "a paper boat", "seconds": 8}
        created = await api.post("/v1/videos", json=body, headers={"Authorization": f"Bearer {VIDEOS_KEY}"})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        await wait_terminal(api, job_id, key=VIDEOS_KEY)
        table = (await api.get("/v1/admin/routing", headers=ADMIN)).json()["value"]
    edited = json.dumps({**table, "rules": [{"name": "no-nanogpt", "deny": ["nanogpt"]}]})

    def walk() -> tuple[str, str, str, str, str]:
        sign_in(driver, first, ADMIN_KEY)
        driver.get(f"{second}/console/jobs?job_id={job_id}")
        history = _wait(driver, "#status-history tbody tr:last-child", "completed")
        driver.get(f"{second}/console/keys")
        rate = driver.find_element(By.ID, "key-limit-requests")
        Select(driver.find_element(By.ID, "key-limit-key")).select_by_visible_text("maker")
        rate.send_keys("often")
        driver.find_element(By.ID, "set-key-limits").click()
        error = _wait(driver, "#key-form-error", "$.quotas.keys.maker")
        rate.clear()
        rate.send_keys("5/minute")
        driver.find_element(By.ID, "set-key-limits").click()
        limits = _wait(driver, "#key-limits tr[data-key=maker]", "5/minute")
        driver.get(f"{first}/console/routing")
        driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, "routing"), edited)
        driver.find_element(By.ID, "preview-shapes").click()
        shapes = _wait(driver, "#shapes tbody tr", "no_provider_available")
        driver.find_element(By.CSS_SELECTOR, "header .signout button").click()
        # The sign-out's own navigation first: a `get` sent while it is under way can be overtaken by it.
        WebDriverWait(driver, 15).until(lambda b: b.current_url == f"{first}/console/login")
        driver.get(f"{second}/console/keys")
        return history, error, limits, shapes, driver.current_url

    history, error, limits, shapes, landed = await in_browser(walk)
    assert history.split()[-3:] == ["completed", "done", "nanogpt"]
    assert "often" in error
    assert limits == "maker 5/minute — — —"
    assert shapes.split()[:8] == ["team-a", "sora-2", "generate", "t2v", "1", "0", "8", "1280x720"]
    assert shapes.split()[-3:] == ["nanogpt", "no_provider_available", "(changes)"]
    assert landed == f"{second}/console/login"
