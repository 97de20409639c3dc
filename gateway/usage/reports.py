"""Finance reports over the budget book: usage aggregates grouped by any of team, key, provider, model and day
(settled jobs plus what is reserved and not yet settled), CSV lines of the same, and the budget view per scope.

Pure functions over what the book returns; reading and HTTP are the route's (gateway/api/usage.py)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Literal

import msgspec

from gateway.errors import InvalidRequest
from gateway.schema.wire import about
from gateway.usage.budget import BudgetBook
from gateway.usage.quota_settings import QuotaSettings
from gateway.usage.records import COUNTERS, DayAggregate, Hold, LedgerRecord, ScopeKind, day_of

Dimension = Literal["team", "key", "provider", "model", "day"]
DIMENSIONS: tuple[Dimension, ...] = ("team", "key", "provider", "model", "day")
MAX_DAYS = 366
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


class UsageQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Jobs created (admitted) from `first_day` to `last_day`, both included (UTC)."""

    first_day: dt.date
    last_day: dt.date
    group_by: tuple[Dimension, ...]
    team: str | None = None
    provider: str | None = None
    model: str | None = None

    def starts_at(self) -> float:
        """The first day's UTC midnight: a job created that day settles no earlier."""
        return float(calendar.timegm(self.first_day.timetuple()))

    def days(self) -> list[str]:
        count = (self.last_day - self.first_day).days + 1
        return [(self.first_day + dt.timedelta(days=i)).isoformat() for i in range(count)]

    def selects(self, *, day: str, team: str, provider: str, model: str) -> bool:
        """A row of the query's days, and of its team, provider and model where it names them."""
        return (
            self.first_day.isoformat() <= day <= self.last_day.isoformat()
            and self.team in (None, team)
            and self.provider in (None, provider)
            and self.model in (None, model)
        )


class UsageRow(msgspec.Struct, kw_only=True):
    """One group's totals; only the grouped dimensions are present."""

    team: Annotated[str, about("The team (when grouped by team)")] | msgspec.UnsetType = msgspec.UNSET
    key: Annotated[str, about("The key id (when grouped by key)")] | msgspec.UnsetType = msgspec.UNSET
    provider: Annotated[str, about("The provider slug (when grouped by provider)")] | msgspec.UnsetType = msgspec.UNSET
    model: Annotated[str, about("The canonical model (when grouped by model)")] | msgspec.UnsetType = msgspec.UNSET
    day: Annotated[str, about("The UTC creation day (when grouped by day)")] | msgspec.UnsetType = msgspec.UNSET
    jobs: Annotated[int, about("Settled jobs in the group")] = 0
    succeeded: Annotated[int, about("Of them, completed")] = 0
    failed: Annotated[int, about("Of them, failed")] = 0
    cancelled: Annotated[int, about("Of them, cancelled")] = 0
    video_seconds: Annotated[int, about("Seconds of video billed")] = 0
    cost_micros: Annotated[int, about("Cost in micro-dollars")] = 0
    cost_usd: Annotated[float, about("The same cost in USD")] = 0.0
    reserved_not_settled_micros: Annotated[int, about("Held for jobs admitted and not settled, micro-dollars")] = 0
    reserved_not_settled_usd: Annotated[float, about("The same, USD")] = 0.0
    in_flight: Annotated[int, about("Jobs admitted and not settled yet")] = 0


class UsageReport(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["usage_report"], about("Always `usage_report`")] = "usage_report"
    from_day: Annotated[str, about("The first UTC day covered, YYYY-MM-DD")] = msgspec.field(name="from")
    to_day: Annotated[str, about("The last UTC day covered, YYYY-MM-DD")] = msgspec.field(name="to")
    group_by: Annotated[list[Dimension], about("The dimensions rows are grouped by")]
    data: Annotated[list[UsageRow], about("One row per group")]
    totals: Annotated[UsageRow, about("The same columns over every group")]


class BudgetRow(msgspec.Struct, kw_only=True):
    """One team's or key's month against its limits (null when it has none); `remaining` may go below zero when
    actual costs came in above their estimates."""

    scope: Annotated[ScopeKind, about("`team` or `key`")]
    name: Annotated[str, about("The team name or key id")]
    month: Annotated[str, about("The UTC month, YYYY-MM")]
    monthly_budget_micros: Annotated[int | None, about("The month's budget in micro-dollars; null: no limit")]
    monthly_budget_usd: Annotated[float | None, about("The same, USD")]
    spent_micros: Annotated[int, about("Settled cost this month, micro-dollars")]
    spent_usd: Annotated[float, about("The same, USD")]
    reserved_micros: Annotated[int, about("Held for jobs not settled yet, micro-dollars")]
    reserved_usd: Annotated[float, about("The same, USD")]
    remaining_micros: Annotated[int | None, about("Budget less spent and reserved; may go below zero")]
    remaining_usd: Annotated[float | None, about("The same, USD")]
    monthly_video_seconds: Annotated[int | None, about("The month's video-seconds limit; null: no limit")]
    spent_video_seconds: Annotated[int, about("Video seconds settled this month")]
    reserved_video_seconds: Annotated[int, about("Video seconds held for jobs not settled yet")]
    remaining_video_seconds: Annotated[int | None, about("The limit less spent and reserved")]
    max_concurrent_jobs: Annotated[int | None, about("Jobs that may run at once; null: no limit")]
    active_jobs: Annotated[int, about("Jobs running now")]


class BudgetView(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["list"], about("Always `list`")] = "list"
    month: Annotated[str, about("The UTC month, YYYY-MM")]
    data: Annotated[list[BudgetRow], about("One row per team and key")]


def parse_query(
    *,
    first: str | None,
    last: str | None,
    group_by: str | None,
    now: float,
    team: str | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> UsageQuery:
    """The report's parameters; a bad one is a 400 naming it. Defaults: this month so far, grouped by team; an
    empty filter is no filter."""
    today = dt.date.fromisoformat(day_of(now))
    first_day = _date(first, "from") if first else today.replace(day=1)
    last_day = _date(last, "to") if last else today
    if last_day < first_day:
        raise InvalidRequest("`to` is before `from`", code="invalid_value", param="to")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"at most {MAX_DAYS} days per report", code="invalid_value", param="to")
    return UsageQuery(
        first_day=first_day,
        last_day=last_day,
        group_by=_dimensions(group_by),
        team=team or None,
        provider=provider or None,
        model=model or None,
    )


def parse_month(month: str | None, *, now: float) -> str:
    if month is None:
        return day_of(now)[:7]
    if not _MONTH.match(month) or not 1 <= int(month[5:]) <= 12:
        raise InvalidRequest(f"`month` must be YYYY-MM, got {month!r}", code="invalid_value", param="month")
    return month


def _date(value: str, param: str) -> dt.date:
    try:
        if not _DAY.match(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"`{param}` must be a date YYYY-MM-DD, got {value!r}", param=param) from None


def _dimensions(value: str | None) -> tuple[Dimension, ...]:
    if value is None or not value.strip():
        return ("team",)
    chosen: list[Dimension] = []
    for part in (p.strip() for p in value.split(",")):
        match = next((d for d in DIMENSIONS if d == part), None)
        if match is None:
            known = ", ".join(DIMENSIONS)
            raise InvalidRequest(f"cannot group by {part!r}; choose from {known}", param="group_by")
        if match not in chosen:
            chosen.append(match)
    return tuple(chosen)


def usage_rows(query: UsageQuery, aggregates: Iterable[DayAggregate], holds: Iterable[Hold]) -> list[UsageRow]:
    """Settled aggregates and open holds the query selects, summed per group, sorted by group."""
    groups: dict[tuple[str, ...], UsageRow] = {}
    for aggregate in aggregates:
        if not query.selects(
            day=aggregate.day, team=aggregate.team, provider=aggregate.provider, model=aggregate.model
        ):
            continue
        row = _row(
            groups, query.group_by, aggregate.team, aggregate.key_id, aggregate.provider, aggregate.model, aggregate.day
        )
        for counter in COUNTERS:
            setattr(row, counter, getattr(row, counter) + getattr(aggregate, counter))
    for hold in holds:
        if not query.selects(day=hold.day, team=hold.team, provider=hold.provider, model=hold.model):
            continue
        row = _row(groups, query.group_by, hold.team, hold.key_id, hold.provider, hold.model, hold.day)
        row.reserved_not_settled_micros += hold.cost_micros
        row.in_flight += 1
    rows = [groups[k] for k in sorted(groups)]
    for row in rows:
        _dollars(row)
    return rows


def totals(rows: Sequence[UsageRow]) -> UsageRow:
    total = UsageRow()
    for row in rows:
        for counter in (*COUNTERS, "reserved_not_settled_micros", "in_flight"):
            setattr(total, counter, getattr(total, counter) + getattr(row, counter))
    return _dollars(total)


def _row(
    groups: dict[tuple[str, ...], UsageRow],
    by: Sequence[Dimension],
    team: str,
    key: str,
    provider: str,
    model: str,
    day: str,
) -> UsageRow:
    values = {"team": team, "key": key, "provider": provider, "model": model, "day": day}
    group = tuple(values[d] for d in by)
    row = groups.get(group)
    if row is None:
        row = groups[group] = msgspec.convert({d: values[d] for d in by}, UsageRow)
    return row


def _dollars(row: UsageRow) -> UsageRow:
    row.cost_usd = row.cost_micros / 1_000_000
    row.reserved_not_settled_usd = row.reserved_not_settled_micros / 1_000_000
    return row


_CSV_METRICS = (
    "jobs",
    "succeeded",
    "failed",
    "cancelled",
    "video_seconds",
    "cost_usd",
    "cost_micros",
    "reserved_not_settled_usd",
    "reserved_not_settled_micros",
    "in_flight",
)


def csv_lines(by: Sequence[Dimension], rows: Iterable[UsageRow]) -> Iterator[str]:
    """The report as CSV (header first); dollar columns exact to the micro-dollar, never through a float."""
    yield ",".join((*by, *_CSV_METRICS)) + "\r\n"
    for row in rows:
        cells = [_cell(str(getattr(row, d))) for d in by]
        for metric in _CSV_METRICS:
            if metric == "cost_usd":
                cells.append(exact_usd(row.cost_micros))
            elif metric == "reserved_not_settled_usd":
                cells.append(exact_usd(row.reserved_not_settled_micros))
            else:
                cells.append(str(getattr(row, metric)))
        yield ",".join(cells) + "\r\n"


class RecordRow(msgspec.Struct, kw_only=True):
    """A ledger record as finance reads it: the stored record with its times as ISO 8601 UTC strings and its cost
    in exact dollars beside the micro-dollars. One row per settled job."""

    job_id: Annotated[str, about("The gateway video id")]
    team: Annotated[str, about("The team that created it")]
    key_id: Annotated[str, about("The key that created it")]
    provider: Annotated[str, about("The provider that made it")]
    model: Annotated[str, about("The canonical model asked for")]
    status: Annotated[str, about("`completed`, `failed` or `cancelled`")]
    requested_seconds: Annotated[int, about("The seconds the request asked for")]
    video_seconds: Annotated[int, about("The seconds billed (0 when nothing was)")]
    size: Annotated[str | None, about("The output size, `WxH`, when known")]
    estimated_cost_micros: Annotated[int, about("The estimate held at admission, micro-dollars")]
    cost_micros: Annotated[int, about("The recorded cost, micro-dollars")]
    cost_usd: Annotated[str, about("The same, exact decimal USD")]
    cost_source: Annotated[str, about("`provider` (its reported cost) or `price_table`")]
    error_code: Annotated[str | None, about("For a failed job, the canonical error code")]
    created_at: Annotated[str, about("ISO 8601 UTC, to the millisecond")]
    completed_at: Annotated[str | None, about("ISO 8601 UTC; null for a job that never completed")]
    settled_at: Annotated[str, about("ISO 8601 UTC")]


class RecordList(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["list"], about("Always `list`")] = "list"
    from_day: Annotated[str, about("The first UTC day covered, YYYY-MM-DD")] = msgspec.field(name="from")
    to_day: Annotated[str, about("The last UTC day covered, YYYY-MM-DD")] = msgspec.field(name="to")
    data: Annotated[list[RecordRow], about("One record per settled job, in settlement order")]


def wanted(query: UsageQuery, record: LedgerRecord) -> bool:
    """A ledger record the query selects (its day is the job's creation day, like the aggregates')."""
    return query.selects(day=record.day, team=record.team, provider=record.provider, model=record.model)


def record_row(record: LedgerRecord) -> RecordRow:
    return RecordRow(
        job_id=record.job_id,
        team=record.team,
        key_id=record.key_id,
        provider=record.provider,
        model=record.model,
        status=record.status,
        requested_seconds=record.requested_seconds,
        video_seconds=record.video_seconds,
        size=record.size,
        estimated_cost_micros=record.estimated_cost_micros,
        cost_micros=record.cost_micros,
        cost_usd=exact_usd(record.cost_micros),
        cost_source=record.cost_source,
        error_code=record.error_code,
        created_at=iso_utc(record.created_at),
        completed_at=None if record.completed_at is None else iso_utc(record.completed_at),
        settled_at=iso_utc(record.settled_at),
    )


def iso_utc(epoch_s: float) -> str:
    """`2026-12-06T07:01:02.345Z`: ISO 8601 in UTC to the millisecond, what spreadsheets and databases parse."""
    moment = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_RECORD_FIELDS = tuple(RecordRow.__struct_fields__)
RECORD_CSV_HEADER = ",".join(_RECORD_FIELDS) + "\r\n"


def record_csv_line(record: LedgerRecord) -> str:
    """One ledger record as a CSV line (after `RECORD_CSV_HEADER`), in the JSON row's columns and values."""
    row = record_row(record)
    return ",".join("" if (v := getattr(row, f)) is None else _cell(str(v)) for f in _RECORD_FIELDS) + "\r\n"


_BUDGET_FIELDS = tuple(BudgetRow.__struct_fields__)
BUDGET_CSV_HEADER = ",".join(_BUDGET_FIELDS) + "\r\n"


def budget_csv_lines(view: BudgetView) -> Iterator[str]:
    """The budget view as CSV (header first), in the JSON row's columns; each `*_usd` column is its `*_micros`
    sibling as an exact decimal (never through a float), a null is an empty cell."""
    yield BUDGET_CSV_HEADER
    for row in view.data:
        cells = []
        for name in _BUDGET_FIELDS:
            value = getattr(row, name.removesuffix("_usd") + "_micros") if name.endswith("_usd") else getattr(row, name)
            if value is None:
                cells.append("")
            elif name.endswith("_usd"):
                cells.append(exact_usd(value))
            else:
                cells.append(_cell(str(value)))
        yield ",".join(cells) + "\r\n"


def exact_usd(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    return f"{sign}{abs(micros) // 1_000_000}.{abs(micros) % 1_000_000:06d}"


def _cell(value: str) -> str:
    """RFC 4180 quoting; a leading formula character is defused so a spreadsheet never evaluates a team name."""
    if value[:1] in ("=", "+", "-", "@"):
        value = "'" + value
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


async def budget_view(book: BudgetBook, quotas: QuotaSettings, *, month: str) -> BudgetView:
    """Every configured team and key, and every one active in the month, against its limits."""
    scopes: set[tuple[ScopeKind, str]] = {("team", t) for t in quotas.teams} | {("key", k) for k in quotas.keys}
    scopes |= set(await book.scopes(month))
    rows = []
    for kind, name in sorted(scopes):
        limits = quotas.for_team(name) if kind == "team" else quotas.for_key(name)
        allowance = limits.allowance()
        kept = await book.totals(kind, name, month)
        budget, seconds = allowance.budget_micros, allowance.video_seconds
        remaining = None if budget is None else budget - kept.spent_micros - kept.reserved_micros
        rows.append(
            BudgetRow(
                scope=kind,
                name=name,
                month=month,
                monthly_budget_micros=budget,
                monthly_budget_usd=None if budget is None else budget / 1_000_000,
                spent_micros=kept.spent_micros,
                spent_usd=kept.spent_micros / 1_000_000,
                reserved_micros=kept.reserved_micros,
                reserved_usd=kept.reserved_micros / 1_000_000,
                remaining_micros=remaining,
                remaining_usd=None if remaining is None else remaining / 1_000_000,
                monthly_video_seconds=seconds,
                spent_video_seconds=kept.spent_seconds,
                reserved_video_seconds=kept.reserved_seconds,
                remaining_video_seconds=None
                if seconds is None
                else seconds - kept.spent_seconds - kept.reserved_seconds,
                max_concurrent_jobs=allowance.max_concurrent_jobs,
                active_jobs=kept.active_jobs,
            )
        )
    return BudgetView(month=month, data=rows)
