"""The job record the store keeps and the pure transitions on it; no I/O here.

Images are kept as digest and size only, never their bytes."""

from __future__ import annotations

import secrets
from typing import Literal, Protocol

import msgspec

from gateway.errors import UPSTREAM_CODES
from gateway.schema.wire import (
    RoutingAttempt,
    Video,
    VideoError,
    VideoExtraOutput,
    VideoOutput,
    VideoRouting,
    VideoUsage,
    VideoWebhook,
)
from providers.contract import (
    TERMINAL_STATUSES,
    CanonicalStatus,
    Failure,
    Output,
    UpstreamJob,
    UpstreamStatus,
    VideoOperation,
)
from routing.router import RouteQuery

Phase = Literal["submitting", "following", "done"]


class ImageRef(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    url: str | None = None
    digest: str | None = None
    size_bytes: int | None = None
    mime_type: str | None = None


class SourceRef(msgspec.Struct, frozen=True, kw_only=True):
    """The source of a video-to-video job: a gateway video (its id and its provider's job id) or an upload (its
    digest and size, never its bytes), and its length in seconds."""

    operation: VideoOperation
    seconds: int
    video_id: str | None = None
    provider: str | None = None
    upstream_id: str | None = None
    digest: str | None = None
    size_bytes: int | None = None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    outcome: Literal["accepted", "failed"]
    error_code: str | None = None
    at: float


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    """One step of the job's status history: its status, phase and provider as of `at` (unix s). Written by
    `gateway/videos/writer.py` when one of the three changes; progress alone is not a step."""

    at: float
    status: CanonicalStatus
    phase: Phase
    provider: str | None = None


# The status history keeps this many steps, the latest (a job with many failovers drops its oldest steps).
HISTORY_STEPS = 24


def with_step(job: VideoJob, *, at: float) -> VideoJob:
    """`job` with its current status, phase and provider as the history's latest step (bounded)."""
    step = StatusChange(at=at, status=job.status, phase=job.phase, provider=job.provider)
    return msgspec.structs.replace(job, status_history=(*job.status_history, step)[-HISTORY_STEPS:])


class JobError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    provider: str | None = None
    retryable: bool = False
    details: dict[str, list[str]] = {}


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    video_seconds: int
    cost_micros: int
    cost_source: Literal["provider", "price_table"]


class JobWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """Where the final Video is POSTed, and the gateway base URL its asset links use (as the client called it)."""

    url: str
    content_base: str


class VideoJob(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    team: str
    key_id: str
    model: str
    created_at: float
    updated_at: float
    status: CanonicalStatus = "queued"
    phase: Phase = "submitting"
    progress: int = 0
    provider: str | None = None
    upstream: UpstreamJob | None = None
    prompt: str | None = None
    seconds: int | None = None
    size: str | None = None
    images: tuple[ImageRef, ...] = ()
    estimated_cost_micros: int = 0
    output: Output | None = None
    error: JobError | None = None
    usage: Usage | None = None
    strategy: str = "first_eligible"
    attempts: tuple[Attempt, ...] = ()
    # Each change of status, phase or provider, oldest first (the last `HISTORY_STEPS`).
    status_history: tuple[StatusChange, ...] = ()
    # Providers this request may be sent to in all (submit-time and after acceptance), and the route query kept
    # to plan it again after acceptance (None when it cannot be kept whole; see gateway/videos/failover.py).
    max_attempts: int = 1
    replay: RouteQuery | None = None
    warnings: tuple[str, ...] = ()
    metadata: dict[str, str] = {}
    completed_at: float | None = None
    deadline_at: float | None = None
    next_poll_at: float | None = None
    poll_count: int = 0
    consecutive_poll_errors: int = 0
    deleted_at: float | None = None
    # The replica that last submitted it upstream: while it is alive, a record still submitting is its to write.
    replica: str | None = None
    # Set once every terminal effect (slot release, settlement, webhook) has run; see gateway/videos/writer.py.
    finalized_at: float | None = None
    webhook: JobWebhook | None = None
    source: SourceRef | None = None
    version: int = 1

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def output_seconds(self) -> int | None:
        """The length of the video it makes: an extension's is its source's plus the seconds it added (and
        billed); every other job's is what it billed."""
        source = self.source
        if self.seconds is None or source is None or source.operation != "extend":
            return self.seconds
        return source.seconds + self.seconds


class TerminalEffect(Protocol):
    """What runs once a job is terminal (gateway/videos/writer.py), possibly more than once (after a crash or a
    race): must be idempotent per job."""

    async def __call__(self, job: VideoJob) -> None: ...


def new_job_id(now: float) -> str:
    """Ids sort by creation time (fixed-width hex milliseconds first), so listing is a lexicographic range."""
    return f"video_{int(now * 1000):012x}{secrets.token_hex(8)}"


def job_error(failure: Failure, provider: str | None) -> JobError:
    job = UPSTREAM_CODES[failure.error_class].job
    return JobError(
        code=job.type, message=failure.message, provider=provider, retryable=job.retryable, details=failure.details
    )


def apply_status(job: VideoJob, status: UpstreamStatus, *, now: float, usage: Usage | None) -> VideoJob:
    """The job after one upstream status reading."""
    changes: dict[str, object] = {"status": status.status, "updated_at": now, "consecutive_poll_errors": 0}
    if status.progress is not None:
        changes["progress"] = max(0, min(100, status.progress))
    if status.status == "completed":
        changes |= {"progress": 100, "output": status.output, "usage": usage}
    if status.failure is not None:
        changes["error"] = job_error(status.failure, job.provider)
    if status.status in TERMINAL_STATUSES:
        changes |= {"phase": "done", "completed_at": now, "next_poll_at": None}
    return msgspec.structs.replace(job, **changes)


def fail(job: VideoJob, error: JobError, *, now: float) -> VideoJob:
    return msgspec.structs.replace(
        job, status="failed", phase="done", error=error, updated_at=now, completed_at=now, next_poll_at=None
    )


def to_video(job: VideoJob, *, content_url: str) -> Video:
    """The client's view; asset URLs point at the gateway's content route, not at the provider."""
    output = job.output
    return Video(
        id=job.id,
        status=job.status,
        progress=job.progress,
        model=job.model,
        provider=job.provider,
        created_at=int(job.created_at),
        completed_at=None if job.completed_at is None else int(job.completed_at),
        expires_at=None if output is None else output.expires_at,
        prompt=job.prompt,
        seconds=None if job.output_seconds is None else str(job.output_seconds),
        size=job.size,
        output=None
        if output is None
        else VideoOutput(
            video_url=content_url,
            thumbnail_url=None if output.thumbnail_url is None else f"{content_url}?variant=thumbnail",
            provenance=output.provenance,
            extra=[
                VideoExtraOutput(
                    index=index,
                    video_url=f"{content_url}?index={index}",
                    thumbnail_url=None
                    if extra.thumbnail_url is None
                    else f"{content_url}?variant=thumbnail&index={index}",
                )
                for index, extra in enumerate(output.extra, start=1)
            ],
        ),
        error=None
        if job.error is None
        else VideoError(
            code=job.error.code,
            message=job.error.message,
            provider=job.error.provider,
            retryable=job.error.retryable,
            details=job.error.details,
        ),
        usage=None
        if job.usage is None
        else VideoUsage(
            video_seconds=job.usage.video_seconds,
            cost_usd=job.usage.cost_micros / 1_000_000,
            cost_source=job.usage.cost_source,
        ),
        routing=VideoRouting(
            strategy=job.strategy,
            attempts=[
                RoutingAttempt(provider=a.provider, outcome=a.outcome, error_code=a.error_code) for a in job.attempts
            ],
        ),
        warnings=list(job.warnings),
        metadata=job.metadata,
        webhook=None if job.webhook is None else VideoWebhook(url=job.webhook.url),
        remixed_from_video_id=None if job.source is None else job.source.video_id,
        operation=None if job.source is None else job.source.operation,
    )
