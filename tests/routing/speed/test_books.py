"""Observed speed books: one contract over the in-process book and the Redis-shared one (real Redis, unique
prefix), then what only sharing adds: replicas see each other's observations, updates are atomic, reads come
from a copy refreshed in the background, and Redis trouble never reaches the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from gateway.store import connect
from routing.speed.book import Observed, SpeedBook, ewma
from routing.speed.redis_book import RedisSpeedBook
from tests.conftest import ON_CLUSTER, REDIS_URL, FakeClock, backend_url

Books = Callable[[], SpeedBook]


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def books(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Books]:
    """Makes books that share state the way the backend does (memory: one book; Redis: one prefix)."""
    if request.param == "memory":
        book = SpeedBook(alpha=0.5)
        yield lambda: book
        return
    client = connect.redis_client(backend_url(request))
    yield lambda: RedisSpeedBook(client, prefix=redis_prefix, alpha=0.5)
    await client.aclose()


async def test_the_first_observation_is_taken_then_averaged(books: Books) -> None:
    """10 s, then 20 s, then 40 s at alpha 0.5: 10, 15, 27.5 over three completions."""
    book = books()
    for seconds in (10.0, 20.0, 40.0):
        await book.observe("nanogpt", "sora-2", seconds)
    await book.refresh()
    assert book.expected_s("nanogpt", "sora-2") == 27.5
    assert book.observed("nanogpt", "sora-2") == Observed(ewma_s=27.5, count=3)


async def test_models_and_providers_are_kept_apart(books: Books) -> None:
    """Each provider x model has its own average; `of` lists one provider's models; unseen pairs are None."""
    book = books()
    await book.observe("nanogpt", "sora-2", 30.0)
    await book.observe("nanogpt", "veo-3.1-fast", 90.0)
    await book.observe("videogenapi", "sora-2", 300.0)
    await book.refresh()
    assert book.of("nanogpt") == {"sora-2": 30.0, "veo-3.1-fast": 90.0}
    assert book.counts("videogenapi") == {"sora-2": 1}
    assert book.expected_s("vidgen", "scenex") is None


async def test_the_lua_step_matches_the_python_step(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """Awkward values through both: the shared average equals `ewma` applied in order, to the last bit."""
    book, expected = RedisSpeedBook(redis_client, prefix=redis_prefix, alpha=0.2), None
    for seconds in (0.1, 1e-3, 123.456789, 7.0, 1e6 / 3):
        await book.observe("p", "m/with/slashes", seconds)
        expected = ewma(expected, seconds, 0.2)
    await book.refresh()
    assert book.expected_s("p", "m/with/slashes") == expected


async def test_replicas_share_observations(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """What one replica's poller observed ranks on the other after its refresh."""
    first = RedisSpeedBook(redis_client, prefix=redis_prefix)
    second = RedisSpeedBook(redis_client, prefix=redis_prefix)
    await first.observe("vidgen", "scenex", 42.0)
    await second.refresh()
    assert second.expected_s("vidgen", "scenex") == 42.0


async def test_concurrent_observations_from_two_replicas_are_all_counted(redis_prefix: str) -> None:
    """200 observations at once from two replicas (own connections): the count is 200, none lost to a race."""
    clients = [aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(REDIS_URL)) for _ in range(2)]
    books = [RedisSpeedBook(client, prefix=redis_prefix) for client in clients]
    await asyncio.gather(*(books[n % 2].observe("nanogpt", "sora-2", 10.0 + n % 7) for n in range(200)))
    await books[0].refresh()
    for client in clients:
        await client.aclose()
    seen = books[0].observed("nanogpt", "sora-2")
    assert seen is not None
    assert seen.count == 200
    assert 10.0 <= seen.ewma_s <= 16.0


async def test_reads_use_the_copy_and_refresh_it_in_the_background_at_most_every_second(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A read never waits: the first starts a refresh, reads within a second start none, a later one does."""
    clock = FakeClock(1000.0)
    reader = RedisSpeedBook(redis_client, prefix=redis_prefix, clock=clock)
    writer = RedisSpeedBook(redis_client, prefix=redis_prefix)
    await writer.observe("vidgen", "scenex", 5.0)
    assert reader.expected_s("vidgen", "scenex") is None  # the copy is empty; a refresh is now under way
    await reader.close()
    assert reader.expected_s("vidgen", "scenex") == 5.0
    await writer.observe("vidgen", "scenex", 15.0)
    clock.advance(0.5)
    reader.expected_s("vidgen", "scenex")
    await reader.close()
    assert reader.expected_s("vidgen", "scenex") == 5.0  # within the second: no new refresh
    clock.advance(0.6)
    reader.expected_s("vidgen", "scenex")
    await reader.close()
    assert reader.expected_s("vidgen", "scenex") == 7.0  # 5 + 0.2 x (15 - 5)


@pytest.fixture
async def unreachable() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    yield client
    await client.aclose()


async def test_redis_trouble_is_logged_never_raised(unreachable: aioredis.Redis) -> None:
    """With Redis down an observation and a refresh return quietly and reads answer from the (empty) copy."""
    book = RedisSpeedBook(unreachable, prefix="vgtest:down:")
    await book.observe("vidgen", "scenex", 5.0)
    await book.refresh()
    assert book.expected_s("vidgen", "scenex") is None
    await book.close()
