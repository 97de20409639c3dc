"""Takes the screenshots in docs/console/ (`.venv/bin/python -m tests.console.screenshots`): the emulators and a
gateway on loopback, a few settled jobs, a drained provider and a new key, then each page in headless Chromium."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from gateway.app import create_app
from sandbox.serving import serve_app
from tests.conftest import example_settings, serve_sandbox
from tests.console.conftest import ADMIN_KEY, FINANCE_KEY, chromium, console_keyring, sign_in

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PAGES = ("providers", "routing", "keys", "replicas", "audit", "usage", "usage/records", "budgets")


def shoot(base: str, job_id: str) -> None:
    browser = chromium()
    try:
        browser.get(f"{base}/console/login")
        browser.save_screenshot(str(OUT / "login.png"))
        sign_in(browser, base, ADMIN_KEY)
        for page in PAGES:
            browser.get(f"{base}/console/{page}")
            browser.save_screenshot(str(OUT / f"{page.replace('/', '-')}.png"))
        browser.execute_script("document.getElementById('burn-down-charts').scrollIntoView()")
        browser.save_screenshot(str(OUT / "budgets-burn-down.png"))
        browser.get(f"{base}/console/usage/daily?by=provider")
        browser.save_screenshot(str(OUT / "usage-daily.png"))
        browser.get(f"{base}/console/routing")
        editor = browser.find_element(By.ID, "routing")
        editor.clear()
        editor.send_keys('{"rules": [{"name": "no-veo", "deny": ["veo"]}]}')
        browser.find_element(By.ID, "preview").click()
        browser.find_element(By.ID, "plans")
        browser.execute_script("document.getElementById('outcome').scrollIntoView()")
        browser.save_screenshot(str(OUT / "routing-preview.png"))
        browser.find_element(By.ID, "preview-shapes").click()
        browser.find_element(By.ID, "shapes")
        browser.execute_script("document.getElementById('outcome').scrollIntoView()")
        browser.save_screenshot(str(OUT / "routing-shapes.png"))
        browser.get(f"{base}/console/jobs?job_id={job_id}")
        browser.save_screenshot(str(OUT / "jobs.png"))
        browser.get(f"{base}/console/keys")
        browser.find_element(By.ID, "team").send_keys("team-new")
        browser.find_element(By.ID, "create-key").click()
        browser.save_screenshot(str(OUT / "keys-created.png"))
        sign_in(browser, base, FINANCE_KEY)
        browser.save_screenshot(str(OUT / "usage-finance.png"))
    finally:
        browser.quit()


async def main() -> None:
    with pytest.MonkeyPatch.context() as env:
        async with (
            serve_sandbox(env) as urls,
            serve_app(create_app(example_settings(urls), keyring=console_keyring())) as base,
        ):
            async with httpx.AsyncClient(base_url=base, timeout=30, headers=ADMIN) as api:
                job_id = ""
                for model in ("sora-2", "scenex", "videogen-clip"):
                    job_id = (await api.post("/v1/videos", json={"model": model, "prompt": "a kite"})).json()["id"]
                await api.put("/v1/admin/providers/veo", json={"drain": True}, headers={"If-Match": '"1"'})
                await api.put("/v1/admin/teams/ops", json={"monthly_budget_usd": 2}, headers={"If-Match": '"1"'})
                await asyncio.sleep(2)  # let the emulators finish and the ledger settle
            await asyncio.to_thread(shoot, base, job_id)


if __name__ == "__main__":
    asyncio.run(main())
