"""Post-acceptance failover, the pure part: which upstream failures move a job to another provider, what the
job record keeps so its request can be planned again, and the record while the next provider is asked.
The submit itself is the service's (`VideoService.resubmit`); the poller calls it when a job ends failed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from gateway.jobs import Attempt, VideoJob
from providers.contract import ErrorClass, Failure, ImageData
from routing.router import RouteQuery

# The request itself is at fault: another provider would refuse it too (and content policy is never retried
# after acceptance, whatever `[failover] on_content_policy` says for submits: the output was generated and judged).
_FINAL_CLASSES = frozenset({ErrorClass.CONTENT_POLICY, ErrorClass.INVALID_REQUEST})

Resubmit = Callable[[VideoJob, Failure], Awaitable[VideoJob | None]]
"""Given a job whose accepted upstream job just failed (the stored record, unchanged) and the failure: the job
as stored after moving it to another provider, or None when it does not move (the caller fails it as usual)."""


def replay_of(query: RouteQuery, *, max_attempts: int) -> RouteQuery | None:
    """What a job record keeps to plan its request again: the route query when it can be kept whole and may be
    needed. A request carrying inline image bytes is not kept (the record holds digests, never image bytes),
    so such a job fails over at submit but not after acceptance."""
    if max_attempts < 2 or any(isinstance(image, ImageData) for image in query.request.images):
        return None
    return query


def next_query(job: VideoJob, failure: Failure) -> RouteQuery | None:
    """The query to plan the job's next attempt with (every provider tried so far excluded), or None when the job
    must end with this failure: a final class, no replayable request, or its attempts spent."""
    if failure.error_class in _FINAL_CLASSES or job.replay is None or len(job.attempts) >= job.max_attempts:
        return None
    tried = {attempt.provider for attempt in job.attempts}
    # A timeout with an unknown outcome may still run upstream: no provider is ever asked twice for one job.
    excluded = tuple(sorted(tried | set(job.replay.exclude_providers)))
    return msgspec.structs.replace(job.replay, exclude_providers=excluded)


def handing_over(job: VideoJob, failure: Failure, *, provider: str, now: float) -> VideoJob:
    """The record written before the next provider is asked: the failed attempt recorded, back to `submitting`
    (a replica lost now leaves a record the poller fails as outcome-unknown, never a second submit), progress
    reset, the provider about to be asked named, the previous upstream job forgotten."""
    failed = Attempt(provider=job.provider or "", outcome="failed", error_code=failure.error_class.value, at=now)
    attempts = list(job.attempts)
    if attempts and attempts[-1].provider == job.provider and attempts[-1].outcome == "accepted":
        attempts[-1] = failed  # the accepted attempt is the one that failed: one attempt, not two
    else:
        attempts.append(failed)
    return msgspec.structs.replace(
        job,
        phase="submitting",
        provider=provider,
        upstream=None,
        progress=0,
        error=None,
        attempts=tuple(attempts),
        consecutive_poll_errors=0,
        next_poll_at=None,
        updated_at=now,
        version=job.version + 1,
    )
