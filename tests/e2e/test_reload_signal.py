"""SIGHUP reloads the routing rules of a running gateway process from its config file; a bad file is refused and
the old rules stay (README "Ops"). Spans a real OS process, since the signal goes to the process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import VIDGEN_KEY_ENV, auth, gateway_settings_text
from tests.e2e.processes import GatewayProcess, gateway_process


async def active_rules(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.get("/v1/routing/rules", headers=auth())
    assert reply.status_code == 200, reply.text
    rules: dict[str, Any] = reply.json()
    return rules


async def until(check: Any, replica: GatewayProcess) -> None:
    """Wait (bounded) for `check()`; a replica that died meanwhile fails the test with its log."""
    for _ in range(200):
        assert replica.process.poll() is None, f"the gateway exited:\n{replica.log()}"
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the condition did not hold in time:\n{replica.log()}")


async def test_sighup_reloads_the_rules_and_a_bad_file_leaves_them(
    vidgen_url: str, vidgen_key: str, tmp_path: Path
) -> None:
    """The file's default strategy goes from cheapest to fastest and SIGHUP applies it (new version); then a file
    with an unknown strategy is refused on SIGHUP (logged), and the process keeps the fastest rules."""
    text = gateway_settings_text(vidgen_url, extra='[routing]\ndefault_strategy = "cheapest"\n')
    config = tmp_path / "reloading.toml"
    async with (
        gateway_process(text, workdir=tmp_path, env={VIDGEN_KEY_ENV: vidgen_key}, name="reloading") as replica,
        httpx.AsyncClient(base_url=replica.url, timeout=10) as client,
    ):
        first = await active_rules(client)
        config.write_text(config.read_text().replace('"cheapest"', '"fastest"'))
        replica.process.send_signal(signal.SIGHUP)

        async def reloaded() -> bool:
            return (await active_rules(client))["version"] != first["version"]

        await until(reloaded, replica)
        second = await active_rules(client)
        config.write_text(config.read_text().replace('"fastest"', '"fastestt"'))
        replica.process.send_signal(signal.SIGHUP)

        async def refused() -> bool:
            return "routing_reload_rejected" in replica.log()

        await until(refused, replica)
        third = await active_rules(client)
        assert replica.process.poll() is None

    assert (first["rules"]["default_strategy"], second["rules"]["default_strategy"]) == ("cheapest", "fastest")
    assert third == second
    assert str(config) in replica.log()  # the refusal names the file
