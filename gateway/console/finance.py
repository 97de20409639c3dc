"""The console's finance pages (a key with the `admin` or `usage` scope): spend by team, provider or model over a
period, the same per day as charts and a table, the ledger records behind any figure, and the month's budgets with
their burn-down. Every figure is a row `/v1/usage` or `/v1/usage/budgets` returns (`gateway/usage/reports.py`),
and every view's CSV is the API's byte for byte: the console adds charts and links, never its own arithmetic of
money, save the burn-down's straight line and projection, which the API does not have."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from litestar.response import Stream
from litestar.types import ExceptionHandlersMap
from markupsafe import Markup

from gateway.api.http import to_gateway_error
from gateway.api.usage import csv_download, period_file, records_csv
from gateway.console.charts import BurnDown, Day, Mark, burn_down, legend, stacked_bars
from gateway.console.pages import _page, _to_login, _viewer
from gateway.console.sessions import Viewer
from gateway.errors import Forbidden, InvalidRequest
from gateway.usage.records import day_of
from gateway.usage.reports import (
    BudgetRow,
    Dimension,
    UsageQuery,
    UsageRow,
    budget_csv_lines,
    budget_view,
    csv_lines,
    exact_usd,
    parse_month,
    parse_query,
    record_row,
    usage_rows,
    wanted,
)
from gateway.videos.service import VideoService

_From = Annotated[str | None, QueryParameter(name="from", max_length=10)]
_To = Annotated[str | None, QueryParameter(name="to", max_length=10)]
_Filter = Annotated[str | None, QueryParameter(max_length=200)]
_By = Annotated[Literal["team", "provider", "model"], QueryParameter(name="by")]
_Format = Annotated[Literal["html", "csv"], QueryParameter()]
_GROUPS = ("team", "provider", "model")


def _finance(request: Request[Any, Any, Any]) -> Viewer | None:
    """The viewer of a finance page (None: not signed in); a key with neither `admin` nor `usage` is refused."""
    viewer = _viewer(request)
    if viewer is not None and not viewer.caller.scopes & {"admin", "usage"}:
        raise Forbidden("this key lacks the `usage` scope", code="missing_scope")
    return viewer


class Period(NamedTuple):
    """A finance view's period and filters, as `/v1/usage` takes them."""

    first: str | None
    last: str | None
    team: str | None
    provider: str | None
    model: str | None

    def query(self, request: Request[Any, Any, Any], *, group_by: str | None) -> UsageQuery:
        service: VideoService = request.app.state.service
        return parse_query(group_by=group_by, now=service.now(), **self._asdict())


def _period(
    first: _From = None, last: _To = None, team: _Filter = None, provider: _Filter = None, model: _Filter = None
) -> Period:
    """The query parameters every spend view shares (a dependency, so each handler names them once)."""
    return Period(first, last, team, provider, model)


_PERIOD = {"period": Provide(_period, sync_to_thread=False)}


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A malformed period, month or filter on a finance page: the page's frame with the error and a way back to
    the default view (a boosted form swaps it in whole), not the bare error envelope."""
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    error = to_gateway_error(exc)
    return _page(viewer, "finance_error.html", status_code=error.status_code, error=error, back=request.url.path)


_REFUSED: ExceptionHandlersMap = {InvalidRequest: _refused, ValidationException: _refused}


def link(path: str, query: UsageQuery, changes: Mapping[str, str] | None = None) -> str:
    """`path` with the query's period and filters, some changed: how a figure links to its records and a view to
    its CSV without losing a filter."""
    params = {"from": query.first_day.isoformat(), "to": query.last_day.isoformat()}
    params |= {name: value for name in _GROUPS if (value := getattr(query, name)) is not None}
    params |= changes or {}
    return f"{path}?{urlencode(params)}"


async def _rows(request: Request[Any, Any, Any], query: UsageQuery) -> list[UsageRow]:
    """The very rows `/v1/usage` returns for the query."""
    book = request.app.state.service.admission.book
    return usage_rows(query, await book.aggregates(query.days()), await book.holds())


# ------------------------------------------------------------------------------------------------ spend


@get("/usage", dependencies=_PERIOD, exception_handlers=_REFUSED)
async def usage_page(
    request: Request[Any, Any, Any],
    period: NamedDependency[Period],
    by: _By = "team",
    format: _Format = "html",
) -> Response[Any] | Stream:
    """Spend by team, provider or model over a period (default: this month); with `format=csv` the view as
    `/v1/usage?format=csv` writes it: the same figures to the micro-dollar."""
    viewer = _finance(request)
    if viewer is None:
        return _to_login()
    query = period.query(request, group_by=by)
    rows = await _rows(request, query)
    if format == "csv":
        return csv_download(csv_lines(query.group_by, rows), period_file("usage", query))
    return _page(viewer, "usage.html", query=query, group=by, groups=_GROUPS, rows=rows, link=link)


@get("/usage/daily", dependencies=_PERIOD, exception_handlers=_REFUSED)
async def daily_page(
    request: Request[Any, Any, Any],
    period: NamedDependency[Period],
    by: _By = "team",
    format: _Format = "html",
) -> Response[Any] | Stream:
    """Spend and video seconds per day by team, provider or model: two charts whose every bar segment links to
    its records, and the table `/v1/usage?group_by=day,<by>` returns (its CSV with `format=csv`)."""
    viewer = _finance(request)
    if viewer is None:
        return _to_login()
    query = period.query(request, group_by=f"day,{by}")
    rows = await _rows(request, query)
    if format == "csv":
        return csv_download(csv_lines(query.group_by, rows), period_file("usage-daily", query))
    series = chart_series(rows, by)

    def chart(ident: str, title: str, field: str, label: Callable[[int], str]) -> tuple[str, Markup]:
        days = per_day(query, rows, by, field, series)
        return title, stacked_bars(ident=ident, title=title, days=days, series=series, label=label)

    charts = [
        chart("spend-chart", f"Spend per day by {by}, USD", "cost_micros", exact_usd),
        chart("seconds-chart", f"Video seconds per day by {by}", "video_seconds", _seconds),
    ]
    return _page(
        viewer,
        "daily.html",
        query=query,
        group=by,
        groups=_GROUPS,
        rows=rows,
        charts=charts,
        legend=legend(series),
        link=link,
    )


OTHERS = "(the others)"
_CHARTED = 7


def chart_series(rows: list[UsageRow], by: Dimension) -> list[str]:
    """The groups a chart draws on their own: the seven that cost most over the range (then by name), and one
    series for the rest when there are more, so a chart stays readable and its page small (the table lists all)."""
    cost: dict[str, int] = {}
    for row in rows:
        name = str(getattr(row, by))
        cost[name] = cost.get(name, 0) + row.cost_micros
    ranked = sorted(cost, key=lambda name: (-cost[name], name))
    return ranked if len(ranked) <= _CHARTED + 1 else [*ranked[:_CHARTED], OTHERS]


def per_day(query: UsageQuery, rows: list[UsageRow], by: Dimension, field: str, series: list[str]) -> list[Day]:
    """Every day of the query (a day without usage too, so the time axis is even), each row's `field` a mark that
    links to the records of that day and group; the groups not in `series` summed into one unlinked mark a day."""
    marks: dict[str, list[Mark]] = {day: [] for day in query.days()}
    others: dict[str, int] = {}
    for row in rows:
        day, name = str(row.day), str(getattr(row, by))
        if name not in series:
            others[day] = others.get(day, 0) + getattr(row, field)
            continue
        href = link("/console/usage/records", query, {"from": day, "to": day, by: name})
        marks[day].append(Mark(series=name, value=getattr(row, field), href=href))
    for day, value in others.items():
        marks[day].append(Mark(series=OTHERS, value=value, href=None))
    return [Day(day=day, marks=day_marks) for day, day_marks in marks.items()]


def _seconds(value: int) -> str:
    return f"{value} s"


@get("/usage/records", dependencies=_PERIOD, exception_handlers=_REFUSED)
async def records_page(
    request: Request[Any, Any, Any],
    period: NamedDependency[Period],
    format: _Format = "html",
) -> Response[Any] | Stream:
    """The ledger records a figure adds up, selected as `/v1/usage/records` selects them (its CSV with
    `format=csv`)."""
    viewer = _finance(request)
    if viewer is None:
        return _to_login()
    query = period.query(request, group_by=None)
    book = request.app.state.service.admission.book
    if format == "csv":
        return csv_download(records_csv(book, query), period_file("usage-records", query))
    records = [record_row(r) async for r in book.records(settled_from=query.starts_at()) if wanted(query, r)]
    total = sum(r.cost_micros for r in records)
    return _page(viewer, "records.html", query=query, records=records, total_micros=total, link=link)


# ------------------------------------------------------------------------------------------------ budgets


class Measure(NamedTuple):
    """What a burn-down counts: money against the monthly budget, or video seconds against their monthly limit
    (the BudgetRow's and the day rows' field names, and how a figure is written)."""

    name: str
    limit: str
    spent: str
    per_day: str
    label: Callable[[int], str]


MEASURES = (
    Measure("USD", "monthly_budget_micros", "spent_micros", "cost_micros", exact_usd),
    Measure("video seconds", "monthly_video_seconds", "spent_video_seconds", "video_seconds", _seconds),
)


class Burn(NamedTuple):
    """A limited team's or key's month in one measure: the limit, what is spent, where a straight line from
    nothing to the limit stands today, where the pace so far ends the month (None before the month starts), and
    the chart of them with its title."""

    row: BudgetRow
    measure: Measure
    limit: int
    spent: int
    line_to_date: int
    projected: int | None
    title: str
    chart: Markup


@get("/budgets", exception_handlers=_REFUSED)
async def budgets_page(
    request: Request[Any, Any, Any],
    month: Annotated[str | None, QueryParameter(max_length=7)] = None,
    format: _Format = "html",
) -> Response[Any] | Stream:
    """Each team's and key's month against its budget (`/v1/usage/budgets`' rows, its CSV with `format=csv`),
    and for each limit (money, video seconds) its burn-down: spent to date against the straight line to the
    limit, and the month's end at the pace so far."""
    viewer = _finance(request)
    if viewer is None:
        return _to_login()
    service: VideoService = request.app.state.service
    now = service.now()
    chosen = parse_month(month, now=now)
    view = await budget_view(service.admission.book, service.admission.quotas, month=chosen)
    if format == "csv":
        return csv_download(budget_csv_lines(view), f"budgets-{chosen}.csv")
    limited = [(row, m) for row in view.data for m in MEASURES if getattr(row, m.limit)]
    days = await _daily_usage(request, chosen, now=now) if limited else {}
    burns = [
        burn(row, days.get((row.scope, row.name), {}), measure=m, month=chosen, now=now, ident=f"burn-{i}")
        for i, (row, m) in enumerate(limited)
    ]
    return _page(viewer, "budgets.html", view=view, elapsed=_month_elapsed(chosen, now), burns=burns)


async def _daily_usage(
    request: Request[Any, Any, Any], month: str, *, now: float
) -> dict[tuple[str, str], dict[str, UsageRow]]:
    """Settled usage per team and per key and day of the month up to `now`: the rows `/v1/usage?group_by=day,team`
    (or `day,key`) returns, by the jobs' creation day, as the month's spend is filed."""
    first, length = _month(month)
    last = min(first.replace(day=length), dt.date.fromisoformat(day_of(now)))
    if last < first:
        return {}
    book = request.app.state.service.admission.book
    aggregates = await book.aggregates(UsageQuery(first_day=first, last_day=last, group_by=()).days())
    usage: dict[tuple[str, str], dict[str, UsageRow]] = {}
    for scope in ("team", "key"):
        query = UsageQuery(first_day=first, last_day=last, group_by=("day", scope))
        for row in usage_rows(query, aggregates, []):
            usage.setdefault((scope, str(getattr(row, scope))), {})[str(row.day)] = row
    return usage


def burn(row: BudgetRow, days: Mapping[str, UsageRow], *, measure: Measure, month: str, now: float, ident: str) -> Burn:
    """A limited row's burn-down in `measure` at `now`: `days` are its settled day rows (by YYYY-MM-DD); the
    straight line and the projection scale the limit and the month's spent by the share of the month gone by.
    `ident` names the chart's elements, unique on the page."""
    limit, spent = getattr(row, measure.limit) or 0, getattr(row, measure.spent)
    first, length = _month(month)
    elapsed = _month_elapsed(month, now)
    today = dt.date.fromisoformat(day_of(now))
    cumulative, total = [], 0
    for offset in range(min(length, max((today - first).days + 1, 0))):
        day = days.get((first + dt.timedelta(days=offset)).isoformat())
        total += 0 if day is None else getattr(day, measure.per_day)
        cumulative.append(total)
    projected = round(spent / elapsed) if elapsed > 0 else None
    shape = BurnDown(budget=limit, days_in_month=length, spent=cumulative, gone=elapsed * length, projected=projected)
    title = f"Burn-down of {row.scope} {row.name}'s {measure.name} for {month}"
    chart = burn_down(ident=ident, title=title, month=shape, label=measure.label)
    return Burn(row, measure, limit, spent, round(limit * elapsed), projected, title, chart)


def _month(month: str) -> tuple[dt.date, int]:
    """The first day of `month` (YYYY-MM) and its number of days."""
    year, number = (int(part) for part in month.split("-"))
    return dt.date(year, number, 1), calendar.monthrange(year, number)[1]


def _month_elapsed(month: str, now: float) -> float:
    """How much of `month` (YYYY-MM, UTC) has gone by at `now`, from 0 to 1."""
    first, length = _month(month)
    start = calendar.timegm(first.timetuple())
    return min(max((now - start) / (length * 86_400), 0.0), 1.0)


FINANCE_ROUTES = (usage_page, daily_page, records_page, budgets_page)
