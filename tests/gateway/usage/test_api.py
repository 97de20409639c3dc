"""The finance API: `/v1/usage` totals equal the sum of the ledger records (JSON and CSV, any grouping) and the
Prometheus counters, what is reserved shows until settled, bad parameters are 400s naming them, only `usage` keys
may read it, and the CLI prints the same report."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.store.base import JobStore
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY, GatewayFactory, auth, example_settings, gateway_settings
from tests.gateway.metrics.conftest import scrape, value
from tests.gateway.usage.conftest import FINANCE_KEY, usage_keyring

TODAY = dt.datetime.now(dt.UTC).date()
RANGE = {"from": (TODAY - dt.timedelta(days=1)).isoformat(), "to": (TODAY + dt.timedelta(days=1)).isoformat()}
JOBS = [
    ({"model": "scenex", "prompt": "a lighthouse"}, auth()),
    ({"model": "scenex", "scenes": [{"prompt": "a harbour at dawn"}, {"prompt": "at dusk"}]}, auth()),
    ({"model": "sora-2", "prompt": "a paper boat"}, auth(TEAM_B_KEY)),
    ({"model": "sora-2", "prompt": "a paper boat [sandbox:fail]"}, auth()),
    ({"model": "videogen-clip", "prompt": "a kite"}, auth(TEAM_B_KEY)),
]
METRICS = ("jobs", "succeeded", "failed", "cancelled", "video_seconds", "cost_micros")


async def usage(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await client.get("/v1/usage", params={**RANGE, **params}, headers=auth(FINANCE_KEY))


async def ledger(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    reply = await client.get("/v1/usage/records", params=RANGE, headers=auth(FINANCE_KEY))
    assert reply.status_code == 200, reply.text
    records: list[dict[str, Any]] = reply.json()["data"]
    return records


@pytest.fixture
async def settled_gateway(
    sandbox: dict[str, str], store: JobStore, serve_gateway: GatewayFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on the example catalogue where five jobs of two teams, one failing, have all settled."""
    async with (
        serve_gateway(example_settings(sandbox), store=store, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        for body, headers in JOBS:
            reply = await client.post("/v1/videos", json=body, headers=headers)
            assert reply.status_code == 202, reply.text
        for _ in range(400):
            if len(await ledger(client)) == len(JOBS):
                break
            await asyncio.sleep(0.025)
        yield client


def summed(records: list[dict[str, Any]], by: tuple[str, ...]) -> dict[tuple[str, ...], Counter[str]]:
    """The ledger records added up per group, as `/v1/usage` should report them."""
    outcome = {"completed": "succeeded", "failed": "failed", "cancelled": "cancelled"}
    groups: dict[tuple[str, ...], Counter[str]] = {}
    for r in records:
        values = {"team": r["team"], "key": r["key_id"], "provider": r["provider"], "model": r["model"]}
        values["day"] = r["created_at"][:10]
        counter = groups.setdefault(tuple(values[d] for d in by), Counter())
        counter.update({"jobs": 1, outcome[r["status"]]: 1})
        counter.update({"video_seconds": r["video_seconds"], "cost_micros": r["cost_micros"]})
    return groups


@pytest.mark.parametrize("group_by", ["team,key,provider,model,day", "team", "provider,model"])
async def test_usage_totals_equal_the_sum_of_the_ledger_records(
    settled_gateway: httpx.AsyncClient, group_by: str
) -> None:
    """Every row and the totals of `/v1/usage` equal the ledger records summed the same way."""
    records = await ledger(settled_gateway)
    assert len(records) == len(JOBS)
    assert {r["status"] for r in records} == {"completed", "failed"}
    report = (await usage(settled_gateway, group_by=group_by)).json()
    by = tuple(report["group_by"])
    expected = summed(records, by)
    got = {tuple(row[d] for d in by): Counter({m: row[m] for m in METRICS if row[m]}) for row in report["data"]}
    assert got == expected
    assert report["totals"]["cost_micros"] == sum(r["cost_micros"] for r in records) > 0
    assert report["totals"]["cost_usd"] == report["totals"]["cost_micros"] / 1_000_000
    assert (report["totals"]["jobs"], report["totals"]["failed"], report["totals"]["in_flight"]) == (5, 1, 0)
    # The Prometheus counters for the same window (this app settled every record) agree with both.
    samples = await scrape(settled_gateway)
    assert value(samples, "video_gateway_cost_usd_total") == pytest.approx(report["totals"]["cost_usd"], abs=1e-9)
    assert value(samples, "video_gateway_video_seconds_total") == report["totals"]["video_seconds"]
    assert value(samples, "video_gateway_settled_jobs_total") == len(records)


async def test_the_csv_report_carries_the_same_rows_exactly(settled_gateway: httpx.AsyncClient) -> None:
    """`format=csv` streams the JSON report's rows, dollar amounts exact to the micro-dollar."""
    as_json = (await usage(settled_gateway, group_by="team,provider")).json()["data"]
    reply = await usage(settled_gateway, group_by="team,provider", format="csv")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [(r["team"], r["provider"], int(r["cost_micros"]), int(r["jobs"])) for r in rows] == [
        (r["team"], r["provider"], r["cost_micros"], r["jobs"]) for r in as_json
    ]
    for row in rows:
        dollars, _, micros = row["cost_usd"].partition(".")
        assert int(dollars) * 1_000_000 + int(micros) == int(row["cost_micros"])


async def test_the_ledger_csv_has_one_line_per_record(settled_gateway: httpx.AsyncClient) -> None:
    """`/v1/usage/records?format=csv` lists the same jobs as the JSON ledger."""
    reply = await settled_gateway.get("/v1/usage/records", params={**RANGE, "format": "csv"}, headers=auth(FINANCE_KEY))
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert sorted(r["job_id"] for r in rows) == sorted(r["job_id"] for r in await ledger(settled_gateway))


async def test_a_team_filter_and_a_date_range_narrow_the_report(settled_gateway: httpx.AsyncClient) -> None:
    """`team=` keeps that team's jobs only; a range before today has none."""
    team_b = (await usage(settled_gateway, team="team-b")).json()
    assert [(row["team"], row["jobs"]) for row in team_b["data"]] == [("team-b", 2)]
    past = {"from": "2020-01-01", "to": "2020-01-31"}
    reply = await settled_gateway.get("/v1/usage", params=past, headers=auth(FINANCE_KEY))
    assert (reply.json()["data"], reply.json()["totals"]["jobs"]) == ([], 0)


async def test_provider_and_model_filters_narrow_the_report_and_the_ledger(settled_gateway: httpx.AsyncClient) -> None:
    """`provider=` and `model=` keep only that provider's or model's jobs, in the report and in the records."""
    by_provider = (await usage(settled_gateway, provider="videogen", group_by="provider")).json()
    assert [(row["provider"], row["jobs"]) for row in by_provider["data"]] == [("videogen", 1)]
    by_model = (await usage(settled_gateway, model="sora-2", group_by="model")).json()
    assert [(row["model"], row["jobs"], row["failed"]) for row in by_model["data"]] == [("sora-2", 2, 1)]
    reply = await settled_gateway.get(
        "/v1/usage/records", params={**RANGE, "model": "scenex"}, headers=auth(FINANCE_KEY)
    )
    assert [(r["model"], r["provider"]) for r in reply.json()["data"]] == [("scenex", "vidgen")] * 2
    nothing = (await usage(settled_gateway, provider="no-such-provider")).json()
    assert (nothing["data"], nothing["totals"]["jobs"]) == ([], 0)


async def test_ledger_times_are_iso_8601_utc_in_json_and_csv(settled_gateway: httpx.AsyncClient) -> None:
    """Every ledger time reads `YYYY-MM-DDTHH:MM:SS.mmmZ`, the same in the JSON records and their CSV."""
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    records = await ledger(settled_gateway)
    reply = await settled_gateway.get("/v1/usage/records", params={**RANGE, "format": "csv"}, headers=auth(FINANCE_KEY))
    rows = {r["job_id"]: r for r in csv.DictReader(io.StringIO(reply.text))}
    for record in records:
        for field in ("created_at", "completed_at", "settled_at"):
            assert iso.match(record[field]), (field, record[field])
            assert rows[record["job_id"]][field] == record[field]
        assert record["created_at"] <= record["settled_at"]


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v1/usage", {"provder": "vidgen"}, "`provder`"),
        ("/v1/usage/records", {"team": "team-a", "since": "2025-01-01"}, "`since`"),
        ("/v1/usage/budgets", {"team": "team-a"}, "`team`"),
    ],
)
async def test_unknown_query_parameters_are_a_400_naming_them(
    bare_gateway: httpx.AsyncClient, path: str, params: dict[str, str], named: str
) -> None:
    """A query parameter the route does not take (a mistyped filter) is refused by name, never ignored."""
    reply = await bare_gateway.get(path, params=params, headers=auth(FINANCE_KEY))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("unknown_parameter", named.strip("`"))
    assert named in error["message"]


@pytest.fixture
async def idle_gateway(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    """No poller: accepted jobs stay in flight, held and not settled."""
    settings = example_settings(sandbox)
    async with (
        serve_gateway(settings, keyring=usage_keyring(), run_poller=False) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def test_jobs_in_flight_show_as_reserved_not_settled(idle_gateway: httpx.AsyncClient) -> None:
    """Two accepted, unsettled scenex jobs: no settled job yet, two in flight holding $0.10 each."""
    for _ in range(2):
        reply = await idle_gateway.post("/v1/videos", json={"model": "scenex", "prompt": "x"}, headers=auth())
        assert reply.status_code == 202
    row = (await usage(idle_gateway, group_by="team,provider")).json()["data"]
    assert row == [
        {
            "team": "team-a",
            "provider": "vidgen",
            "jobs": 0,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
            "video_seconds": 0,
            "cost_micros": 0,
            "cost_usd": 0.0,
            "reserved_not_settled_micros": 200_000,
            "reserved_not_settled_usd": 0.2,
            "in_flight": 2,
        }
    ]


@pytest.fixture
async def bare_gateway(vidgen_key: str, serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    """No provider reachable: enough for what never reaches one."""
    async with (
        serve_gateway(gateway_settings("http://127.0.0.1:9"), keyring=usage_keyring(), run_poller=False) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v1/usage", {"from": "2025-13-01"}, "from"),
        ("/v1/usage", {"from": "20250101"}, "from"),
        ("/v1/usage", {"from": "2025-01-01T00"}, "from"),  # past its max length: litestar's check, not ours
        ("/v1/usage", {"from": "2025-03-10", "to": "2025-03-01"}, "to"),
        ("/v1/usage", {"from": "2024-01-01", "to": "2025-03-01"}, "to"),
        ("/v1/usage", {"group_by": "team,colour"}, "group_by"),
        ("/v1/usage", {"format": "xml"}, "format"),
        ("/v1/usage/records", {"to": "yesterday"}, "to"),
        ("/v1/usage/budgets", {"month": "2025-1"}, "month"),
        ("/v1/usage/budgets", {"month": "2025-13"}, "month"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    bare_gateway: httpx.AsyncClient, path: str, params: dict[str, str], param: str
) -> None:
    """Each malformed parameter is a 400 `invalid_request` envelope whose `param` names it."""
    reply = await bare_gateway.get(path, params=params, headers=auth(FINANCE_KEY))
    assert reply.status_code == 400, reply.text
    assert (reply.json()["error"]["type"], reply.json()["error"]["param"]) == ("invalid_request", param)


@pytest.mark.parametrize("path", ["/v1/usage", "/v1/usage/records", "/v1/usage/budgets"])
async def test_finance_routes_need_the_usage_scope(bare_gateway: httpx.AsyncClient, path: str) -> None:
    """A `videos` key gets 403 `missing_scope`; no key gets 401."""
    forbidden = await bare_gateway.get(path, headers=auth())
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "missing_scope")
    assert (await bare_gateway.get(path)).status_code == 401


async def test_budgets_list_configured_teams_before_they_spend(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """A team with a budget and no job yet shows its whole budget remaining; the limits come from the config."""
    import msgspec

    from gateway.usage.quota_settings import QuotaLimits, QuotaSettings

    quotas = QuotaSettings(teams={"team-z": QuotaLimits(monthly_budget_usd=25.5, monthly_video_seconds=600)})
    settings = msgspec.structs.replace(example_settings(sandbox), quotas=quotas)
    async with (
        serve_gateway(settings, keyring=usage_keyring(), run_poller=False) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        reply = await client.get("/v1/usage/budgets", headers=auth(FINANCE_KEY))
    assert reply.status_code == 200
    (row,) = reply.json()["data"]
    assert (row["scope"], row["name"], row["monthly_budget_micros"], row["remaining_micros"]) == (
        "team",
        "team-z",
        25_500_000,
        25_500_000,
    )
    assert (row["monthly_video_seconds"], row["remaining_video_seconds"], row["active_jobs"]) == (600, 600, 0)


async def test_the_budgets_csv_is_the_view_in_exact_dollars_and_the_cli_prints_it(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """`/v1/usage/budgets?format=csv` for team-z's $25.50 and 600 s: one line per row, dollars exact, no limit an
    empty cell; `video-gateway usage --budgets --csv` prints it as is."""
    import msgspec

    from gateway.usage.quota_settings import QuotaLimits, QuotaSettings

    quotas = QuotaSettings(teams={"team-z": QuotaLimits(monthly_budget_usd=25.5, monthly_video_seconds=600)})
    settings = msgspec.structs.replace(example_settings(sandbox), quotas=quotas)
    async with (
        serve_gateway(settings, keyring=usage_keyring(), run_poller=False) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        reply = await client.get("/v1/usage/budgets", params={"format": "csv"}, headers=auth(FINANCE_KEY))
        done = await asyncio.to_thread(run_cli, ["--budgets", "--csv", "--url", url], FINANCE_KEY)
    assert reply.headers["content-type"].startswith("text/csv")
    header, line = reply.text.splitlines(keepends=True)
    assert header.startswith("scope,name,month,monthly_budget_micros,monthly_budget_usd,spent_micros,")
    month = line.split(",")[2]
    assert line == f"team,team-z,{month},25500000,25.500000,0,0.000000,0,0.000000,25500000,25.500000,600,0,0,600,,0\r\n"
    assert done.returncode == 0, done.stderr
    assert done.stdout == reply.text


def run_cli(args: list[str], key: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process; its output decoded as is (no newline translation, CSV lines end in CRLF)."""
    env = {**os.environ, "VG_FINANCE_KEY": key}
    argv = [sys.executable, "-m", "gateway.cli", "usage", *args, "--key-env", "VG_FINANCE_KEY"]
    done = subprocess.run(argv, capture_output=True, env=env, timeout=60, check=False)  # noqa: S603
    return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode(), done.stderr.decode())


async def test_the_cli_prints_the_report_as_csv(idle_gateway: httpx.AsyncClient) -> None:
    """`video-gateway usage --from … --to … --group-by provider --csv` prints the API's CSV report as is."""
    for body in ({"model": "scenex", "prompt": "x"}, {"model": "sora-2", "prompt": "y"}):
        assert (await idle_gateway.post("/v1/videos", json=body, headers=auth())).status_code == 202
    url = str(idle_gateway.base_url)
    args = ["--from", RANGE["from"], "--to", RANGE["to"], "--group-by", "provider", "--csv", "--url", url]
    done = await asyncio.to_thread(run_cli, args, FINANCE_KEY)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (await usage(idle_gateway, group_by="provider", format="csv")).text
    assert [row["provider"] for row in csv.DictReader(io.StringIO(done.stdout))] == ["nanogpt", "vidgen"]


async def test_the_cli_exits_2_with_one_line_when_refused(bare_gateway: httpx.AsyncClient) -> None:
    """A key without the usage scope: exit status 2 and one line on stderr naming the status and error code."""
    done = await asyncio.to_thread(run_cli, ["--budgets", "--url", str(bare_gateway.base_url)], TEAM_A_KEY)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("video-gateway: GET /v1/usage/budgets: 403 missing_scope: ")
    assert done.stdout == ""
