"""Settings: the example file loads, every bad value is a ConfigError naming the path of the bad key, and
secrets come from the environment without ever appearing in an error."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from gateway.auth import KeyRing
from gateway.config import ConfigError, configured_secrets, load_settings, parse_settings, secret_from_env
from providers.registry import PROVIDERS
from sandbox.registry import EMULATORS

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "gateway.example.toml"
EXAMPLE_TEXT = EXAMPLE.read_text()


def _edited(old: str, new: str) -> str:
    """The example config with one exact edit; fails loudly if the example no longer has `old`."""
    assert old in EXAMPLE_TEXT, f"the example config no longer contains {old!r}"
    return EXAMPLE_TEXT.replace(old, new, 1)


def test_example_config_loads() -> None:
    """`deploy/gateway.example.toml` decodes into settings with its provider, model and key."""
    settings = load_settings(EXAMPLE)
    assert settings.default_model == "scenex"
    # `make run` serves every provider we have an adapter and an emulator for.
    assert set(settings.providers) == set(PROVIDERS) == set(EMULATORS)
    assert settings.providers["vidgen"].api_key_env == "VIDGEN_API_KEY"
    assert [o.provider for o in settings.models["scenex"].offerings] == ["vidgen"]
    assert settings.keys[0].key_env == "VIDEO_GATEWAY_SANDBOX_KEY"


def test_empty_config_takes_defaults() -> None:
    """An empty file is valid: every section has a default."""
    settings = parse_settings("")
    assert settings.server.port == 8080
    assert settings.store.backend == "memory"
    assert settings.providers == {}


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("port = 8080", "port = 70000", "`$.server.port`"),
        ("port = 8080", 'port = "8080"', "`$.server.port`"),
        ("timeout_s = 30.0", "timeout_s = -1.0", "`$.providers.vidgen.timeout_s`"),
        ("poll_interval_s = 1.0", "poll_interval_s = 0", "`$.providers.vidgen.poll_interval_s`"),
        ('log_level = "info"', 'log_level = "loud"', "`$.log_level`"),
        ('backend = "memory"', 'backend = "sqlite"', "`$.store.backend`"),
        ('scopes = ["videos", "usage", "admin"]', 'scopes = ["root"]', "`$.keys[0].scopes[0]`"),
        ('key_env = "VIDEO_GATEWAY_SANDBOX_KEY"', 'sha256 = "not-hex"', "`$.keys[0].sha256`"),
        (
            "per_second_usd = 0.02",
            "per_second_usd = -1.0",
            "`$.models.scenex.offerings[0].price.per_second_usd`",
        ),
        (
            'modes = ["t2v", "i2v", "first_last", "multi_scene"]',
            'modes = ["teleport"]',
            "`$.models.scenex.offerings[0].capabilities.modes[0]`",
        ),
    ],
)
def test_bad_value_error_names_its_path(old: str, new: str, path: str) -> None:
    """An out-of-range or mistyped value is a ConfigError whose message names the key's path."""
    with pytest.raises(ConfigError) as raised:
        parse_settings(_edited(old, new), source="gateway.toml")
    assert path in str(raised.value)
    assert str(raised.value).startswith("gateway.toml: ")


@pytest.mark.parametrize(
    ("old", "new", "field", "path"),
    [
        ("port = 8080", "port = 8080\nworkers = 4", "workers", "`$.server`"),
        ("timeout_s = 30.0", "timeout_s = 30.0\nretries = 3", "retries", "`$.providers.vidgen`"),
        (
            "music = true",
            "music = true\ncolour = true",
            "colour",
            "`$.models.scenex.offerings[0].capabilities`",
        ),
    ],
)
def test_unknown_key_error_names_field_and_path(old: str, new: str, field: str, path: str) -> None:
    """A misspelt or unknown key is an error naming the key and where it was found, never silently ignored."""
    with pytest.raises(ConfigError) as raised:
        parse_settings(_edited(old, new))
    assert f"`{field}`" in str(raised.value)
    assert path in str(raised.value)


def test_unknown_top_level_key_is_an_error_naming_it() -> None:
    """A key at the top of the file that settings do not know is an error naming it."""
    with pytest.raises(ConfigError, match="unknown field `debug`"):
        parse_settings("debug = true\n" + EXAMPLE_TEXT)


def test_capability_size_multiple_zero_is_rejected() -> None:
    """A capability that cannot be true (sizes a multiple of 0) is a ConfigError at load, not a 500 later."""
    with pytest.raises(ConfigError, match="size_multiple"):
        parse_settings(_edited("size_multiple = 8", "size_multiple = 0"))


def test_missing_price_is_an_error_naming_the_offering() -> None:
    """An offering without a price is a ConfigError at its path (a model is never free by omission)."""
    with pytest.raises(ConfigError, match=r"`price`.*`\$\.models\.scenex\.offerings\[0\]`"):
        parse_settings(_edited("price = { per_second_usd = 0.02 }", ""))


def test_zero_price_is_an_error() -> None:
    """A price table with no non-zero rate is rejected rather than billing $0."""
    with pytest.raises(ConfigError, match="price needs"):
        parse_settings(_edited("price = { per_second_usd = 0.02 }", "price = { per_second_usd = 0.0 }"))


def test_offering_naming_unconfigured_provider_is_an_error() -> None:
    """An offering whose provider has no `[providers.<slug>]` table is an error naming the offering's path."""
    with pytest.raises(ConfigError) as raised:
        parse_settings(_edited('provider = "vidgen"', 'provider = "lumaflux"'))
    assert "lumaflux" in str(raised.value)
    assert "$.models.scenex.offerings[0].provider" in str(raised.value)


def test_default_model_not_in_catalogue_is_an_error() -> None:
    """A `default_model` the catalogue lacks is an error naming `default_model`."""
    with pytest.raises(ConfigError, match="default_model"):
        parse_settings(_edited('default_model = "scenex"', 'default_model = "no-such-model"'))


@pytest.mark.parametrize(
    "key_line",
    [
        'key_env = "VIDEO_GATEWAY_SANDBOX_KEY"\nsha256 = "' + "a" * 64 + '"',
        "",
    ],
)
def test_client_key_needs_exactly_one_of_digest_or_env(key_line: str) -> None:
    """A `[[keys]]` entry with both or neither of `sha256` and `key_env` is an error at `$.keys[0]`."""
    with pytest.raises(ConfigError, match=re.escape("`$.keys[0]`")):
        parse_settings(_edited('key_env = "VIDEO_GATEWAY_SANDBOX_KEY"', key_line))


def test_invalid_toml_is_a_config_error_naming_the_source() -> None:
    """Text that is not TOML is a ConfigError naming the file, not a raw decoder exception."""
    with pytest.raises(ConfigError, match=r"^broken\.toml: not valid TOML"):
        parse_settings("[server\nport = 1", source="broken.toml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist is a ConfigError naming the path."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape("nope.toml: cannot read")):
        load_settings(missing)


def test_missing_secret_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset secret variable is an error naming the variable and what needs it."""
    monkeypatch.delenv("VG_TEST_ABSENT_SECRET", raising=False)
    with pytest.raises(ConfigError) as raised:
        secret_from_env("VG_TEST_ABSENT_SECRET", what="providers.vidgen.api_key_env")
    assert "VG_TEST_ABSENT_SECRET" in str(raised.value)
    assert "providers.vidgen.api_key_env" in str(raised.value)


def test_empty_secret_env_is_missing_and_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret variable set to the empty string counts as missing."""
    monkeypatch.setenv("VG_TEST_EMPTY_SECRET", "")
    with pytest.raises(ConfigError, match="VG_TEST_EMPTY_SECRET is not set"):
        secret_from_env("VG_TEST_EMPTY_SECRET", what="keys[x]")


def test_secret_from_env_returns_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A set secret variable's value is returned as is."""
    monkeypatch.setenv("VG_TEST_SECRET", "sbx_value_1234")
    assert secret_from_env("VG_TEST_SECRET", what="test") == "sbx_value_1234"


def test_keyring_from_config_with_missing_key_env_never_shows_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building the key ring with a key variable unset fails naming the variable, and shows no secret."""
    monkeypatch.delenv("VIDEO_GATEWAY_SANDBOX_KEY", raising=False)
    monkeypatch.setenv("VIDGEN_API_KEY", "sbx_provider_secret_value")
    settings = load_settings(EXAMPLE)
    with pytest.raises(ConfigError) as raised:
        KeyRing.from_config(settings.keys)
    assert "VIDEO_GATEWAY_SANDBOX_KEY" in str(raised.value)
    assert "sbx_provider_secret_value" not in str(raised.value)


def test_configured_secrets_lists_every_set_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provider keys, client keys by env, the Redis URL env and that URL's password on its own are all returned;
    unset ones are skipped."""
    text = _edited('# redis_url_env = "VIDEO_GATEWAY_REDIS_URL"', 'redis_url_env = "VG_TEST_REDIS_URL"')
    settings = parse_settings(text)
    monkeypatch.setenv("VIDGEN_API_KEY", "sbx_provider_key_abc")
    monkeypatch.setenv("VIDEO_GATEWAY_SANDBOX_KEY", "vgk_client_key_abc")
    monkeypatch.setenv("VG_TEST_REDIS_URL", "redis://:hunter2hunter2@db:6379/0")
    assert sorted(configured_secrets(settings)) == sorted(
        ["sbx_provider_key_abc", "vgk_client_key_abc", "redis://:hunter2hunter2@db:6379/0", "hunter2hunter2"]
    )
    monkeypatch.delenv("VIDEO_GATEWAY_SANDBOX_KEY")
    assert "vgk_client_key_abc" not in configured_secrets(settings)


def test_lease_shorter_than_a_provider_timeout_is_rejected() -> None:
    """A poll lease the provider timeout can outlast would let two replicas poll one job; it does not load."""
    with pytest.raises(ConfigError, match=r"lease_s .* must exceed .*`\$\.providers\.vidgen\.timeout_s`"):
        parse_settings(_edited("lease_s = 60.0", "lease_s = 10.0"))


def test_a_submit_grace_shorter_than_the_longest_submit_does_not_load() -> None:
    """The poller fails a record still submitting after `submit_grace_s`: it must outlast the capacity wait, the
    failover deadline and one more provider call, or a live create would be failed under its feet."""
    base = load_settings(EXAMPLE)
    slowest = max(p.timeout_s for p in base.providers.values())
    tight = 5.0 + 60.0 + slowest  # the example's wait and deadline, exactly
    with pytest.raises(ValueError, match=r"poller.submit_grace_s .* must exceed the longest submit"):
        msgspec.structs.replace(base, poller=msgspec.structs.replace(base.poller, submit_grace_s=tight))
    assert msgspec.structs.replace(base, poller=msgspec.structs.replace(base.poller, submit_grace_s=tight + 1))


async def test_bad_provider_options_fail_at_start_naming_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Veo's `options` asking for Vertex without a project is a start-up ConfigError naming providers.veo.options."""
    import httpx

    from gateway.upstreams import build_upstreams
    from providers.contract import ignore_capacity
    from providers.transport import ignore_calls

    settings = parse_settings(
        _edited('api_key_env = "GEMINI_API_KEY"', 'api_key_env = "GEMINI_API_KEY"\noptions = { api = "vertex" }')
    )
    monkeypatch.setenv("GEMINI_API_KEY", "ya29.test")
    veo = {"veo": settings.providers["veo"]}
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConfigError, match=r"providers\.veo\.options: .*storage_uri"):
            build_upstreams(veo, client, observe=ignore_calls, capacity=ignore_capacity)
