"""The store interface every implementation passes the same contract suite against."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from gateway.schema.job import VideoJob

Order = Literal["asc", "desc"]


@runtime_checkable
class JobStore(Protocol):
    """Jobs, the team index used for listing, and the poll schedule claimed with a lease."""

    async def create(self, job: VideoJob, *, poll_at: float) -> bool:
        """Insert the job, index it and schedule it, all or nothing; False if the id exists."""
        ...

    async def get(self, job_id: str) -> VideoJob | None: ...

    async def replace(self, job: VideoJob, *, expected_version: int, poll_at: float | None) -> bool:
        """Write `job` if the stored version is `expected_version`, and (re)schedule it at `poll_at` or take it
        off the schedule when None, atomically. False when someone else wrote first."""
        ...

    async def unschedule(self, job_id: str) -> None:
        """Take a job off the poll schedule (it is terminal or gone)."""
        ...

    async def delete(self, job_id: str) -> None:
        """Remove a job that never reached a client (its submit failed)."""
        ...

    async def list_team(
        self, team: str, *, limit: int, after: str | None, order: Order, status: str | None
    ) -> tuple[list[VideoJob], bool]:
        """One page of the team's jobs by creation, strictly after the cursor id; and whether more follow."""
        ...

    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        """Atomically take up to `limit` jobs due at `now`, pushing each one's due time to `now + lease_s` so no
        other claimer sees it until the lease runs out (a crashed claimer's jobs come back then)."""
        ...

    async def next_due_at(self) -> float | None:
        """The earliest due time on the schedule, for the poller's sleep."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
