"""Ops routing rules: show the active version, reload from the config file (admin scope)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import structlog
from litestar import Request, get, post
from litestar.di import NamedDependency

from gateway.api.videos import Session
from gateway.errors import Conflict, InvalidRequest
from routing.rules import ActiveRules, RulesError, RulesHolder

log = structlog.get_logger("gateway.routing")


def reload_rules(rules: RulesHolder, config_path: str | None) -> ActiveRules:
    """Read the config file again and make its `[routing]` table active; on error the old rules stay."""
    if config_path is None:
        raise Conflict("this gateway was started without a config file to reload", code="no_config_file")
    try:
        active = rules.reload(Path(config_path).read_bytes(), source=config_path)
    except OSError as exc:
        raise Conflict(f"{config_path}: cannot read: {exc.strerror}", code="config_unreadable") from exc
    except RulesError as exc:
        log.warning("routing_reload_rejected", error=str(exc), kept_version=rules.version)
        raise InvalidRequest(str(exc), code="invalid_routing_rules", param=exc.path) from exc
    log.info("routing_reloaded", version=active.version)
    return active


@get("/v1/routing/rules", summary="The active routing rules and their version", operation_id="getRoutingRules")
async def get_routing_rules(session: NamedDependency[Session]) -> dict[str, Any]:
    """The `[routing]` rules in force (strategy, per-team rules, weights) and their version."""
    session.caller.require("admin")
    return _view(session.service.planner.rules.active)


@post(
    "/v1/routing/reload",
    status_code=200,
    summary="Reload routing rules from the config file",
    operation_id="reloadRoutingRules",
)
async def reload_routing_rules(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> dict[str, Any]:
    """Read the config file again and make its `[routing]` table active (as SIGHUP does); invalid rules are a 400
    naming the problem and the old rules stay; a gateway started without a config file answers 409."""
    session.caller.require("admin")
    return _view(request.app.state.reload_rules())


def _view(active: ActiveRules) -> dict[str, Any]:
    # Plain builtins: litestar's schema generator cannot hash the rules' dict defaults.
    view: dict[str, Any] = msgspec.to_builtins(active)
    return view
