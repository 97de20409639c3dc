"""A finance user's walk through the console in headless Chromium, against a gateway over real sockets: the
team's month spend equals `/v1/usage` to the micro-dollar, drills to the ledger records, a bar of the per-day
chart drills to the same records, and every view's CSV is the API's byte for byte (spend, records, per day,
budgets). The rest of the finance pages is tested without a browser in test_finance.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.console.conftest import ADMIN_KEY, FINANCE_KEY, in_browser, requested_urls, sign_in

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FINANCE = {"Authorization": f"Bearer {FINANCE_KEY}"}
SORA = {"model": "sora-2", "prompt": "a paper boat"}


async def _settled(api: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    for _ in range(1200):  # bounded: 30 s
        records: list[dict[str, Any]] = (await api.get("/v1/usage/records", headers=FINANCE)).json()["data"]
        if len(records) == count:
            return records
        await asyncio.sleep(0.025)
    raise AssertionError("the jobs did not settle")


def _job_ids(browser: WebDriver) -> list[str]:
    return sorted(e.text for e in browser.find_elements(By.CSS_SELECTOR, "#records tbody th"))


async def test_finance_spend_matches_usage_down_to_records_and_csv(
    driver: WebDriver, console: str, api: httpx.AsyncClient
) -> None:
    """The team's month cost equals `/v1/usage` to the micro-dollar; its records link and the team's bar in the
    per-day chart both list the ledger's two rows; the budgets page draws a burn-down; the browser asks nothing of
    another host; the console's CSV of each view is the API's."""
    for prompt in ("a kite", "a lantern"):
        assert (await api.post("/v1/videos", json={**SORA, "prompt": prompt}, headers=ADMIN)).status_code == 202
    records = await _settled(api, 2)
    [row] = (await api.get("/v1/usage", headers=FINANCE)).json()["data"]
    micros = row["cost_micros"]
    assert micros > 0

    def review() -> tuple[str, list[str], list[str], str, list[str], dict[str, Any] | None]:
        requested_urls(driver)  # from here on
        sign_in(driver, console, FINANCE_KEY)
        assert driver.find_elements(By.LINK_TEXT, "Providers") == []
        cost = driver.find_element(By.CSS_SELECTOR, "tr[data-group=ops] .cost").text
        driver.find_element(By.CSS_SELECTOR, "tr[data-group=ops] a").click()
        from_row = _job_ids(driver)
        driver.find_element(By.LINK_TEXT, "Per day").click()
        driver.find_element(By.CSS_SELECTOR, "svg.chart a rect").click()
        from_bar = _job_ids(driver)
        total = driver.find_element(By.ID, "records-total").text
        driver.find_element(By.LINK_TEXT, "Budgets").click()
        driver.find_element(By.CSS_SELECTOR, "#burn-down-charts svg")
        return cost, from_row, from_bar, total, requested_urls(driver), driver.get_cookie("vg_console")

    cost, from_row, from_bar, total, urls, cookie = await in_browser(review)
    # data: URLs leave nothing to fetch (Chromium draws the date input's calendar icon with one).
    assert [url for url in urls if not url.startswith((f"{console}/", "data:"))] == []
    assert any(url.endswith("/console/budgets") for url in urls)
    assert cost == total == f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
    assert from_row == from_bar == sorted(r["job_id"] for r in records)
    assert cookie is not None
    api.cookies.set("vg_console", cookie["value"])
    views = [
        ("/console/usage", {}, "/v1/usage", {}),
        ("/console/usage/records", {"team": "ops"}, "/v1/usage/records", {"team": "ops"}),
        ("/console/usage/daily", {}, "/v1/usage", {"group_by": "day,team"}),
        ("/console/budgets", {}, "/v1/usage/budgets", {}),
    ]
    for page, params, route, same in views:
        exported = await api.get(page, params={**params, "format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.text == (await api.get(route, params={**same, "format": "csv"}, headers=FINANCE)).text, page
    ledger = await api.get("/console/usage/records", params={"team": "ops", "format": "csv"})
    assert ledger.text.count("\r\n") == 3  # the header and the two records
