"""The console's finance pages without a browser: the charts as markup, the burn-down's arithmetic, and over HTTP
against a gateway with settled jobs, every view's figures and CSV against `/v1/usage`, `/v1/usage/records` and
`/v1/usage/budgets`, a chart's bar down to its records, filters kept in links, and the empty and signed-out states.
Expected figures are worked by hand from docs/finance.md and docs/console.md."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import httpx
import msgspec

from gateway.console.charts import Day, Mark, stacked_bars
from gateway.console.finance import MEASURES, burn, chart_series, per_day
from gateway.usage.reports import BudgetRow, UsageQuery, UsageRow, exact_usd
from tests.console.conftest import ADMIN_KEY, FINANCE_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FINANCE = {"Authorization": f"Bearer {FINANCE_KEY}"}
SORA = {"model": "sora-2", "prompt": "a paper boat"}
DEC_11 = 1796947200.0  # 2026-12-11T00:00:00Z: ten of December's 31 days gone


def test_stacked_bars_stack_each_day_link_each_segment_and_escape_names() -> None:
    """Day one: $1.50 for team-a and $0.50 for a team named with markup; day two: nothing. The tallest day fills
    the 220-pixel plot, so $1.50 is 165 pixels; each segment links to its records and names its exact figure."""
    days = [
        Day("2026-12-01", [Mark("team-a", 1_500_000, "/r?team=team-a"), Mark("<b>x</b>", 500_000, "/r?team=x&a=1")]),
        Day("2026-12-02", []),
    ]
    svg = str(stacked_bars(ident="t", title="Spend per day", days=days, series=["team-a", "<b>x</b>"], label=exact_usd))

    assert svg.startswith('<svg class="chart"')
    assert 'role="img"' in svg
    assert 'aria-labelledby="t-title t-desc"' in svg
    assert '<title id="t-title">Spend per day</title>' in svg
    assert "2 days from 2026-12-01 to 2026-12-02; highest day 2.000000." in svg
    assert svg.count("<rect") == 2
    assert 'height="165.0"' in svg
    assert 'height="55.0"' in svg
    assert '<a href="/r?team=team-a">' in svg
    assert '<a href="/r?team=x&amp;a=1">' in svg
    assert "<title>team-a, 2026-12-01: 1.500000</title>" in svg
    assert "&lt;b&gt;x&lt;/b&gt;, 2026-12-01: 0.500000" in svg
    assert "<b>" not in svg


def _budget_row(*, budget: int, spent: int) -> BudgetRow:
    fields = {
        "scope": "team",
        "name": "studio",
        "month": "2026-12",
        "monthly_budget_micros": budget,
        "monthly_budget_usd": budget / 1_000_000,
        "spent_micros": spent,
        "spent_usd": spent / 1_000_000,
        "reserved_micros": 0,
        "reserved_usd": 0.0,
        "remaining_micros": budget - spent,
        "remaining_usd": (budget - spent) / 1_000_000,
        "monthly_video_seconds": None,
        "spent_video_seconds": 0,
        "reserved_video_seconds": 0,
        "remaining_video_seconds": None,
        "max_concurrent_jobs": None,
        "active_jobs": 0,
    }
    return msgspec.convert(fields, BudgetRow)


def _day(day: str, *, cost_micros: int, video_seconds: int) -> UsageRow:
    fields = {"day": day, "team": "studio", "cost_micros": cost_micros, "video_seconds": video_seconds}
    return msgspec.convert(fields, UsageRow)


DAYS = {
    "2026-12-02": _day("2026-12-02", cost_micros=1_000_000, video_seconds=40),
    "2026-12-09": _day("2026-12-09", cost_micros=3_000_000, video_seconds=80),
}


def test_the_burn_down_draws_the_straight_line_and_projects_the_pace_to_the_months_end() -> None:
    """A $10 budget with $4 spent (on December 2 and 9) when ten of December's 31 days are gone: the straight
    line stands at $10 x 10/31 = $3.225806, the pace ends the month at $4 x 31/10 = $12.40, over the budget."""
    usd, _ = MEASURES
    row = _budget_row(budget=10_000_000, spent=4_000_000)
    shown = burn(row, DAYS, measure=usd, month="2026-12", now=DEC_11, ident="b")

    assert (shown.limit, shown.spent, shown.line_to_date, shown.projected) == (
        10_000_000,
        4_000_000,
        3_225_806,
        12_400_000,
    )
    chart = str(shown.chart)
    assert (
        "Spent 4.000000 in 10.0 of 31 days; budget 10.000000; at this pace 12.400000 by the month&#39;s end." in chart
    )
    assert "<title>Projected month end: 12.400000</title>" in chart
    assert "<title>The straight line to the budget</title>" in chart
    # Eleven points after the origin: the cumulative spend at the end of each day, today's (the 11th) so far.
    spent_line = re.search(r'<polyline points="([^"]+)" fill="none" stroke="#0072b2"', chart)
    assert spent_line is not None
    assert len(spent_line.group(1).split()) == 12


def test_the_video_seconds_limit_burns_down_the_same_way() -> None:
    """600 video seconds a month with 120 spent on the 11th: the line at 600 x 10/31 = 194 s (193.5 rounded),
    the pace 120 x 31/10 = 372 s by the month's end, within the limit."""
    _, seconds = MEASURES
    row = msgspec.structs.replace(
        _budget_row(budget=10_000_000, spent=4_000_000), monthly_video_seconds=600, spent_video_seconds=120
    )
    shown = burn(row, DAYS, measure=seconds, month="2026-12", now=DEC_11, ident="s")

    assert (shown.limit, shown.spent, shown.line_to_date, shown.projected) == (600, 120, 194, 372)
    assert "Spent 120 s in 10.0 of 31 days; budget 600 s; at this pace 372 s by the month&#39;s end." in str(
        shown.chart
    )
    assert shown.title == "Burn-down of team studio's video seconds for 2026-12"


def test_a_budget_month_not_started_has_no_projection() -> None:
    """January 2027 seen on December 11: no day gone, nothing spent, nothing projected, the line still at $0."""
    usd, _ = MEASURES
    shown = burn(_budget_row(budget=10_000_000, spent=0), {}, measure=usd, month="2027-01", now=DEC_11, ident="b")
    assert (shown.line_to_date, shown.projected) == (0, None)


# ------------------------------------------------------------------------------------------------ over HTTP


async def _settle_two_jobs(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Two sora-2 jobs of team ops, settled (the ledger has both)."""
    for prompt in ("a kite", "a lantern"):
        assert (await api.post("/v1/videos", json={**SORA, "prompt": prompt}, headers=ADMIN)).status_code == 202
    for _ in range(1200):  # bounded: 30 s
        records: list[dict[str, Any]] = (await api.get("/v1/usage/records", headers=FINANCE)).json()["data"]
        if len(records) == 2:
            return records
        await asyncio.sleep(0.025)
    raise AssertionError("the jobs did not settle")


async def _finance_session(api: httpx.AsyncClient) -> None:
    assert (await api.post("/console/login", data={"key": FINANCE_KEY})).status_code == 303


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


async def test_the_per_day_view_equals_usage_by_day_and_its_bars_drill_to_the_records(api: httpx.AsyncClient) -> None:
    """Per day by team: the CSV is `/v1/usage?group_by=day,team&format=csv` byte for byte; today's ops bar in the
    spend chart links to the records of that day and team, which are the two jobs and add up to the day's cost."""
    records = await _settle_two_jobs(api)
    await _finance_session(api)
    today = _today()
    api_csv = await api.get("/v1/usage", params={"group_by": "day,team", "format": "csv"}, headers=FINANCE)
    exported = await api.get("/console/usage/daily", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == api_csv.text
    [row] = (await api.get("/v1/usage", params={"group_by": "day,team"}, headers=FINANCE)).json()["data"]
    assert (row["day"], row["team"], row["jobs"]) == (today, "ops", 2)

    page = (await api.get("/console/usage/daily")).text
    assert page.count('<svg class="chart"') == 2
    assert "Spend per day by team, USD" in page
    assert "Video seconds per day by team" in page
    drill = f"/console/usage/records?from={today}&amp;to={today}&amp;team=ops"
    assert f'<a href="{drill}"><rect' in page
    assert f"<title>ops, {today}: {exact_usd(row['cost_micros'])}</title>" in page
    assert f'<td class="cost">{exact_usd(row["cost_micros"])}</td>' in page

    listed = (await api.get(drill.replace("&amp;", "&"))).text
    assert sorted(re.findall(r'<th scope="row">(video_[^<]+)</th>', listed)) == sorted(r["job_id"] for r in records)
    assert f'<td class="cost" id="records-total">{exact_usd(row["cost_micros"])}</td>' in listed


async def test_the_spend_view_keeps_its_filters_in_its_links_and_csv(api: httpx.AsyncClient) -> None:
    """Spend by model narrowed to the jobs' provider: the CSV and the records links keep the provider, and the
    CSV is `/v1/usage?group_by=model&provider=<it>&format=csv`'s."""
    [provider] = {r["provider"] for r in await _settle_two_jobs(api)}
    await _finance_session(api)
    params = {"by": "model", "provider": provider}
    page = (await api.get("/console/usage", params=params)).text
    export = re.search(r'<a href="([^"]+)" id="export-csv"', page)
    assert export is not None
    assert export.group(1).endswith(f"provider={provider}&amp;by=model&amp;format=csv")
    assert f"provider={provider}&amp;model=sora-2" in page
    exported = await api.get("/console/usage", params={**params, "format": "csv"})
    wanted = {"group_by": "model", "provider": provider, "format": "csv"}
    assert exported.text == (await api.get("/v1/usage", params=wanted, headers=FINANCE)).text
    assert exported.text.count("\r\n") == 2  # the header and sora-2's row


async def test_budgets_burn_down_and_export_the_budget_view(api: httpx.AsyncClient) -> None:
    """Team ops with a $50 budget after two settled jobs: its burn-down row shows the month's spend as
    `/v1/usage/budgets` has it, a chart, and the CSV is `/v1/usage/budgets?format=csv` byte for byte."""
    version = (await api.get("/v1/admin/quotas", headers=ADMIN)).json()["version"]
    headers = {**ADMIN, "If-Match": f'"{version}"'}
    assert (await api.put("/v1/admin/teams/ops", json={"monthly_budget_usd": 50}, headers=headers)).status_code == 200
    await _settle_two_jobs(api)
    await _finance_session(api)
    [ops] = [
        r
        for r in (await api.get("/v1/usage/budgets", headers=FINANCE)).json()["data"]
        if (r["scope"], r["name"]) == ("team", "ops")
    ]

    page = (await api.get("/console/budgets")).text
    row = page[page.index('<table id="burn-down">') :]
    row = row[row.index('data-name="team:ops"') :].split("</tr>")[0]
    assert "50.000000" in row
    assert f'<td class="cost spent">{exact_usd(ops["spent_micros"])}</td>' in row
    assert "Burn-down of team ops&#39;s USD for" in page
    exported = await api.get("/console/budgets", params={"format": "csv"})
    assert exported.headers["content-disposition"].startswith('attachment; filename="budgets-')
    assert exported.text == (await api.get("/v1/usage/budgets", params={"format": "csv"}, headers=FINANCE)).text
    assert f"team,ops,{ops['month']},50000000,50.000000,{ops['spent_micros']}," in exported.text


async def test_an_empty_period_says_so_and_draws_no_chart(api: httpx.AsyncClient) -> None:
    """A finance user on a month without usage sees the empty state and no chart; signed out, the page sends to
    sign-in."""
    assert (await api.get("/console/usage/daily")).headers["location"] == "/console/login"
    await _finance_session(api)
    page = (await api.get("/console/usage/daily", params={"from": "2026-01-01", "to": "2026-01-31"})).text
    assert "No usage in this period." in page
    assert "<svg" not in page


async def test_a_malformed_view_shows_its_error_inside_the_console(api: httpx.AsyncClient) -> None:
    """`to` before `from`, a month 13 and an unknown grouping: a 400 page with the console's navigation, the error
    naming the parameter, and a link back to the default view, where the API would answer the bare envelope."""
    await _finance_session(api)
    cases = [
        ("/console/usage/daily", {"from": "2026-12-05", "to": "2026-12-01"}, "`to` is before `from` <small>(to)"),
        ("/console/budgets", {"month": "2026-13"}, "`month` must be YYYY-MM, got &#39;2026-13&#39; <small>(month)"),
        ("/console/usage", {"by": "colour"}, "by: Invalid enum value &#39;colour&#39; <small>(by)"),
    ]
    for path, params, message in cases:
        reply = await api.get(path, params=params)
        assert reply.status_code == 400, path
        assert reply.headers["content-type"].startswith("text/html")
        assert '<p class="error" role="alert" id="error">' in reply.text
        assert message in reply.text
        assert '<a href="/console/usage/daily">Per day</a>' in reply.text
        assert f'<a href="{path}">Back to the default view</a>' in reply.text


def test_a_chart_draws_the_seven_costliest_groups_and_sums_the_rest_unlinked() -> None:
    """Nine teams on one day, team-1 costing $0.000001 up to team-9 costing $0.000009: the chart draws team-9 down
    to team-3 on their own, and team-1 and team-2 as one unlinked "(the others)" mark of $0.000003."""
    day = dt.date(2026, 12, 1)
    query = UsageQuery(first_day=day, last_day=day, group_by=("day", "team"))
    rows = [
        msgspec.convert({"day": "2026-12-01", "team": f"team-{n}", "cost_micros": n}, UsageRow) for n in range(1, 10)
    ]

    series = chart_series(rows, "team")
    [shown] = per_day(query, rows, "team", "cost_micros", series)

    assert series == ["team-9", "team-8", "team-7", "team-6", "team-5", "team-4", "team-3", "(the others)"]
    marks = {mark.series: mark for mark in shown.marks}
    assert (marks["(the others)"].value, marks["(the others)"].href) == (3, None)
    assert marks["team-3"].href == "/console/usage/records?from=2026-12-01&to=2026-12-01&team=team-3"
    assert len(shown.marks) == 8


def test_eight_groups_are_each_drawn_on_their_own() -> None:
    """Eight teams fit the palette: no "(the others)" series."""
    rows = [
        msgspec.convert({"day": "2026-12-01", "team": f"team-{n}", "cost_micros": n}, UsageRow) for n in range(1, 9)
    ]
    assert chart_series(rows, "team") == [f"team-{n}" for n in range(8, 0, -1)]
