"""`Failover.follow` records an accepted job and resizes its budget hold, starting both at once (so they can share a
round trip): a resize that failed alongside a write the store refused is made again once a write lands, a resize
that landed is not repeated, and a write another writer won leaves the error as before."""

from __future__ import annotations

import math
from typing import Any, cast

import msgspec
import pytest

from gateway.cadence import Cadence
from gateway.config import FailoverSettings
from gateway.errors import StoreUnavailable
from gateway.schema.job import VideoJob, new_job_id
from gateway.upstreams import Upstream
from gateway.videos.failover import Accepted, Failover
from providers.contract import UpstreamJob

T0 = 1_750_000_000.0


class Outage:
    """The store as the writer and the budget book see it: out for the first `writes_refused` writes."""

    def __init__(self, *, writes_refused: int, superseded: bool = False) -> None:
        self.writes_refused = writes_refused
        self.superseded = superseded
        self.writes = 0
        self.resizes: list[bool] = []  # each resize's outcome, in order

    def up(self) -> bool:
        return self.writes > self.writes_refused

    async def write(self, previous: VideoJob, updated: VideoJob) -> VideoJob | None:
        self.writes += 1
        if not self.up():
            raise StoreUnavailable("the job store is unreachable")
        return None if self.superseded else msgspec.structs.replace(updated, version=previous.version + 1)

    async def accepted(self, job: VideoJob, candidate: Any, *, deadline_at: float, reported_cost_micros: Any) -> bool:
        # Runs beside the write it was started with: the store is as that write found it.
        self.resizes.append(self.up())
        return self.resizes[-1]


def _failover(outage: Outage) -> Failover:
    cadence = Cadence(first_poll_s=5, interval_s=5, growth=1, max_interval_s=5, jitter=0)
    upstream = Upstream(adapter=cast(Any, None), enabled=True, max_job_duration_s=600, cadence=cadence)
    return Failover(
        planner=cast(Any, type("Planner", (), {"gate": None})()),
        upstreams={"vidgen": upstream},
        writer=cast(Any, outage),
        admission=cast(Any, outage),
        settings=FailoverSettings(),
        submit_grace_s=5,
        metrics=cast(Any, None),
        clock=lambda: T0,
        replica="r1",
    )


def _accepted() -> tuple[VideoJob, Accepted]:
    job = VideoJob(id=new_job_id(T0), team="team-a", key_id="key-a", model="scenex", created_at=T0, updated_at=T0)
    candidate = type("Candidate", (), {"provider": "vidgen", "model": "scenex", "seconds": 5, "size": None})()
    candidate.estimated_cost_micros, candidate.warnings = 100_000, ()
    upstream = UpstreamJob(provider="vidgen", upstream_id="run_1", upstream_model="scenex")
    return job, Accepted(upstream=upstream, candidate=cast(Any, candidate), attempts=())


async def test_with_the_store_up_the_write_and_one_resize_are_made_once() -> None:
    outage = Outage(writes_refused=0)
    job, accepted = _accepted()

    written = await _failover(outage).follow(job, accepted, record_until=math.inf)

    assert (written.phase, written.version, outage.writes, outage.resizes) == ("following", 2, 1, [True])


async def test_a_resize_lost_with_a_refused_write_is_made_again_once_a_write_lands() -> None:
    outage = Outage(writes_refused=2)
    job, accepted = _accepted()

    written = await _failover(outage).follow(job, accepted, record_until=math.inf)

    assert (written.phase, outage.writes, outage.resizes) == ("following", 3, [False, True])


async def test_a_write_another_writer_won_is_still_the_store_error() -> None:
    outage = Outage(writes_refused=0, superseded=True)
    job, accepted = _accepted()

    with pytest.raises(StoreUnavailable, match="changed before it could be recorded"):
        await _failover(outage).follow(job, accepted, record_until=math.inf)

    assert outage.resizes == [True]  # harmless: the winner (a delete) settles the job, which drops the hold
