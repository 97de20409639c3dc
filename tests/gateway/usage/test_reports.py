"""The usage arithmetic without a server: UTC days and months of a job, what a settled job adds to its day, the
report's grouping, filters, totals and dollars, its query parsing, the CSV cells and the budget view. Expected
figures are worked by hand from README "Usage and budgets" and docs/finance.md."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import msgspec
import pytest

from gateway.errors import InvalidRequest
from gateway.usage.budget import MemoryBudgetBook
from gateway.usage.quota_settings import UNLIMITED, QuotaSettings
from gateway.usage.records import DayAggregate, day_of, increments, month_of, scope_id
from gateway.usage.reports import (
    UsageQuery,
    budget_csv_lines,
    budget_view,
    csv_lines,
    exact_usd,
    iso_utc,
    parse_month,
    parse_query,
    record_csv_line,
    record_row,
    totals,
    usage_rows,
    wanted,
)
from tests.gateway.usage.conftest import MID_MARCH, hold, record

MARCH_31_LATE = 1743465599.0  # 2025-03-31T23:59:59Z
APRIL_1 = 1743465600.0  # 2025-04-01T00:00:00Z


def test_a_job_is_filed_under_the_utc_day_and_month_it_was_created_in() -> None:
    """The last second of March and the first of April fall in different days and months, in UTC."""
    assert (day_of(MARCH_31_LATE), month_of(MARCH_31_LATE)) == ("2025-03-31", "2025-03")
    assert (day_of(APRIL_1), month_of(APRIL_1)) == ("2025-04-01", "2025-04")
    assert hold("h", created_at=MARCH_31_LATE).month == "2025-03"
    assert hold("h", created_at=APRIL_1).day == "2025-04-01"
    assert record("r", created_at=APRIL_1).month == "2025-04"
    assert record("r", created_at=MARCH_31_LATE).day == "2025-03-31"
    assert scope_id("team", "team-a") == "team:team-a"


@pytest.fixture
def far_east_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set 14 hours east of UTC (a POSIX TZ string, no zone database needed)."""
    monkeypatch.setenv("TZ", "XST-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_east_zone")
def test_days_months_and_record_times_are_utc_whatever_the_machine_zone() -> None:
    """UTC+14 local time is already April for the last second of March UTC: the book still files it in March."""
    assert (day_of(MARCH_31_LATE), month_of(MARCH_31_LATE)) == ("2025-03-31", "2025-03")
    assert iso_utc(MARCH_31_LATE) == "2025-03-31T23:59:59.000Z"


@pytest.mark.parametrize(
    ("status", "outcome"), [("completed", "succeeded"), ("failed", "failed"), ("cancelled", "cancelled")]
)
def test_a_settled_job_adds_one_job_one_outcome_its_seconds_and_its_cost(status: str, outcome: str) -> None:
    """Each settled job counts once under its outcome, with its billed seconds and cost."""
    settled = record("r", status=status, cost_micros=250_000, video_seconds=5)  # type: ignore[arg-type]

    assert increments(settled) == {"jobs": 1, outcome: 1, "video_seconds": 5, "cost_micros": 250_000}


def _aggregate(day: str, team: str, provider: str, *, cost_micros: int, jobs: int = 1) -> DayAggregate:
    return DayAggregate(
        day=day,
        team=team,
        key_id=f"key-{team[-1]}",
        provider=provider,
        model="scenex",
        jobs=jobs,
        succeeded=jobs,
        video_seconds=5 * jobs,
        cost_micros=cost_micros,
    )


AGGREGATES = [
    _aggregate("2025-03-01", "team-a", "vidgen", cost_micros=100_000),
    _aggregate("2025-03-02", "team-a", "nanogpt", cost_micros=350_000, jobs=2),
    _aggregate("2025-03-02", "team-b", "vidgen", cost_micros=200_000),
    _aggregate("2025-04-01", "team-a", "vidgen", cost_micros=999_999),  # outside March
]


def _march() -> UsageQuery:
    return parse_query(first="2025-03-01", last="2025-03-31", group_by=None, now=MID_MARCH)


def test_rows_sum_settled_jobs_and_open_holds_per_group_within_the_days_asked() -> None:
    """Grouped by team over March: April is left out, holds count as reserved and in flight, dollars derive from
    micro-dollars, and the totals add the rows."""
    query = parse_query(first="2025-03-01", last="2025-03-31", group_by="team", now=MID_MARCH)
    holds = [hold("h1", cost_micros=400_000), hold("h2", team="team-b", cost_micros=1_990_000)]

    rows = usage_rows(query, AGGREGATES, holds)
    total = totals(rows)

    assert [(r.team, r.jobs, r.succeeded, r.video_seconds, r.cost_micros) for r in rows] == [
        ("team-a", 3, 3, 15, 450_000),
        ("team-b", 1, 1, 5, 200_000),
    ]
    assert [(r.reserved_not_settled_micros, r.in_flight) for r in rows] == [(400_000, 1), (1_990_000, 1)]
    assert [r.cost_usd for r in rows] == [0.45, 0.2]
    assert rows[1].reserved_not_settled_usd == 1.99
    assert (total.jobs, total.cost_micros, total.reserved_not_settled_micros, total.in_flight) == (
        4,
        650_000,
        2_390_000,
        2,
    )
    assert (total.cost_usd, total.reserved_not_settled_usd) == (0.65, 2.39)


def test_filters_and_several_dimensions_narrow_and_split_the_rows() -> None:
    """A provider filter keeps only its rows; grouping by provider and day splits them, sorted by group."""
    by_day = parse_query(first="2025-03-01", last="2025-03-31", group_by="provider,day", now=MID_MARCH)
    vidgen = parse_query(first="2025-03-01", last="2025-03-31", group_by="team", provider="vidgen", now=MID_MARCH)
    team_b = parse_query(first="2025-03-02", last="2025-03-02", group_by="model", team="team-b", now=MID_MARCH)

    assert [(r.provider, r.day, r.jobs) for r in usage_rows(by_day, AGGREGATES, [])] == [
        ("nanogpt", "2025-03-02", 2),
        ("vidgen", "2025-03-01", 1),
        ("vidgen", "2025-03-02", 1),
    ]
    assert [(r.team, r.cost_micros) for r in usage_rows(vidgen, AGGREGATES, [])] == [
        ("team-a", 100_000),
        ("team-b", 200_000),
    ]
    assert [(r.model, r.cost_micros) for r in usage_rows(team_b, AGGREGATES, [hold("h")])] == [("scenex", 200_000)]
    held = parse_query(first="2025-03-16", last="2025-03-16", group_by="model", model="other", now=MID_MARCH)
    assert usage_rows(held, AGGREGATES, [hold("h")]) == []


def test_a_query_defaults_to_this_month_so_far_by_team_and_names_a_bad_parameter() -> None:
    """No dates: the 1st of this month to today, by team; `to` before `from`, more than 366 days, a bad date or an
    unknown dimension is a 400 naming the parameter."""
    default = parse_query(first=None, last=None, group_by=None, now=MID_MARCH)
    assert (default.first_day, default.last_day, default.group_by) == (
        dt.date(2025, 3, 1),
        dt.date(2025, 3, 15),
        ("team",),
    )
    assert parse_query(first=None, last=None, group_by=" ", team="", now=MID_MARCH).team is None
    assert parse_query(first=None, last=None, group_by="day, team,day", now=MID_MARCH).group_by == ("day", "team")
    assert len(parse_query(first="2024-03-01", last="2025-02-28", group_by=None, now=MID_MARCH).days()) == 365
    refusals = [
        ({"first": "2025-03-02", "last": "2025-03-01", "group_by": None}, "to", "invalid_value"),
        ({"first": "2024-01-01", "last": "2025-01-01", "group_by": None}, "to", "invalid_value"),
        ({"first": "2025-3-1", "last": None, "group_by": None}, "from", "invalid_request"),
        ({"first": None, "last": "2025-02-30", "group_by": None}, "to", "invalid_request"),
        ({"first": None, "last": None, "group_by": "team,week"}, "group_by", "invalid_request"),
    ]
    for params, param, code in refusals:
        with pytest.raises(InvalidRequest) as refused:
            parse_query(now=MID_MARCH, **params)
        assert (refused.value.param, refused.value.code) == (param, code)
        if code == "invalid_request" and param != "group_by":
            assert repr(params["first"] or params["last"]) in refused.value.message  # names the bad date


def test_a_month_parameter_is_yyyy_mm_and_defaults_to_this_month() -> None:
    """`month` defaults to the current UTC month; a malformed or impossible month is a 400 on `month`."""
    assert parse_month(None, now=MID_MARCH) == "2025-03"
    assert parse_month("2025-12", now=MID_MARCH) == "2025-12"
    for bad in ("2025-13", "2025-00", "2025-1", "March"):
        with pytest.raises(InvalidRequest) as refused:
            parse_month(bad, now=MID_MARCH)
        assert (refused.value.param, refused.value.code) == ("month", "invalid_value")
        assert repr(bad) in refused.value.message  # the reply names what it was given


def test_dollar_columns_are_exact_and_cells_are_quoted_and_defused() -> None:
    """Micro-dollars print as exact dollars (negative too); a cell with a comma or quote is quoted, and a leading
    formula character is defused with an apostrophe."""
    assert [exact_usd(m) for m in (0, 1, 1_990_000, 12_345_678, -250_000)] == [
        "0.000000",
        "0.000001",
        "1.990000",
        "12.345678",
        "-0.250000",
    ]
    query = parse_query(first="2025-03-01", last="2025-03-31", group_by="team", now=MID_MARCH)
    rows = usage_rows(query, [_aggregate("2025-03-01", 'a,"b"', "vidgen", cost_micros=100_000)], [])
    rows += usage_rows(query, [_aggregate("2025-03-01", "=SUM(A1)", "vidgen", cost_micros=1)], [])
    lines = list(csv_lines(("team",), rows))

    assert lines[0] == (
        "team,jobs,succeeded,failed,cancelled,video_seconds,cost_usd,cost_micros,"
        "reserved_not_settled_usd,reserved_not_settled_micros,in_flight\r\n"
    )
    assert lines[1] == '"a,""b""",1,1,0,0,5,0.100000,100000,0.000000,0,0\r\n'
    assert lines[2] == "'=SUM(A1),1,1,0,0,5,0.000001,1,0.000000,0,0\r\n"


def test_a_ledger_record_row_has_iso_utc_times_and_exact_dollars() -> None:
    """Records as finance reads them: times in ISO 8601 UTC to the millisecond, cost in exact dollars, an empty
    CSV cell for a missing value; a record is selected by its creation day."""
    settled = record("job-1", cost_micros=1_990_000, created_at=MARCH_31_LATE)
    row = record_row(settled)

    assert iso_utc(1743465599.5) == "2025-03-31T23:59:59.500Z"
    assert (row.created_at, row.cost_usd, row.error_code) == ("2025-03-31T23:59:59.000Z", "1.990000", None)
    assert row.completed_at == "2025-04-01T00:00:29.000Z"
    assert row.settled_at == "2025-04-01T00:00:30.000Z"
    line = record_csv_line(settled)
    assert line.startswith("job-1,team-a,key-a,vidgen,scenex,completed,")
    assert ",1990000,1.990000," in line
    assert line.endswith("\r\n")
    assert row.size == "832x480"
    assert wanted(_march(), settled)
    assert not wanted(_march(), record("job-2", created_at=APRIL_1))
    for narrowed in ({"team": "team-b"}, {"provider": "nanogpt"}, {"model": "kling"}):
        query = parse_query(first="2025-03-01", last="2025-03-31", group_by=None, now=MID_MARCH, **narrowed)
        assert not wanted(query, settled), narrowed
        assert wanted(query, record("job-3", created_at=MARCH_31_LATE, **narrowed)), narrowed


async def test_the_budget_view_shows_limit_spent_reserved_and_remaining_per_scope() -> None:
    """A team with a $1.00 budget and 60 video-seconds, $0.25 spent and $0.10 held: remaining $0.65 and 50 s; a
    key active without limits shows nulls for what it has no limit on."""
    book = MemoryBudgetBook()
    await book.reserve(hold("held"), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("done", cost_micros=250_000), team=UNLIMITED, key=UNLIMITED)
    await book.settle(record("done", cost_micros=250_000, video_seconds=5))
    limits = {"monthly_budget_usd": 1.0, "monthly_video_seconds": 60, "max_concurrent_jobs": 3}
    quotas = msgspec.convert({"teams": {"team-a": limits}}, QuotaSettings)

    view = budget_view(book, quotas, month="2025-03")
    rows = {(r.scope, r.name): r for r in (await view).data}

    team = rows[("team", "team-a")]
    assert (team.monthly_budget_micros, team.spent_micros, team.reserved_micros) == (1_000_000, 250_000, 100_000)
    assert (team.remaining_micros, team.remaining_usd, team.spent_usd, team.reserved_usd) == (650_000, 0.65, 0.25, 0.1)
    assert (team.monthly_video_seconds, team.remaining_video_seconds, team.max_concurrent_jobs) == (60, 50, 3)
    assert team.monthly_budget_usd == 1.0
    assert team.active_jobs == 1
    key = rows[("key", "key-a")]
    assert (key.monthly_budget_micros, key.remaining_micros, key.remaining_usd) == (None, None, None)
    assert (key.monthly_video_seconds, key.remaining_video_seconds, key.max_concurrent_jobs) == (None, None, None)
    assert (key.spent_micros, key.reserved_micros) == (250_000, 100_000)


async def test_the_budget_csv_writes_each_row_in_exact_dollars_and_leaves_no_limit_empty() -> None:
    """The budget view of the test above as CSV: the JSON row's columns, `*_usd` as exact decimals of the micros
    ($0.65 remaining, not a float), an absent limit an empty cell."""
    book = MemoryBudgetBook()
    await book.reserve(hold("held"), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("done", cost_micros=250_000), team=UNLIMITED, key=UNLIMITED)
    await book.settle(record("done", cost_micros=250_000, video_seconds=5))
    quotas = msgspec.convert({"teams": {"team-a": {"monthly_budget_usd": 1.0}}}, QuotaSettings)

    header, key, team = budget_csv_lines(await budget_view(book, quotas, month="2025-03"))

    assert header == (
        "scope,name,month,monthly_budget_micros,monthly_budget_usd,spent_micros,spent_usd,reserved_micros,"
        "reserved_usd,remaining_micros,remaining_usd,monthly_video_seconds,spent_video_seconds,"
        "reserved_video_seconds,remaining_video_seconds,max_concurrent_jobs,active_jobs\r\n"
    )
    assert team == "team,team-a,2025-03,1000000,1.000000,250000,0.250000,100000,0.100000,650000,0.650000,,5,5,,,1\r\n"
    assert key == "key,key-a,2025-03,,,250000,0.250000,100000,0.100000,,,,5,5,,,1\r\n"


def test_a_query_covers_its_first_and_last_day_and_up_to_366_days() -> None:
    """Both ends are included: a one-day query, a leap year's 366 days; the first day starts at its UTC midnight;
    an aggregate on the last day counts, one the day before the first does not."""
    one_day = parse_query(first="2025-03-31", last="2025-03-31", group_by=None, now=MID_MARCH)
    assert one_day.days() == ["2025-03-31"]
    leap = parse_query(first="2024-01-01", last="2024-12-31", group_by=None, now=MID_MARCH)
    assert (len(leap.days()), leap.days()[0], leap.days()[-1]) == (366, "2024-01-01", "2024-12-31")
    assert _march().starts_at() == 1740787200.0  # 2025-03-01T00:00:00Z
    edges = [
        _aggregate("2025-02-28", "team-a", "vidgen", cost_micros=1),
        _aggregate("2025-03-31", "team-a", "vidgen", cost_micros=20),
    ]
    assert [(r.team, r.cost_micros) for r in usage_rows(_march(), edges, [])] == [("team-a", 20)]
    assert parse_month("2025-01", now=MID_MARCH) == "2025-01"


def test_every_open_hold_of_a_group_adds_up_after_one_left_out() -> None:
    """Holds are summed per group, and a hold outside the query (April) does not stop the ones after it."""
    holds = [hold("april", created_at=APRIL_1), hold("h1", cost_micros=400_000), hold("h2", cost_micros=50_000)]
    (row,) = usage_rows(_march(), [], holds)
    assert (row.team, row.reserved_not_settled_micros, row.in_flight) == ("team-a", 450_000, 2)


def test_each_filter_selects_on_its_own_dimension() -> None:
    """A model filter keeps that model's rows; a team filter that names no team keeps none; held jobs of the
    filtered model count, others do not."""
    rows = [
        _aggregate("2025-03-02", "team-a", "vidgen", cost_micros=10),
        msgspec.structs.replace(_aggregate("2025-03-02", "team-a", "vidgen", cost_micros=20), model="kling"),
    ]
    kling = parse_query(first="2025-03-01", last="2025-03-31", group_by="model", model="kling", now=MID_MARCH)
    holds = [hold("h1", model="kling", cost_micros=7), hold("h2", cost_micros=9)]
    assert [(r.model, r.cost_micros, r.reserved_not_settled_micros) for r in usage_rows(kling, rows, holds)] == [
        ("kling", 20, 7)
    ]
    for narrowed in ({"team": "team-b"}, {"provider": "nanogpt"}):
        query = parse_query(first="2025-03-01", last="2025-03-31", group_by="team", now=MID_MARCH, **narrowed)
        (held,) = usage_rows(query, [], [hold("h4", cost_micros=3, **narrowed), hold("h5", team="team-c")])
        assert (held.reserved_not_settled_micros, held.in_flight) == (3, 1), narrowed
    nobody = parse_query(first="2025-03-01", last="2025-03-31", group_by="team", team="team-z", now=MID_MARCH)
    assert usage_rows(nobody, rows, holds) == []
    by_key = parse_query(first="2025-03-01", last="2025-03-31", group_by="key,team", now=MID_MARCH)
    grouped = usage_rows(by_key, rows, [hold("h3", key_id="key-b", cost_micros=5)])
    assert [(r.key, r.team, r.cost_micros, r.in_flight) for r in grouped] == [
        ("key-a", "team-a", 30, 0),
        ("key-b", "team-a", 0, 1),
    ]
    assert totals([]) == msgspec.convert({}, type(grouped[0]))


def test_csv_rows_carry_reserved_dollars_and_every_grouped_dimension() -> None:
    """Grouped by provider and day: both dimensions lead each line, the reserved column in exact dollars; cells
    starting with any formula character are defused, and a line break or carriage return is quoted."""
    query = parse_query(first="2025-03-01", last="2025-03-31", group_by="provider,day", now=MID_MARCH)
    rows = usage_rows(query, [], [hold("h1", cost_micros=400_000, created_at=MID_MARCH)])
    lines = list(csv_lines(query.group_by, rows))
    assert lines[0].startswith("provider,day,jobs,")
    assert lines[1] == "vidgen,2025-03-15,0,0,0,0,0,0.000000,0,0.400000,400000,1\r\n"
    odd = ["+1", "-1", "@x", "a\rb", "a\nb", "plain-X"]
    teams = [usage_rows(_march(), [_aggregate("2025-03-01", t, "vidgen", cost_micros=0)], [])[0] for t in odd]
    cells = [line.split(",1,1,")[0] for line in csv_lines(("team",), teams)][1:]
    assert cells == ["'+1", "'-1", "'@x", '"a\rb"', '"a\nb"', "plain-X"]
    assert [exact_usd(m) for m in (1_000_000, 123_000_000_000)] == ["1.000000", "123000.000000"]


def test_a_ledger_record_line_is_every_column_in_order_with_empty_cells_for_nulls() -> None:
    """The CSV line of a failed job: every RecordRow column, an empty cell where the value is null (size,
    completion), the error code, times in ISO UTC."""
    failed = msgspec.structs.replace(
        record("job-9", status="failed", cost_micros=0, video_seconds=0, created_at=APRIL_1),
        size=None,
        completed_at=None,
        error_code="content_policy",
        estimated_cost_micros=1_500_000,
        requested_seconds=8,
    )
    assert record_csv_line(failed) == (
        "job-9,team-a,key-a,vidgen,scenex,failed,8,0,,1500000,0,0.000000,price_table,content_policy,"
        "2025-04-01T00:00:00.000Z,,2025-04-01T00:00:31.000Z\r\n"
    )
    row = record_row(failed)
    assert (row.completed_at, row.size, row.requested_seconds, row.estimated_cost_micros) == (None, None, 8, 1_500_000)


async def test_the_budget_view_lists_configured_and_active_scopes_of_the_month_in_order() -> None:
    """Configured keys without activity, active teams under the default limits and keys without any are listed,
    keys before teams, each by name; a scope active only in another month is not. A team over its budget and
    seconds shows them below zero."""
    book = MemoryBudgetBook()
    await book.reserve(hold("a1", cost_micros=100_000, video_seconds=4), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("a2", cost_micros=250_000, video_seconds=6), team=UNLIMITED, key=UNLIMITED)
    await book.settle(record("a2", cost_micros=250_000, video_seconds=6))
    await book.reserve(
        hold("b1", team="team-b", key_id="key-b", cost_micros=300_000, video_seconds=12), team=UNLIMITED, key=UNLIMITED
    )
    april = hold("c1", team="team-c", key_id="key-c", created_at=APRIL_1)
    await book.reserve(april, team=UNLIMITED, key=UNLIMITED)
    quotas = msgspec.convert(
        {
            "default_team": {"monthly_budget_usd": 0.2, "monthly_video_seconds": 10},
            "teams": {"team-a": {"monthly_budget_usd": 1.0, "monthly_video_seconds": 60, "max_concurrent_jobs": 3}},
            "keys": {"key-z": {"monthly_budget_usd": 0.5, "monthly_video_seconds": 10, "max_concurrent_jobs": 1}},
        },
        QuotaSettings,
    )

    view = await budget_view(book, quotas, month="2025-03")

    assert (view.object, view.month) == ("list", "2025-03")
    assert [(r.scope, r.name, r.month) for r in view.data] == [
        ("key", "key-a", "2025-03"),
        ("key", "key-b", "2025-03"),
        ("key", "key-z", "2025-03"),
        ("team", "team-a", "2025-03"),
        ("team", "team-b", "2025-03"),
    ]
    rows = {r.name: msgspec.structs.asdict(r) for r in view.data}
    assert rows["key-z"] == {
        "scope": "key",
        "name": "key-z",
        "month": "2025-03",
        "monthly_budget_micros": 500_000,
        "monthly_budget_usd": 0.5,
        "spent_micros": 0,
        "spent_usd": 0.0,
        "reserved_micros": 0,
        "reserved_usd": 0.0,
        "remaining_micros": 500_000,
        "remaining_usd": 0.5,
        "monthly_video_seconds": 10,
        "spent_video_seconds": 0,
        "reserved_video_seconds": 0,
        "remaining_video_seconds": 10,
        "max_concurrent_jobs": 1,
        "active_jobs": 0,
    }
    assert rows["team-a"] == {
        "scope": "team",
        "name": "team-a",
        "month": "2025-03",
        "monthly_budget_micros": 1_000_000,
        "monthly_budget_usd": 1.0,
        "spent_micros": 250_000,
        "spent_usd": 0.25,
        "reserved_micros": 100_000,
        "reserved_usd": 0.1,
        "remaining_micros": 650_000,
        "remaining_usd": 0.65,
        "monthly_video_seconds": 60,
        "spent_video_seconds": 6,
        "reserved_video_seconds": 4,
        "remaining_video_seconds": 50,
        "max_concurrent_jobs": 3,
        "active_jobs": 1,
    }
    team_b = rows["team-b"]
    assert (team_b["monthly_budget_micros"], team_b["reserved_micros"], team_b["remaining_micros"]) == (
        200_000,
        300_000,
        -100_000,
    )
    assert (team_b["remaining_usd"], team_b["remaining_video_seconds"], team_b["active_jobs"]) == (-0.1, -2, 1)
    assert (rows["key-b"]["monthly_budget_micros"], rows["key-b"]["reserved_video_seconds"]) == (None, 12)
