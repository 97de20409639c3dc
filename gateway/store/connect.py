"""How the one Redis client every piece of shared state rides is built: from a plain `redis://` / `rediss://` /
`unix://` URL, from a `redis+sentinel://` URL naming the sentinels that manage a primary, or from a
`redis+cluster://` URL naming some nodes of a Redis Cluster.

    redis+sentinel://[[username]:password@]host:port[,host:port...]/<service-name>[/<db>]
    redis+cluster://[[username]:password@]host:port[,host:port...]

Both schemes and host lists are the ones `limits` documents for its sentinel and cluster storages. A cluster URL
takes no path (a cluster has only db 0) and no query; the nodes named are only where the client starts: it asks
them for the slot map and follows it (and its changes). Every Redis-backed part keeps the keys of each multi-key
command in one hash slot (the table in docs/architecture.md), so the same code runs on a single node and on a
cluster. The `limits` request windows ride the same client (`windows_storage`).

The scheme and the host list are the ones `limits` documents for its sentinel storage (a `/<db>` after the service
name is ours; it defaults to 0). The URL's credentials authenticate the data nodes and, as in `limits`, the
sentinels too; sentinels with a password of their own get it from `sentinel_password` instead (the store's
`sentinel_password_env`). The client asks the sentinels for the primary before each new connection, so after a
failover it follows the new primary (redis-py's SentinelConnectionPool); a primary none of the sentinels can name is
a connection error, which the stores report as `StoreUnavailable` like any other outage.

Errors from parsing never quote the URL: it may carry a password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from limits.aio.storage import RedisClusterStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisClusterException

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"

# The client every store takes: one node (plain or sentinel-managed) or a cluster.
RedisClient = aioredis.Redis | RedisCluster
SOCKET_TIMEOUT_S = 5.0
SENTINEL_SOCKETS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # the password stays out of reprs (and so out of tracebacks and logs)
        return f"SentinelTarget(sentinels={self.sentinels!r}, service={self.service!r}, db={self.db})"


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() == SENTINEL_SCHEME


@dataclass(frozen=True)
class ClusterTarget:
    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # the password stays out of reprs
        return f"ClusterTarget(nodes={self.nodes!r})"


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() == CLUSTER_SCHEME


def _host_list(netloc: str, scheme: str, what: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    found: list[tuple[str, int]] = []
    for location in hosts.split(","):
        host, _, port = location.strip().rpartition(":")
        host = host.strip("[]")  # an IPv6 literal: [::1]:26379
        if not host or not port.isdigit() or not 0 < int(port) < 65_536:
            raise ValueError(f"a {scheme} URL names every {what} as host:port, comma-separated")
        found.append((host, int(port)))
    return tuple(found)


def parse_cluster_url(url: str) -> ClusterTarget:
    """The startup nodes and credentials a `redis+cluster://` URL names; ValueError (never quoting the URL) if bad."""
    parts = urlsplit(url)
    if parts.scheme.lower() != CLUSTER_SCHEME:
        raise ValueError(f"a cluster URL starts with {CLUSTER_SCHEME}://")
    if parts.query or parts.fragment:
        raise ValueError("a redis+cluster URL takes no query or fragment")
    if parts.path not in ("", "/"):
        raise ValueError("a redis+cluster URL takes no path: a cluster has only db 0")
    return ClusterTarget(
        nodes=_host_list(parts.netloc, CLUSTER_SCHEME, "node"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, service and db a `redis+sentinel://` URL names; ValueError (never quoting the URL) if bad."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SENTINEL_SCHEME:
        raise ValueError(f"a sentinel URL starts with {SENTINEL_SCHEME}://")
    if parts.query or parts.fragment:
        raise ValueError("a redis+sentinel URL takes no query or fragment")
    sentinels = _host_list(parts.netloc, SENTINEL_SCHEME, "sentinel")
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    if segments and segments[-1] == "":
        segments.pop()
    if not 1 <= len(segments) <= 2 or not segments[0]:
        raise ValueError("a redis+sentinel URL ends with /<service-name> or /<service-name>/<db>")
    if len(segments) == 2 and not segments[1].isdigit():
        raise ValueError("the db after the service name in a redis+sentinel URL is a number")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=segments[0],
        db=int(segments[1]) if len(segments) == 2 else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SentinelRedis(aioredis.Redis):
    """The primary's client; closing it also closes the sentinel clients it asks for the primary's address."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        manager = getattr(pool, "sentinel_manager", None)
        if isinstance(manager, Sentinel):
            await manager.aclose()


class ClusterRedis(RedisCluster):
    """redis-py's async cluster client, with two fixes the cluster suites showed were needed.

    It learns the slot map before its first command: a burst of commands on a client that has not (the first
    requests after start-up) is routed without the map, meets dropped connections and is retried, and in our
    tests a script ran twice. And a cluster none of whose nodes answers, at start or after a blip, is a
    ConnectionError (what a node that does not answer is), which every store reports as unavailable, rather than
    redis-py's RedisClusterException, which is not a RedisError at all."""

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> ClusterRedis:
        try:
            await super().initialize(additional_startup_nodes_info, last_failed_node_name)
        except RedisClusterException as exc:  # no node answered, or the slots are not all served
            raise redis.exceptions.ConnectionError("the Redis Cluster cannot be reached") from exc
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)


def cluster_client(url: str) -> ClusterRedis:
    """The client of the cluster a `redis+cluster://` URL names."""
    target = parse_cluster_url(url)
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    return ClusterRedis(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        # As for sentinels: a dropped connection or a moved slot is retried briefly, a longer outage is a
        # StoreUnavailable within seconds rather than redis-py's long default.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        **{k: v for k, v in auth.items() if v is not None},
    )


class _ClusterWindows(RedisClusterStorage):
    """`limits`' cluster storage over a client of ours. `limits` builds its own cluster client from a URL; this
    hands its bridge the store's client instead, as its single-node storage does with a `connection_pool`: one set
    of connections, and the fixes of `ClusterRedis`. The URL given to `limits` is a placeholder it never uses."""

    def __init__(self, client: RedisCluster, *, key_prefix: str) -> None:
        self._client = client
        placeholder = "async+redis+cluster://localhost:7000"
        super().__init__(placeholder, wrap_exceptions=True, implementation="redispy", key_prefix=key_prefix)

    def configure_bridge(self) -> None:
        bridge = cast(RedispyBridge, self.bridge)
        client: Any = self._client  # limits' client protocol is narrower than redis-py's annotations
        bridge.storage = client
        bridge.connection_getter = lambda _readonly: client


def windows_storage(client: RedisClient, *, key_prefix: str) -> Storage:
    """The `limits` storage of request windows over `client` (the store's): its moving windows are one key each, so
    every window command stays in one slot on a cluster."""
    if isinstance(client, RedisCluster):
        return _ClusterWindows(client, key_prefix=key_prefix)
    shared: dict[str, Any] = {"connection_pool": client.connection_pool}
    return RedisStorage(
        "async+redis://", implementation="redispy", key_prefix=key_prefix, wrap_exceptions=True, **shared
    )


def redis_client(url: str, *, sentinel_password: str | None = None) -> RedisClient:
    """The client for `url`: plain Redis, the current primary of a sentinel-managed service, or a cluster."""
    if is_cluster_url(url):
        return cluster_client(url)
    if not is_sentinel_url(url):
        plain: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        return plain
    target = parse_sentinel_url(url)
    sockets: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": SOCKET_TIMEOUT_S}
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    sentinel_auth = auth if sentinel_password is None else {"password": sentinel_password}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        # A sentinel answers a tiny query: one that does not within a second, at once, is skipped for the next
        # (retrying it would stack on the retries below).
        sentinel_kwargs={
            **SENTINEL_SOCKETS,
            "retry": Retry(NoBackoff(), 0),
            **{k: v for k, v in sentinel_auth.items() if v is not None},
        },
        # A command that meets a dropped connection is retried, each new connection asking the sentinels for the
        # primary first, so a blip of a second or two is ridden out; a longer failover is a StoreUnavailable (a
        # retryable 503) within a few seconds. Connects retry inside commands' retries (both use this policy):
        # redis-py's default (10 retries, up to 1 s apart) would hold a request ~45 s when no sentinel answers.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        db=target.db,
        **sockets,
        **{k: v for k, v in auth.items() if v is not None},
    )
    client: aioredis.Redis = sentinel.master_for(target.service, redis_class=SentinelRedis)
    return client
