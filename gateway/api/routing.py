"""Ops routing rules: show the active version, and reload the config file's `[routing]` table into the control
plane (admin scope): every replica runs it within a second, one new version, audited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import structlog
from litestar import Request, get, post
from litestar.di import NamedDependency

from gateway.api.videos import Session
from gateway.control.plane import Change, ControlPlane, Current
from gateway.control.watcher import ControlWatcher
from gateway.errors import Conflict, InvalidRequest
from routing.rules import ActiveRules, RulesError, RulesHolder

log = structlog.get_logger("gateway.routing")


class Reloader:
    """Reads the config file and writes its `[routing]` table to the control plane; on error nothing changes."""

    def __init__(
        self, *, rules: RulesHolder, plane: ControlPlane, watcher: ControlWatcher, config_path: str | None
    ) -> None:
        self._rules = rules
        self._plane = plane
        self._watcher = watcher
        self._config_path = config_path

    async def reload(self, *, actor: str) -> ActiveRules:
        """The file's table as the new routing version (none when it equals the current one), applied here at once."""
        path = self._config_path
        if path is None:
            raise Conflict("this gateway was started without a config file to reload", code="no_config_file")
        try:
            table = self._rules.parse(await asyncio.to_thread(Path(path).read_bytes), source=path)
        except OSError as exc:
            raise Conflict(f"{path}: cannot read: {exc.strerror}", code="config_unreadable") from exc
        except RulesError as exc:
            log.warning("routing_reload_rejected", error=str(exc), kept_version=self._rules.version)
            raise InvalidRequest(str(exc), code="invalid_routing_rules", param=exc.path) from exc

        def from_file(current: Current) -> Change:
            before = msgspec.to_builtins(current.document)
            return Change(table, target=path, before=before, after=msgspec.to_builtins(table))

        revision, _ = await self._plane.edit("routing", from_file, expected=None, actor=actor, action="reload")
        await self._watcher.catch_up()
        log.info("routing_reloaded", version=self._rules.version, control_version=revision and revision.version)
        return self._rules.active


@get("/v1/routing/rules", summary="The active routing rules and their version", operation_id="getRoutingRules")
async def get_routing_rules(session: NamedDependency[Session]) -> dict[str, Any]:
    """The `[routing]` rules in force (strategy, per-team rules, weights) and their version."""
    session.caller.require("admin")
    return _view(session.service.planner.rules.active)


@post(
    "/v1/routing/reload",
    status_code=200,
    summary="Apply the config file's routing table to every replica",
    operation_id="reloadRoutingRules",
)
async def reload_routing_rules(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> dict[str, Any]:
    """Read the config file again and make its `[routing]` table active (as SIGHUP does); invalid rules are a 400
    naming the problem and the old rules stay; a gateway started without a config file answers 409."""
    session.caller.require("admin")
    reloader: Reloader = request.app.state.reloader
    return _view(await reloader.reload(actor=session.caller.key_id))


def _view(active: ActiveRules) -> dict[str, Any]:
    # Plain builtins: litestar's schema generator cannot hash the rules' dict defaults.
    view: dict[str, Any] = msgspec.to_builtins(active)
    return view
