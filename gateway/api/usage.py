"""Finance routes (`usage` scope; such a key sees every team): usage aggregates, the ledger records behind them
(JSON, or streamed CSV with `format=csv`), and the budget view per team and key. No try/except here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Literal

from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Response, Stream

from gateway.api.videos import Session
from gateway.usage.budget import BudgetBook
from gateway.usage.reports import (
    RECORD_CSV_HEADER,
    BudgetView,
    RecordList,
    UsageQuery,
    UsageReport,
    budget_csv_lines,
    budget_view,
    csv_lines,
    parse_month,
    parse_query,
    record_csv_line,
    record_row,
    totals,
    usage_rows,
    wanted,
)

_From = Annotated[str | None, QueryParameter(name="from", max_length=10, description="first UTC day, YYYY-MM-DD")]
_To = Annotated[str | None, QueryParameter(name="to", max_length=10, description="last UTC day, YYYY-MM-DD")]
_Team = Annotated[str | None, QueryParameter(max_length=200, description="only this team")]
_Provider = Annotated[str | None, QueryParameter(max_length=200, description="only this provider (slug)")]
_Model = Annotated[str | None, QueryParameter(max_length=200, description="only this canonical model")]
_Format = Annotated[Literal["json", "csv"], QueryParameter(description="`csv` streams text/csv, one row per line")]


@get(
    "/v1/usage",
    summary="Usage and cost by team, key, provider, model and day",
    operation_id="getUsage",
    responses={
        200: ResponseSpec(
            data_container=UsageReport, description="The report (text/csv with format=csv)", generate_examples=False
        )
    },
)
async def get_usage(
    session: NamedDependency[Session],
    first: _From = None,
    last: _To = None,
    group_by: Annotated[
        str | None, QueryParameter(max_length=200, description="comma list of team, key, provider, model, day")
    ] = None,
    team: _Team = None,
    provider: _Provider = None,
    model: _Model = None,
    format: _Format = "json",
) -> Response[UsageReport] | Stream:
    """Jobs created from `from` to `to` (UTC days, both included; default this month): settled jobs, succeeded,
    failed, cancelled, video seconds and cost, and what is reserved for jobs not yet settled. `group_by` is a
    comma list of team, key, provider, model, day (default team); `team`, `provider` and `model` narrow it to one."""
    session.caller.require("usage")
    service = session.service
    query = parse_query(
        first=first, last=last, group_by=group_by, team=team, provider=provider, model=model, now=service.now()
    )
    book = service.admission.book
    rows = usage_rows(query, await book.aggregates(query.days()), await book.holds())
    if format == "csv":
        return csv_download(csv_lines(query.group_by, rows), period_file("usage", query))
    report = UsageReport(
        from_day=query.first_day.isoformat(),
        to_day=query.last_day.isoformat(),
        group_by=list(query.group_by),
        data=rows,
        totals=totals(rows),
    )
    return Response(report)


@get(
    "/v1/usage/records",
    summary="The ledger: one record per settled job",
    operation_id="getUsageRecords",
    responses={
        200: ResponseSpec(
            data_container=RecordList, description="The records (text/csv with format=csv)", generate_examples=False
        )
    },
)
async def get_usage_records(
    session: NamedDependency[Session],
    first: _From = None,
    last: _To = None,
    team: _Team = None,
    provider: _Provider = None,
    model: _Model = None,
    format: _Format = "json",
) -> Response[RecordList] | Stream:
    """The settled jobs created from `from` to `to`, in settlement order: what `/v1/usage` adds up, narrowed
    like it by `team`, `provider` and `model`. Times are ISO 8601 UTC."""
    session.caller.require("usage")
    service = session.service
    query = parse_query(
        first=first, last=last, group_by=None, team=team, provider=provider, model=model, now=service.now()
    )
    book = service.admission.book
    if format == "csv":
        return csv_download(records_csv(book, query), period_file("usage-records", query))
    records = [record_row(r) async for r in book.records(settled_from=query.starts_at()) if wanted(query, r)]
    return Response(RecordList(from_day=query.first_day.isoformat(), to_day=query.last_day.isoformat(), data=records))


@get(
    "/v1/usage/budgets",
    summary="Each team's and key's month against its budget",
    operation_id="getBudgets",
    responses={
        200: ResponseSpec(
            data_container=BudgetView, description="The view (text/csv with format=csv)", generate_examples=False
        )
    },
)
async def get_budgets(
    session: NamedDependency[Session],
    month: Annotated[str | None, QueryParameter(max_length=7, description="UTC month, YYYY-MM")] = None,
    format: _Format = "json",
) -> Response[BudgetView] | Stream:
    """Limit, spent, reserved and remaining (USD and video seconds) for the month (default this one), and the
    concurrency in use now, for every configured team and key and every one active in the month."""
    session.caller.require("usage")
    service = session.service
    month = parse_month(month, now=service.now())
    view = await budget_view(service.admission.book, service.admission.quotas, month=month)
    if format == "csv":
        return csv_download(budget_csv_lines(view), f"budgets-{month}.csv")
    return Response(view)


def csv_download(lines: Iterator[str] | AsyncIterator[str], filename: str) -> Stream:
    """CSV lines streamed as a `text/csv` attachment named `filename` (the API's and the console's downloads)."""
    body = lines if isinstance(lines, AsyncIterator) else _each(lines)
    return Stream(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def period_file(name: str, query: UsageQuery) -> str:
    """`usage-2026-12-01-2026-12-06.csv`: the download's name, with the days it covers."""
    return f"{name}-{query.first_day}-{query.last_day}.csv"


async def _each(lines: Iterator[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def records_csv(book: BudgetBook, query: UsageQuery) -> AsyncIterator[str]:
    """The ledger records the query selects as CSV, header first (`/v1/usage/records?format=csv`, the console)."""
    yield RECORD_CSV_HEADER
    async for record in book.records(settled_from=query.starts_at()):
        if wanted(query, record):
            yield record_csv_line(record)
