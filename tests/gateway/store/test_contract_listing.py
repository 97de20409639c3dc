"""The JobStore contract for team listing (gateway/store/base.py), run unchanged against MemoryStore and
RedisStore on a real Redis: team isolation, order, exclusive cursors, has_more, deletions and status filters."""

from __future__ import annotations

import msgspec

from gateway.schema.job import new_job_id
from gateway.store.base import JobStore
from tests.gateway.store.conftest import T0, create_jobs, make_job, page_ids

# -------------------------------------------------------------------------------------------- listing


async def test_list_team_returns_only_that_teams_jobs(store: JobStore) -> None:
    """Jobs of other teams, including one whose name extends this one's, never show in its list."""
    mine = await create_jobs(store, 3, team="team-a")
    await create_jobs(store, 3, team="team-b", start=T0 + 0.5)
    await create_jobs(store, 2, team="team-ab", start=T0 + 0.25)

    ids, more = await page_ids(store, "team-a", limit=100)

    assert ids == [job.id for job in mine]
    assert not more
    assert await page_ids(store, "team-nobody", limit=100) == ([], False)


async def test_list_team_orders_by_creation_ascending_and_descending(store: JobStore) -> None:
    """asc is oldest first and desc newest first, whatever order the jobs were inserted in."""
    jobs = [make_job(T0 + i) for i in range(6)]
    for job in (jobs[3], jobs[0], jobs[5], jobs[1], jobs[4], jobs[2]):
        await store.create(job, poll_at=T0)
    expected = [job.id for job in jobs]

    assert await page_ids(store, limit=10, order="asc") == (expected, False)
    assert await page_ids(store, limit=10, order="desc") == (expected[::-1], False)


async def test_list_team_cursor_is_exclusive_in_both_orders(store: JobStore) -> None:
    """`after` names the last id already seen: the page starts strictly past it in the listing's order."""
    ids = [job.id for job in await create_jobs(store, 5)]

    assert await page_ids(store, limit=2, after=ids[1], order="asc") == (ids[2:4], True)
    assert await page_ids(store, limit=2, after=ids[3], order="desc") == ([ids[2], ids[1]], True)
    assert await page_ids(store, limit=10, after=ids[4], order="asc") == ([], False)
    assert await page_ids(store, limit=10, after=ids[0], order="desc") == ([], False)


async def test_list_team_cursor_need_not_be_a_stored_id(store: JobStore) -> None:
    """A cursor between two ids (e.g. a job since deleted) pages from where it would have sorted."""
    ids = [job.id for job in await create_jobs(store, 4)]
    between = new_job_id(T0 + 1.5)

    assert await page_ids(store, limit=10, after=between, order="asc") == (ids[2:], False)
    assert await page_ids(store, limit=10, after=between, order="desc") == (ids[1::-1], False)


async def test_list_team_has_more_is_exact_at_page_boundaries(store: JobStore) -> None:
    """A page that ends exactly at the last job says no more; one that stops short of it says more."""
    ids = [job.id for job in await create_jobs(store, 6)]

    assert await page_ids(store, limit=6) == (ids, False)
    assert await page_ids(store, limit=5) == (ids[:5], True)
    assert await page_ids(store, limit=3) == (ids[:3], True)
    assert await page_ids(store, limit=3, after=ids[2]) == (ids[3:], False)
    assert await page_ids(store, limit=3, after=ids[3], order="desc") == (ids[2::-1], False)


async def test_list_team_walks_every_job_once_page_by_page(store: JobStore) -> None:
    """Following `has_more` with the last id as cursor visits all jobs exactly once, in order."""
    ids = [job.id for job in await create_jobs(store, 11)]
    for order in ("asc", "desc"):
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(20):
            page, more = await page_ids(store, limit=4, after=cursor, order=order)
            seen += page
            if not more:
                break
            cursor = page[-1]
        assert seen == (ids if order == "asc" else ids[::-1])


async def test_list_team_skips_deleted_jobs(store: JobStore) -> None:
    """Jobs marked deleted_at are left out of pages, and trailing ones do not make has_more true."""
    jobs = await create_jobs(store, 5)
    for job in (jobs[1], jobs[3], jobs[4]):
        gone = msgspec.structs.replace(job, deleted_at=T0 + 60, status="cancelled", version=2)
        assert await store.replace(gone, expected_version=1, poll_at=None)

    assert await page_ids(store, limit=2) == ([jobs[0].id, jobs[2].id], False)
    assert await page_ids(store, limit=1) == ([jobs[0].id], True)
    assert await page_ids(store, limit=10, order="desc") == ([jobs[2].id, jobs[0].id], False)


async def test_list_team_filters_by_status(store: JobStore) -> None:
    """With a status filter only jobs in that status are listed, and has_more counts only those."""
    jobs = await create_jobs(store, 6)
    for job in jobs[::2]:
        done = msgspec.structs.replace(job, status="completed", version=2)
        assert await store.replace(done, expected_version=1, poll_at=None)
    completed = [job.id for job in jobs[::2]]
    queued = [job.id for job in jobs[1::2]]

    assert await page_ids(store, limit=10, status="completed") == (completed, False)
    assert await page_ids(store, limit=2, status="queued") == (queued[:2], True)
    assert await page_ids(store, limit=3, status="queued", order="desc") == (queued[::-1], False)
    assert await page_ids(store, limit=10, status="failed") == ([], False)


async def test_list_team_status_filter_finds_sparse_matches_across_batches(store: JobStore) -> None:
    """Matches hundreds of ids apart are still found, paged and counted correctly in both orders."""
    jobs = await create_jobs(store, 260)
    sparse = [jobs[0], jobs[120], jobs[255]]
    for job in sparse:
        failed = msgspec.structs.replace(job, status="failed", version=2)
        assert await store.replace(failed, expected_version=1, poll_at=None)
    ids = [job.id for job in sparse]

    assert await page_ids(store, limit=2, status="failed") == (ids[:2], True)
    assert await page_ids(store, limit=2, status="failed", after=ids[1]) == (ids[2:], False)
    assert await page_ids(store, limit=3, status="failed") == (ids, False)
    assert await page_ids(store, limit=2, status="failed", order="desc") == (ids[:0:-1], True)
    assert await page_ids(store, limit=5, status="failed", order="desc", after=ids[1]) == (ids[:1], False)
