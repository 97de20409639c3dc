"""One headless Chromium (Debian's, through chromedriver) for the console's browser tests, and a gateway on the
example catalogue with an admin, a finance and a videos key. Selenium is synchronous: a test runs its browser steps
in a thread (`in_browser`) so the gateway, served on this test's event loop, keeps answering."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from gateway.auth import Caller, KeyRing, digest
from gateway.store.redis import RedisStore
from tests.conftest import REDIS_URL, GatewayFactory, example_settings

ADMIN_KEY = "vgk_test_console_admin_0001"
FINANCE_KEY = "vgk_test_console_finance_01"
VIDEOS_KEY = "vgk_test_console_videos_001"
T = TypeVar("T")


def console_keyring() -> KeyRing:
    return KeyRing(
        {
            digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"})),
            digest(FINANCE_KEY): Caller(key_id="finance", team="finance", scopes=frozenset({"usage"})),
            digest(VIDEOS_KEY): Caller(key_id="maker", team="team-a", scopes=frozenset({"videos"})),
        }
    )


def chromium() -> WebDriver:
    """Headless Chromium that records every request it makes (the performance log)."""
    binary, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or chromedriver is None:
        pytest.fail("chromium and chromedriver are needed: run .ci/ensure-chromium (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    browser.implicitly_wait(5)
    return browser


@pytest.fixture(scope="session")
def driver() -> Iterator[WebDriver]:
    """One browser for the session's console tests."""
    browser = chromium()
    yield browser
    browser.quit()


@pytest.fixture
async def console(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[str]:
    async with serve_gateway(example_settings(sandbox), keyring=console_keyring()) as url:
        yield url


@pytest.fixture
async def two_replicas(
    redis_prefix: str, sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> AsyncIterator[tuple[str, str]]:
    """Two consoles' gateways on one Redis prefix (one control plane, one session store): the base URL of each."""
    settings, keys = example_settings(sandbox), console_keyring()
    one, two = RedisStore.from_url(REDIS_URL, prefix=redis_prefix), RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    async with (
        serve_gateway(settings, keyring=keys, store=one) as first,
        serve_gateway(settings, keyring=keys, store=two) as second,
    ):
        yield first, second
    await one.close()
    await two.close()


@pytest.fixture
async def api(console: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console, timeout=30) as client:
        yield client


async def in_browser(steps: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(steps, *args)


def sign_in(browser: WebDriver, base: str, key: str) -> None:
    """Sign in through the form, from a browser with no console cookie."""
    browser.get(f"{base}/console/login")
    browser.delete_all_cookies()
    browser.get(f"{base}/console/login")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "sign-in").click()
    # The reply lands on a page (signed in: with the header) or back on the form with the refusal: wait for it, so
    # the next navigation cannot overtake the form post and its cookie.
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "header, #login-error"))


def requested_urls(browser: WebDriver) -> list[str]:
    """Every URL the browser requested since the last call."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
