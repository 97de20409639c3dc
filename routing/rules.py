"""Ops routing rules: the `[routing]` table of the config file, its validation, the per-job policy, hot reload.

Owns what rules mean, not how candidates are ranked (routing.ranking) or how a reload is triggered (gateway)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from routing.catalogue import usd_to_micros

Strategy = Literal["cheapest", "fastest", "balanced", "priority"]

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_RuleName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
_Weight = Annotated[float, msgspec.Meta(ge=0, le=1_000)]
_CapUSD = Annotated[float, msgspec.Meta(gt=0, le=10_000)]
_VERSION_CHARS = 12


class RulesError(Exception):
    """The routing rules cannot be used; the message names the file and the path of the bad key."""

    status_code: ClassVar[int] = 422
    code: ClassVar[str] = "invalid_routing_rules"
    failover: ClassVar[bool] = False

    def __init__(self, detail: str, *, path: str | None = None, source: str | None = None) -> None:
        where = ": ".join(part for part in (source, path) if part)
        super().__init__(f"{where}: {detail}" if where else detail)
        self.detail = detail
        self.path = path
        self.source = source


class Weights(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the `balanced` strategy trades cost against speed."""

    cost: _Weight = 1.0
    """The weight of the estimated cost under `balanced`."""
    speed: _Weight = 1.0
    """The weight of the observed time to complete under `balanced`."""

    def __post_init__(self) -> None:
        if not (self.cost or self.speed):
            raise ValueError("at least one of cost and speed must be above 0")


class ProviderRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per provider: `enabled = false` takes it out; `drain = true` takes no new jobs but follows existing ones."""

    enabled: bool = True
    """`false` takes the provider out of routing for new jobs."""
    drain: bool = False
    """`true` takes no new jobs but follows the provider's existing ones."""
    weight: _Weight = 1.0
    """Validated, but no ranking strategy reads it yet."""


class Match(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every condition given must hold; an empty condition matches anything."""

    teams: tuple[_Name, ...] = ()
    """The rule applies to these teams only; empty, any team."""
    models: tuple[_Name, ...] = ()
    """The rule applies to these canonical models only; empty, any model."""
    metadata: dict[_Name, str] = {}
    """The rule applies when the request's `metadata` has every one of these key/value pairs."""

    def holds(self, *, team: str, model: str, metadata: Mapping[str, str]) -> bool:
        if self.teams and team not in self.teams:
            return False
        if self.models and model not in self.models:
            return False
        return all(metadata.get(key) == value for key, value in self.metadata.items())


class Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _RuleName
    """The rule's name, unique, shown by `POST /v1/routing/explain`."""
    match: Match = Match()
    """When the rule applies; every condition given must hold."""
    strategy: Strategy | None = None
    """Replaces the strategy for matching requests."""
    allow: tuple[_Name, ...] = ()
    """Only these providers (narrows what earlier rules allowed)."""
    deny: tuple[_Name, ...] = ()
    """Never these providers (adds to what earlier rules denied)."""
    order: tuple[_Name, ...] = ()
    """The provider order for the `priority` strategy."""
    max_cost_usd: _CapUSD | None = None
    """A cap on a job's estimated cost; offerings above it are left out (a later rule can only lower it)."""
    stop: bool = True
    """Stop at this rule when it matches; `false` goes on to the next matching rules."""


class RoutingRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    default_strategy: Strategy = "cheapest"
    """How candidates are ranked: `cheapest` (estimated cost), `fastest` (observed time to complete), `balanced`
    (weighted, see `weights`), `priority` (ops order)."""
    weights: Weights = Weights()
    """How `balanced` trades cost against speed."""
    providers: dict[_Name, ProviderRule] = {}
    """Per provider slug: enable, drain."""
    rules: tuple[Rule, ...] = ()
    """Ordered rules by team, model and metadata, applied in file order until one with `stop`."""


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """The effective rules for one new job. `allow = None` means any provider; `matched` is for `explain`."""

    strategy: Strategy
    weights: Weights
    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()
    max_cost_usd: float | None = None
    matched: tuple[str, ...] = ()
    providers: dict[str, ProviderRule] = {}

    @property
    def max_cost_micros(self) -> int | None:
        return None if self.max_cost_usd is None else usd_to_micros(self.max_cost_usd)

    def rule_for(self, provider: str) -> ProviderRule:
        return self.providers.get(provider, _DEFAULT_PROVIDER)

    def refusal(self, provider: str) -> str | None:
        """Why a new job may not go to `provider` under these rules, or None when it may."""
        settings = self.rule_for(provider)
        if not settings.enabled:
            return "disabled by routing.providers"
        if settings.drain:
            return "draining: takes no new jobs"
        if provider in self.deny:
            return "denied by routing rules"
        if self.allow is not None and provider not in self.allow:
            return "not allowed by routing rules"
        return None


_DEFAULT_PROVIDER = ProviderRule()


def resolve(rules: RoutingRules, *, team: str, model: str, metadata: Mapping[str, str] | None = None) -> Policy:
    """Apply matching rules in file order until one with `stop`.

    A later rule replaces strategy and order, narrows allow, adds to deny and can only lower the cost cap."""
    policy = Policy(strategy=rules.default_strategy, weights=rules.weights, providers=rules.providers)
    for rule in rules.rules:
        if rule.match.holds(team=team, model=model, metadata=metadata or {}):
            policy = _apply(policy, rule)
            if rule.stop:
                break
    return policy


def _apply(policy: Policy, rule: Rule) -> Policy:
    allow = policy.allow
    if rule.allow:
        allow = frozenset(rule.allow) if allow is None else allow & frozenset(rule.allow)
    caps = [cap for cap in (policy.max_cost_usd, rule.max_cost_usd) if cap is not None]
    return msgspec.structs.replace(
        policy,
        strategy=rule.strategy or policy.strategy,
        allow=allow,
        deny=policy.deny | frozenset(rule.deny),
        order=rule.order or policy.order,
        max_cost_usd=min(caps, default=None),
        matched=(*policy.matched, rule.name),
    )


def validate(rules: RoutingRules, *, known_providers: Collection[str], known_models: Collection[str]) -> None:
    """Names must exist in the catalogue, rule names be unique, and no rule both allow and deny a provider."""
    for provider in rules.providers:
        if provider not in known_providers:
            raise RulesError(f"unknown provider {provider!r}", path=f"$.routing.providers{_key(provider)}")
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules.rules):
        at = f"$.routing.rules[{index}]"
        if rule.name in seen:
            raise RulesError(
                f"duplicate rule name {rule.name!r} (first at rules[{seen[rule.name]}])", path=f"{at}.name"
            )
        seen[rule.name] = index
        _check_names(rule.match.models, known_models, what="model", at=f"{at}.match.models")
        for field in ("allow", "deny", "order"):
            _check_names(getattr(rule, field), known_providers, what="provider", at=f"{at}.{field}")
        for position, provider in enumerate(rule.deny):
            if provider in rule.allow:
                raise RulesError(f"provider {provider!r} is both allowed and denied", path=f"{at}.deny[{position}]")


def _check_names(names: tuple[str, ...], known: Collection[str], *, what: str, at: str) -> None:
    for position, name in enumerate(names):
        if name not in known:
            raise RulesError(f"unknown {what} {name!r}", path=f"{at}[{position}]")


class _ConfigFile(msgspec.Struct, frozen=True, kw_only=True):
    """The whole config file as routing sees it: only `[routing]`; every other table is someone else's."""

    routing: RoutingRules = RoutingRules()


def parse_rules(
    text: str | bytes, *, source: str, known_providers: Collection[str], known_models: Collection[str]
) -> RoutingRules:
    """Decode and validate the `[routing]` table of a full config file; a file without one gets the defaults."""
    try:
        rules = msgspec.toml.decode(text, type=_ConfigFile).routing
    except msgspec.ValidationError as exc:
        detail, path = _located(msgspec.toml.decode(text), str(exc))
        raise RulesError(detail, path=path, source=source) from exc
    except msgspec.DecodeError as exc:
        raise RulesError(f"not valid TOML: {exc}", source=source) from exc
    return _validated(rules, source=source, known_providers=known_providers, known_models=known_models)


def convert_rules(
    table: Any, *, source: str, known_providers: Collection[str], known_models: Collection[str]
) -> RoutingRules:
    """Decode and validate a `[routing]` table given as builtins (a JSON body): the same checks, and the same
    paths (`$.routing...`), as the file's."""
    raw = {"routing": table}
    try:
        rules = msgspec.convert(raw, _ConfigFile).routing
    except msgspec.ValidationError as exc:
        detail, path = _located(raw, str(exc))
        raise RulesError(detail, path=path, source=source) from exc
    return _validated(rules, source=source, known_providers=known_providers, known_models=known_models)


def _validated(
    rules: RoutingRules, *, source: str, known_providers: Collection[str], known_models: Collection[str]
) -> RoutingRules:
    try:
        validate(rules, known_providers=known_providers, known_models=known_models)
    except RulesError as exc:
        raise RulesError(exc.detail, path=exc.path, source=source) from exc
    return rules


_AT_PATH = re.compile(r"^(?P<detail>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_DICT_KEY = "[...]"


def _located(raw: Any, message: str) -> tuple[str, str]:
    """Split msgspec's message into (detail, path), naming the dict key msgspec shows as `[...]`."""
    found = _AT_PATH.match(message)
    if found is None:
        return message, "$"
    detail, path = found.group("detail"), found.group("path")
    head, marker, rest = path.partition(_DICT_KEY)
    if marker:
        key = _bad_key(raw, _segments(head), message)
        if key is not None:
            path = f"{head}{_key(key)}{rest}"
    return detail, path


def _segments(path: str) -> list[str | int]:
    return [name if index == "" else int(index) for name, index in _SEGMENT.findall(path.removeprefix("$"))]


def _bad_key(raw: Any, segments: list[str | int], message: str) -> str | None:
    """The key whose entry, decoded alone in its table, fails with the very same message."""
    table = raw
    for segment in segments:
        if isinstance(table, list) and isinstance(segment, int) and segment < len(table):
            table = table[segment]
        else:
            table = table.get(segment) if isinstance(table, dict) else None
    for key, entry in table.items() if isinstance(table, dict) else ():
        try:
            msgspec.convert(_only(raw, segments, {key: entry}), _ConfigFile)
        except msgspec.ValidationError as exc:
            if str(exc) == message:
                return str(key)
    return None


def _only(node: Any, segments: list[str | int], table: dict[str, Any]) -> Any:
    """A copy of `node` with the table at `segments` replaced, sharing everything off that path."""
    if not segments:
        return table
    head, tail = segments[0], segments[1:]
    if isinstance(node, list) and isinstance(head, int):
        return [_only(item, tail, table) if i == head else item for i, item in enumerate(node)]
    return {k: _only(v, tail, table) if k == head else v for k, v in node.items()}


def _key(name: str) -> str:
    return f".{name}" if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f"[{json.dumps(name)}]"


def version_of(rules: RoutingRules) -> str:
    """A short sha256 of the canonical encoding: the same rules give the same version whatever the layout."""
    canonical = msgspec.json.encode(rules, order="deterministic")
    return hashlib.sha256(canonical).hexdigest()[:_VERSION_CHARS]


class ActiveRules(msgspec.Struct, frozen=True, kw_only=True):
    """What `GET /v1/routing/rules` shows: the rules in force, their version, when and where they came from."""

    rules: RoutingRules
    version: str
    loaded_at: datetime
    source: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RulesHolder:
    """The rules in force. A reload parses and validates first and swaps one reference only on success."""

    def __init__(
        self,
        rules: RoutingRules | None = None,
        *,
        known_providers: Collection[str],
        known_models: Collection[str],
        source: str = "<defaults>",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._known_providers = frozenset(known_providers)
        self._known_models = frozenset(known_models)
        self._clock = clock
        initial = rules or RoutingRules()
        try:
            validate(initial, known_providers=self._known_providers, known_models=self._known_models)
        except RulesError as exc:
            raise RulesError(exc.detail, path=exc.path, source=source) from exc
        self._active = self._stamp(initial, source)

    @property
    def active(self) -> ActiveRules:
        return self._active

    @property
    def known_providers(self) -> frozenset[str]:
        return self._known_providers

    @property
    def known_models(self) -> frozenset[str]:
        return self._known_models

    @property
    def version(self) -> str:
        return self._active.version

    def reload(self, text: str | bytes, *, source: str) -> ActiveRules:
        """Make the `[routing]` table of `text` active; on any error raise RulesError and keep the old rules."""
        return self.install(self.parse(text, source=source), source=source)

    def parse(self, text: str | bytes, *, source: str) -> RoutingRules:
        """The `[routing]` table of a config file, validated against this gateway's providers and models."""
        return parse_rules(text, source=source, known_providers=self._known_providers, known_models=self._known_models)

    def convert(self, table: Any, *, source: str) -> RoutingRules:
        """A `[routing]` table given as builtins, validated as `parse` does."""
        return convert_rules(
            table, source=source, known_providers=self._known_providers, known_models=self._known_models
        )

    def install(self, rules: RoutingRules, *, source: str) -> ActiveRules:
        """Make `rules` active (validated again: a table checked elsewhere may name what this gateway lacks)."""
        known = {"known_providers": self._known_providers, "known_models": self._known_models}
        self._active = self._stamp(_validated(rules, source=source, **known), source)
        return self._active

    def resolve(self, *, team: str, model: str, metadata: Mapping[str, str] | None = None) -> Policy:
        return resolve(self._active.rules, team=team, model=model, metadata=metadata)

    def _stamp(self, rules: RoutingRules, source: str) -> ActiveRules:
        return ActiveRules(rules=rules, version=version_of(rules), loaded_at=self._clock(), source=source)
