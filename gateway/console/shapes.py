"""Recent request shapes, for previewing a routing table against the traffic the gateway has seen: the distinct
shapes (team, model, operation, mode, scenes, images, seconds, size) of the latest jobs, each with the route query
its newest job kept to plan it again (`VideoJob.replay`). The query is planned, never shown: a shape carries no
prompt text, image or metadata value. A job without a kept query (inline bytes, or failover off) cannot be planned
again and is only counted."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from gateway.schema.job import VideoJob
from gateway.store.base import JobStore
from routing.planner import Planner
from routing.router import RouteQuery, UnknownModel


class Shape(msgspec.Struct, frozen=True, kw_only=True):
    """What routing looks at in a request, without its text."""

    team: str
    model: str
    operation: str
    mode: str
    scenes: int
    images: int
    seconds: int | None
    size: str | None


class Sample(msgspec.Struct, kw_only=True):
    """A shape, the query and metadata of its newest job (to plan), and how many of the jobs read had it."""

    shape: Shape
    query: RouteQuery
    metadata: dict[str, str]
    jobs: int = 1


class Recent(msgspec.Struct, frozen=True, kw_only=True):
    """The distinct shapes, newest first, and how many of the jobs read had no query to plan again."""

    samples: list[Sample]
    not_replayable: int


async def recent_shapes(store: JobStore, teams: Iterable[str], *, shapes: int, jobs_per_team: int) -> Recent:
    """Up to `shapes` distinct shapes among the latest `jobs_per_team` jobs of each team, newest first."""
    jobs: list[VideoJob] = []
    for team in sorted(set(teams)):
        page, _ = await store.list_team(team, limit=jobs_per_team, after=None, order="desc", status=None)
        jobs.extend(page)
    jobs.sort(key=lambda job: job.created_at, reverse=True)
    samples: dict[Shape, Sample] = {}
    not_replayable = 0
    for job in jobs:
        if job.replay is None:
            not_replayable += 1
            continue
        shape = _shape(job, job.replay)
        if shape in samples:
            samples[shape].jobs += 1
        elif len(samples) < shapes:
            samples[shape] = Sample(shape=shape, query=job.replay, metadata=dict(job.metadata))
    return Recent(samples=list(samples.values()), not_replayable=not_replayable)


def _shape(job: VideoJob, query: RouteQuery) -> Shape:
    request = query.request
    return Shape(
        team=job.team,
        model=query.model,
        operation="generate" if job.source is None else job.source.operation,
        mode=request.mode,
        scenes=len(request.scenes),
        images=len(request.images),
        seconds=request.seconds,
        size=job.size,
    )


async def first_choice(planner: Planner, sample: Sample) -> str:
    """The provider `planner` would send the sample's request to first, or why none (the outcome explain names)."""
    try:
        planned = await planner.plan(sample.query, team=sample.shape.team, metadata=sample.metadata)
    except UnknownModel:
        return "unknown_model"
    if planned.ranked:
        return planned.ranked[0].candidate.provider
    return "unsupported_request" if planned.plan.unservable else "no_provider_available"
