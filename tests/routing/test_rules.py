"""Ops routing rules: matching, precedence, validation with the exact path of the bad key, and hot reload that
keeps the old rules when the new file is bad."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import parse_settings
from routing.rules import (
    Policy,
    RulesError,
    RulesHolder,
    parse_rules,
    resolve,
    version_of,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "gateway.example.toml"
PROVIDERS = ("vidgen", "videogen", "videogenapi", "nanogpt")
MODELS = ("scenex", "sora-2", "veo-3.1-fast", "kling-2.5")

MATCHING = """
[routing]
default_strategy = "cheapest"

[[routing.rules]]
name = "team-a"
match = { teams = ["team-a"] }
strategy = "fastest"

[[routing.rules]]
name = "sora-for-studio"
match = { models = ["sora-2"], metadata = { tier = "studio" } }
strategy = "priority"
order = ["nanogpt", "videogenapi"]

[[routing.rules]]
name = "team-b-veo"
match = { teams = ["team-b"], models = ["veo-3.1-fast"] }
deny = ["videogenapi"]
"""


def _policy(text: str, *, team: str = "t", model: str = "scenex", metadata: dict[str, str] | None = None) -> Policy:
    rules = parse_rules(text, source="ops.toml", known_providers=PROVIDERS, known_models=MODELS)
    return resolve(rules, team=team, model=model, metadata=metadata)


def _error(text: str) -> RulesError:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="ops.toml", known_providers=PROVIDERS, known_models=MODELS)
    return caught.value


@pytest.mark.parametrize(
    ("team", "model", "metadata", "matched", "strategy"),
    [
        ("team-a", "scenex", None, ("team-a",), "fastest"),
        ("team-c", "sora-2", {"tier": "studio", "x": "y"}, ("sora-for-studio",), "priority"),
        ("team-c", "sora-2", {"tier": "basic"}, (), "cheapest"),
        ("team-c", "sora-2", None, (), "cheapest"),
        ("team-c", "scenex", {"tier": "studio"}, (), "cheapest"),
        ("team-b", "veo-3.1-fast", None, ("team-b-veo",), "cheapest"),
        ("team-b", "sora-2", None, (), "cheapest"),
    ],
)
def test_rules_match_on_team_model_and_metadata(
    team: str, model: str, metadata: dict[str, str] | None, matched: tuple[str, ...], strategy: str
) -> None:
    """A rule applies only when every condition it gives holds; no match leaves the defaults."""
    policy = _policy(MATCHING, team=team, model=model, metadata=metadata)
    assert policy.matched == matched
    assert policy.strategy == strategy


def test_rules_apply_in_file_order_until_one_stops() -> None:
    """Non-stopping rules fall through, a later rule overrides strategy and order, and `stop` ends matching."""
    text = """
[[routing.rules]]
name = "everyone"
stop = false
strategy = "fastest"
order = ["vidgen"]

[[routing.rules]]
name = "studio"
match = { metadata = { tier = "studio" } }
strategy = "priority"
order = ["nanogpt", "videogenapi"]

[[routing.rules]]
name = "never-reached"
strategy = "balanced"
deny = ["nanogpt"]
"""
    studio = _policy(text, metadata={"tier": "studio"})
    assert studio.matched == ("everyone", "studio")
    assert studio.strategy == "priority"
    assert studio.order == ("nanogpt", "videogenapi")
    assert studio.refusal("nanogpt") is None
    other = _policy(text)
    assert other.matched == ("everyone", "never-reached")
    assert other.strategy == "balanced"
    assert other.order == ("vidgen",)


def test_later_rules_narrow_the_allow_list() -> None:
    """A later allow list intersects an earlier one instead of widening it."""
    text = """
[[routing.rules]]
name = "wide"
stop = false
allow = ["vidgen", "nanogpt"]

[[routing.rules]]
name = "narrow"
allow = ["nanogpt", "videogen"]
"""
    policy = _policy(text)
    assert policy.allow == frozenset({"nanogpt"})
    assert policy.refusal("nanogpt") is None
    assert policy.refusal("vidgen") == "not allowed by routing rules"
    assert policy.refusal("videogen") == "not allowed by routing rules"


@pytest.mark.parametrize("deny_first", [True, False])
def test_deny_beats_allow_whatever_the_rule_order(deny_first: bool) -> None:
    """A provider denied by any applying rule is refused even when another rule allows it."""
    allow = '[[routing.rules]]\nname = "allow"\nstop = false\nallow = ["nanogpt", "vidgen"]\n'
    deny = '[[routing.rules]]\nname = "deny"\nstop = false\ndeny = ["nanogpt"]\n'
    policy = _policy(deny + allow if deny_first else allow + deny)
    assert policy.refusal("nanogpt") == "denied by routing rules"
    assert policy.refusal("vidgen") is None
    assert policy.refusal("videogen") == "not allowed by routing rules"


def test_smallest_cost_cap_wins() -> None:
    """Of every cap that applies, the smallest is the one in force, in dollars and in micro-dollars."""
    text = """
[[routing.rules]]
name = "five"
stop = false
max_cost_usd = 5.0

[[routing.rules]]
name = "two"
stop = false
max_cost_usd = 2.5

[[routing.rules]]
name = "no-cap"
stop = false
strategy = "fastest"

[[routing.rules]]
name = "three"
max_cost_usd = 3.0
"""
    policy = _policy(text)
    assert policy.matched == ("five", "two", "no-cap", "three")
    assert policy.max_cost_usd == 2.5
    assert policy.max_cost_micros == 2_500_000
    assert _policy("").max_cost_micros is None


def test_provider_table_disables_and_drains() -> None:
    """A disabled provider and a draining one refuse new jobs; unlisted providers keep the defaults."""
    text = """
[routing]
default_strategy = "balanced"
weights = { cost = 2.0, speed = 0.5 }

[routing.providers.vidgen]
enabled = false

[routing.providers.nanogpt]
drain = true
weight = 3.0
"""
    policy = _policy(text)
    assert policy.strategy == "balanced"
    assert (policy.weights.cost, policy.weights.speed) == (2.0, 0.5)
    assert policy.refusal("vidgen") == "disabled by routing.providers"
    assert policy.refusal("nanogpt") == "draining: takes no new jobs"
    assert policy.rule_for("nanogpt").weight == 3.0
    assert policy.refusal("videogen") is None
    assert policy.rule_for("videogen").weight == 1.0


@pytest.mark.parametrize(
    ("text", "path", "detail"),
    [
        (
            '[[routing.rules]]\nname = "a"\n[[routing.rules]]\nname = "b"\nallow = ["vidgen", "nanogtp"]\n',
            "$.routing.rules[1].allow[1]",
            "unknown provider 'nanogtp'",
        ),
        ('[[routing.rules]]\nname = "a"\ndeny = ["nope"]\n', "$.routing.rules[0].deny[0]", "unknown provider 'nope'"),
        ('[[routing.rules]]\nname = "a"\norder = ["x"]\n', "$.routing.rules[0].order[0]", "unknown provider 'x'"),
        (
            '[[routing.rules]]\nname = "a"\nmatch = { models = ["scenex", "sora-3"] }\n',
            "$.routing.rules[0].match.models[1]",
            "unknown model 'sora-3'",
        ),
        ("[routing.providers.nanogtp]\ndrain = true\n", "$.routing.providers.nanogtp", "unknown provider 'nanogtp'"),
        (
            '[[routing.rules]]\nname = "a"\n[[routing.rules]]\nname = "a"\n',
            "$.routing.rules[1].name",
            "duplicate rule name 'a' (first at rules[0])",
        ),
        (
            '[[routing.rules]]\nname = "a"\nallow = ["vidgen", "nanogpt"]\ndeny = ["nanogpt"]\n',
            "$.routing.rules[0].deny[0]",
            "provider 'nanogpt' is both allowed and denied",
        ),
    ],
)
def test_names_not_in_the_catalogue_and_contradictions_are_rejected_with_the_path(
    text: str, path: str, detail: str
) -> None:
    """Unknown providers and models, duplicate rule names and allow+deny of one provider name their exact key."""
    error = _error(text)
    assert (error.path, error.detail) == (path, detail)
    assert str(error) == f"ops.toml: {path}: {detail}"


@pytest.mark.parametrize(
    ("text", "path", "detail"),
    [
        ('[routing]\ndefault_strategy = "random"\n', "$.routing.default_strategy", "Invalid enum value 'random'"),
        ('[[routing.rules]]\nname = "a"\nmax_cost_usd = -1.0\n', "$.routing.rules[0].max_cost_usd", "> 0.0"),
        ('[[routing.rules]]\nname = "a"\nalow = ["vidgen"]\n', "$.routing.rules[0]", "unknown field `alow`"),
        ('[[routing.rules]]\nallow = ["vidgen"]\n', "$.routing.rules[0]", "missing required field `name`"),
        ('[[routing.rules]]\nname = "has space"\n', "$.routing.rules[0].name", "matching regex"),
        (
            "[routing.providers.vidgen]\n[routing.providers.nanogpt]\nweight = -2\n",
            "$.routing.providers.nanogpt.weight",
            ">= 0.0",
        ),
        (
            '[[routing.rules]]\nname = "a"\nmatch = { metadata = { tier = "x", "odd key" = 3 } }\n',
            '$.routing.rules[0].match.metadata["odd key"]',
            "Expected `str`, got `int`",
        ),
        ("[routing]\nweights = { cost = 0, speed = 0 }\n", "$.routing.weights", "at least one of cost and speed"),
        ("routing = 3\n", "$.routing", "Expected `object`"),
    ],
)
def test_bad_values_are_rejected_with_the_path(text: str, path: str, detail: str) -> None:
    """Type, range, enum, pattern and unknown-field errors name the file and the path, dict keys included."""
    error = _error(text)
    assert error.path == path
    assert detail in error.detail
    assert str(error).startswith(f"ops.toml: {path}: ")


def _holder() -> tuple[RulesHolder, list[datetime]]:
    times = [datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)]
    ticks = iter(times)
    holder = RulesHolder(known_providers=PROVIDERS, known_models=MODELS, clock=lambda: next(ticks))
    return holder, times


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("[routing\n", "ops.toml: not valid TOML"),
        ('[routing]\ndefault_strategy = "random"\n', "ops.toml: $.routing.default_strategy: "),
        ('[[routing.rules]]\nname = "a"\nallow = ["nanogtp"]\n', "ops.toml: $.routing.rules[0].allow[0]: "),
    ],
)
def test_a_failed_reload_keeps_the_old_rules_and_version(bad: str, message: str) -> None:
    """A reload that fails raises RulesError naming the file and path, and the previous rules stay active."""
    holder, times = _holder()
    good = holder.reload('[routing]\ndefault_strategy = "fastest"\n', source="ops.toml")
    with pytest.raises(RulesError) as caught:
        holder.reload(bad, source="ops.toml")
    assert str(caught.value).startswith(message)
    assert holder.active is good
    assert holder.version == good.version
    assert holder.active.loaded_at == times[1]
    assert holder.resolve(team="t", model="scenex").strategy == "fastest"


def test_a_good_reload_changes_the_version_and_the_rules() -> None:
    """A valid new file becomes active with a new version and load time; the same rules keep the same version."""
    holder, times = _holder()
    first = holder.active
    assert (first.source, first.loaded_at, first.rules.default_strategy) == ("<defaults>", times[0], "cheapest")
    second = holder.reload('[routing]\ndefault_strategy = "priority"\n', source="ops.toml")
    assert second.version != first.version
    assert len(second.version) == 12
    assert (holder.active, second.source, second.loaded_at) == (second, "ops.toml", times[1])
    assert holder.resolve(team="t", model="scenex").strategy == "priority"
    # The version hashes the decoded rules, not the text: layout and comments do not change it.
    third = holder.reload('# reformatted\nrouting = { default_strategy = "priority" }\n', source="ops.toml")
    assert third.version == second.version
    assert version_of(parse_rules("", source="x", known_providers=(), known_models=())) == first.version


def test_holder_rejects_initial_rules_naming_unknown_providers() -> None:
    """The rules a holder starts with are validated like a reload."""
    rules = parse_rules("[routing.providers.vidgen]\n", source="boot.toml", known_providers=PROVIDERS, known_models=())
    with pytest.raises(RulesError, match=r"^boot.toml: \$\.routing\.providers\.vidgen: unknown provider 'vidgen'$"):
        RulesHolder(rules, known_providers=("nanogpt",), known_models=(), source="boot.toml")


def test_routing_table_coexists_with_the_example_config() -> None:
    """A `[routing]` table appended to the real example file parses against its catalogue, ignoring other tables."""
    example = EXAMPLE.read_text()
    settings = parse_settings(example)
    routing = """
[routing]
default_strategy = "balanced"
weights = { cost = 1.0, speed = 2.0 }

[routing.providers.videogenapi]
drain = true

[[routing.rules]]
name = "sandbox-sora"
match = { teams = ["sandbox"], models = ["sora-2"], metadata = { env = "dev" } }
strategy = "priority"
order = ["nanogpt", "videogenapi"]
max_cost_usd = 1.5
"""
    rules = parse_rules(
        example + routing,
        source=str(EXAMPLE),
        known_providers=settings.providers.keys(),
        known_models=settings.models.keys(),
    )
    assert rules.default_strategy == "balanced"
    assert rules.providers["videogenapi"].drain
    policy = resolve(rules, team="sandbox", model="sora-2", metadata={"env": "dev"})
    assert (policy.matched, policy.strategy, policy.max_cost_usd) == (("sandbox-sora",), "priority", 1.5)
    assert policy.refusal("videogenapi") == "draining: takes no new jobs"
    # Without a [routing] table the example file gives the defaults.
    assert parse_rules(example, source="x", known_providers=PROVIDERS, known_models=()).rules == ()


def test_a_table_given_as_builtins_converts_and_validates_like_the_file() -> None:
    """A JSON body's `[routing]` table (the admin API) gets the file's checks and paths, under its own source; a
    holder converts against its own providers and models without installing anything."""
    holder, times = _holder()
    table = {
        "default_strategy": "fastest",
        "rules": [{"name": "a", "match": {"teams": ["t"], "models": ["scenex"]}, "deny": ["vidgen"]}],
    }
    rules = holder.convert(table, source="PUT /v1/admin/routing")
    assert (rules.default_strategy, rules.rules[0].deny) == ("fastest", ("vidgen",))
    assert holder.active.loaded_at == times[0]
    assert resolve(rules, team="t", model="scenex").deny == frozenset({"vidgen"})
    refusals = [
        ({"default_strategy": "random"}, "$.routing.default_strategy", "Invalid enum value 'random'"),
        ({"providers": {"vidgen": {}, "odd key": {"weight": -2}}}, '$.routing.providers["odd key"].weight', ">= 0.0"),
        ({"rules": [{"name": "a", "allow": ["nanogtp"]}]}, "$.routing.rules[0].allow[0]", "unknown provider"),
        ({"rules": [{"name": "a", "match": {"models": ["sora-3"]}}]}, "$.routing.rules[0].match.models[0]", "model"),
    ]
    for table, path, detail in refusals:
        with pytest.raises(RulesError) as caught:
            holder.convert(table, source="PUT /v1/admin/routing")
        assert (caught.value.source, caught.value.path) == ("PUT /v1/admin/routing", path)
        assert detail in caught.value.detail
        assert str(caught.value).startswith(f"PUT /v1/admin/routing: {path}: ")


def test_the_holder_resolves_with_the_requests_team_model_and_metadata() -> None:
    """`RulesHolder.resolve` passes the team, the model and the metadata on to the active rules."""
    holder, _ = _holder()
    holder.reload(MATCHING, source="ops.toml")
    assert holder.resolve(team="team-a", model="scenex").matched == ("team-a",)
    studio = holder.resolve(team="team-c", model="sora-2", metadata={"tier": "studio"})
    assert studio.matched == ("sora-for-studio",)
    assert holder.resolve(team="team-b", model="veo-3.1-fast").matched == ("team-b-veo",)


def test_a_rules_error_without_source_or_path_is_its_detail() -> None:
    """The message is `source: path: detail` with what is given, and the bare detail when neither is."""
    assert str(RulesError("no routing table")) == "no routing table"
    assert str(RulesError("bad", path="$.routing")) == "$.routing: bad"
    assert str(RulesError("bad", source="ops.toml")) == "ops.toml: bad"


def test_weights_need_only_one_of_cost_and_speed() -> None:
    """`balanced` may weigh cost alone or speed alone; both at zero is refused."""
    for cost, speed in ((0, 1), (1, 0)):
        weights = _policy(f"[routing]\nweights = {{ cost = {cost}, speed = {speed} }}\n").weights
        assert (weights.cost, weights.speed) == (cost, speed)
    assert "at least one of cost and speed" in _error("[routing]\nweights = { cost = 0, speed = 0 }\n").detail


def test_paths_name_the_bad_key_of_a_later_rule_and_keep_capitals() -> None:
    """A bad metadata value in the second rule is found in that rule, not the first; a provider name with capitals
    is written as a plain `.Name` segment."""
    text = (
        '[[routing.rules]]\nname = "a"\nmatch = { metadata = { tier = "x" } }\n'
        '[[routing.rules]]\nname = "b"\nmatch = { metadata = { "odd key" = 3 } }\n'
    )
    assert _error(text).path == '$.routing.rules[1].match.metadata["odd key"]'
    assert _error("[routing.providers.VidGen]\n").path == "$.routing.providers.VidGen"


def test_the_version_does_not_depend_on_the_order_of_a_table() -> None:
    """Providers listed in another order are the same rules, so the same version."""
    holder, _ = _holder()
    first = holder.reload("[routing.providers.vidgen]\ndrain = true\n[routing.providers.nanogpt]\n", source="a.toml")
    second = holder.reload("[routing.providers.nanogpt]\n[routing.providers.vidgen]\ndrain = true\n", source="b.toml")
    assert first.version == second.version


def test_a_holder_checks_models_and_names_the_source_of_what_it_installs() -> None:
    """Rules naming a known model load, at start and on reload; an unknown one is refused; `install` names the
    source it was given."""
    text = '[[routing.rules]]\nname = "a"\nmatch = { models = ["sora-2"] }\n'
    rules = parse_rules(text, source="boot.toml", known_providers=PROVIDERS, known_models=MODELS)
    holder = RulesHolder(rules, known_providers=PROVIDERS, known_models=MODELS, source="boot.toml")
    assert holder.reload(text, source="ops.toml").rules == rules
    with pytest.raises(RulesError, match="unknown model 'sora-3'"):
        holder.reload(text.replace("sora-2", "sora-3"), source="ops.toml")
    narrow = RulesHolder(known_providers=("nanogpt",), known_models=MODELS)
    assert narrow.active.loaded_at.utcoffset() == timedelta(0)  # the default clock is UTC's
    with pytest.raises(RulesError) as caught:
        narrow.install(
            parse_rules("[routing.providers.vidgen]\n", source="x", known_providers=PROVIDERS, known_models=()),
            source="PUT",
        )
    assert str(caught.value).startswith("PUT: $.routing.providers.vidgen: ")
