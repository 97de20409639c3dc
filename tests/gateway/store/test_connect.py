"""`redis+sentinel://` and `redis+cluster://` URLs: what they name, how a bad one is refused (at load, naming the
path, never quoting the URL, which may hold a password), which secrets the log redactor learns, and the client they
build; an unreachable sentinel set or cluster is a store outage."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool

from gateway.backends import store_from
from gateway.config import ConfigError, configured_secrets, parse_settings
from gateway.logging import Redactor
from gateway.store.connect import parse_cluster_url, parse_sentinel_url, redis_client
from gateway.store.redis import RedisStore


def test_a_sentinel_url_names_the_sentinels_service_db_and_credentials() -> None:
    target = parse_sentinel_url("redis+sentinel://app:p%40ss@10.0.0.1:26379,sentinel-b:26380,[::1]:26381/cache/3")
    assert target.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381))
    assert (target.service, target.db, target.username, target.password) == ("cache", 3, "app", "p@ss")
    assert "p@ss" not in repr(target)
    plain = parse_sentinel_url("redis+sentinel://h:26379/mymaster")  # the form `limits` documents: db 0
    assert (plain.service, plain.db, plain.username, plain.password) == ("mymaster", 0, None, None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://:hunter2@h1/svc", "host:port"),
        ("redis+sentinel://:hunter2@h1:26379,h2/svc", "host:port"),
        ("redis+sentinel://:hunter2@h1:99999/svc", "host:port"),
        ("redis+sentinel://:hunter2@h1:26379", "/<service-name>"),
        ("redis+sentinel://:hunter2@h1:26379/svc/x", "is a number"),
        ("redis+sentinel://:hunter2@h1:26379/svc/0/extra", "/<service-name>"),
        ("redis+sentinel://:hunter2@h1:26379/svc?ssl=true", "no query"),
    ],
)
def test_a_bad_sentinel_url_fails_at_load_naming_the_path_not_the_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(f'[store]\nbackend = "redis"\nredis_url = "{url}"\n', source="gw.toml")
    message = str(error.value)
    assert message.startswith("gw.toml: redis_url: "), message
    assert message.endswith("- at `$.store`"), message
    assert problem in message
    assert "hunter2" not in message


def test_a_bad_sentinel_url_from_the_environment_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", "redis+sentinel://:hunter2@h1:26379")
    settings = parse_settings('[store]\nbackend = "redis"\nredis_url_env = "TEST_REDIS_URL"\n', source="test")
    with pytest.raises(ConfigError) as error:
        store_from(settings, time.time)
    assert str(error.value).startswith("store.redis_url_env: TEST_REDIS_URL: ")
    assert "hunter2" not in str(error.value)


def test_the_redactor_learns_a_sentinel_urls_password_and_the_sentinels_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", "redis+sentinel://:data-pw-1@h1:26379,h2:26379/svc/0")
    monkeypatch.setenv("TEST_SENTINEL_PW", "sentinel-pw-2")
    text = '[store]\nbackend = "redis"\nredis_url_env = "TEST_REDIS_URL"\nsentinel_password_env = "TEST_SENTINEL_PW"\n'
    secrets = configured_secrets(parse_settings(text, source="test"))
    assert {"data-pw-1", "sentinel-pw-2", "redis+sentinel://:data-pw-1@h1:26379,h2:26379/svc/0"} <= set(secrets)
    line = Redactor(secrets).scrub("AuthenticationError for data-pw-1 via sentinel-pw-2")
    assert "data-pw-1" not in line
    assert "sentinel-pw-2" not in line


def test_the_redactor_learns_a_cluster_urls_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """A redis+cluster URL's password (several nodes after the @) is a configured secret, so logs never show it."""
    monkeypatch.setenv("TEST_REDIS_URL", "redis+cluster://app:cluster-pw-3@h1:7000,h2:7001")
    text = '[store]\nbackend = "redis"\nredis_url_env = "TEST_REDIS_URL"\n'
    secrets = configured_secrets(parse_settings(text, source="test"))
    assert "cluster-pw-3" in secrets
    assert "cluster-pw-3" not in Redactor(secrets).scrub("WRONGPASS for app cluster-pw-3")


async def test_a_sentinel_url_builds_a_client_on_a_sentinel_pool_with_split_credentials() -> None:
    client = redis_client("redis+sentinel://u:data-pw@127.0.0.1:1,127.0.0.1:2/svc/4", sentinel_password="sent-pw")
    try:
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.service_name == "svc"
        kwargs = pool.connection_kwargs
        assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (4, "u", "data-pw")
        sentinels = pool.sentinel_manager.sentinels
        assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [1, 2]
        sentinel_kwargs = sentinels[0].connection_pool.connection_kwargs
        assert (sentinel_kwargs.get("username"), sentinel_kwargs["password"]) == (None, "sent-pw")
    finally:
        await client.aclose()
    plain = redis_client("redis://127.0.0.1:6379/9")
    assert type(plain.connection_pool) is aioredis.ConnectionPool
    await plain.aclose()


@pytest.mark.parametrize("url", ["redis+sentinel://127.0.0.1:1/svc/0", "redis+cluster://127.0.0.1:1"])
async def test_no_sentinel_or_cluster_node_answering_is_a_store_outage(url: str) -> None:
    """A primary no sentinel can name, or a cluster none of whose nodes answers, is the stores' StoreUnavailable
    (a retryable 503): for the cluster not redis-py's RedisClusterException, which would be a 500."""
    from gateway.errors import StoreUnavailable

    store = RedisStore.from_url(url, prefix="vgtest:")
    try:
        with pytest.raises(StoreUnavailable):
            await store.get("video_x")
        assert not await store.ping()
    finally:
        await store.close()


def test_a_cluster_url_names_the_startup_nodes_and_credentials() -> None:
    target = parse_cluster_url("redis+cluster://app:p%40ss@10.0.0.1:7000,node-b:7001,[::1]:7002")
    assert target.nodes == (("10.0.0.1", 7000), ("node-b", 7001), ("::1", 7002))
    assert (target.username, target.password) == ("app", "p@ss")
    assert "p@ss" not in repr(target)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://:hunter2@h1", "host:port"),
        ("redis+cluster://:hunter2@h1:7000/0", "no path"),
        ("redis+cluster://:hunter2@h1:7000?ssl=true", "no query"),
    ],
)
def test_a_bad_cluster_url_is_refused_without_quoting_it(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as error:
        parse_cluster_url(url)
    assert "hunter2" not in str(error.value)


def test_a_cluster_url_builds_a_cluster_client() -> None:
    assert isinstance(redis_client("redis+cluster://127.0.0.1:1,127.0.0.1:2"), RedisCluster)


async def test_a_cluster_url_is_accepted_at_load_and_a_bad_one_refused_without_quoting_it() -> None:
    """A good redis+cluster URL loads and makes a store on a cluster client; a bad one fails at load naming the
    problem, never the password."""
    good = parse_settings('[store]\nbackend = "redis"\nredis_url = "redis+cluster://:pw@h1:7000,h2:7001"\n', source="t")
    store = store_from(good, time.time)
    assert isinstance(store, RedisStore)
    assert isinstance(store.client, RedisCluster)
    await store.close()
    with pytest.raises(ConfigError, match="no path") as error:
        parse_settings('[store]\nbackend = "redis"\nredis_url = "redis+cluster://:hunter2@h1:7000/3"\n', source="t")
    assert "hunter2" not in str(error.value)


def test_a_bad_cluster_url_from_the_environment_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", "redis+cluster://:hunter2@h1")
    settings = parse_settings('[store]\nbackend = "redis"\nredis_url_env = "TEST_REDIS_URL"\n', source="test")
    with pytest.raises(ConfigError, match="host:port") as error:
        store_from(settings, time.time)
    assert str(error.value).startswith("store.redis_url_env: TEST_REDIS_URL: ")
    assert "hunter2" not in str(error.value)
