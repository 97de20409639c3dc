"""Building the configured providers: a generic adapter kind under slugs of its own, with its key header and query;
every other kind only under its own slug and without those options."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import ConfigError, parse_settings
from gateway.upstreams import Upstream, build_upstreams
from providers.contract import ignore_capacity
from providers.transport import ignore_calls

KEY_ENV = "VG_TEST_UPSTREAMS_KEY"


def _providers(table: str) -> str:
    return f'[providers.{table}\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "{KEY_ENV}"\n'


async def _build(text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Upstream]:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    settings = parse_settings(text, source="test")
    async with httpx.AsyncClient() as client:
        return build_upstreams(settings.providers, client, observe=ignore_calls, capacity=ignore_capacity)


async def test_two_instances_of_the_generic_adapter_keep_their_own_slugs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`openai` and `azure-openai` both use the generic kind; each adapter reports its own slug."""
    text = _providers('openai]\nadapter = "openai"') + _providers(
        'azure-openai]\nadapter = "openai"\nkey_header = "api-key"\nquery = { api-version = "preview" }'
    )
    upstreams = await _build(text, monkeypatch)
    assert {slug: upstream.provider for slug, upstream in upstreams.items()} == {
        "openai": "openai",
        "azure-openai": "azure-openai",
    }


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ('nano-eu]\nadapter = "nanogpt"', "serves only its own slug"),
        ('nanogpt]\nkey_header = "api-key"', "takes no key_header or query"),
        ('vidgen]\nquery = { region = "eu" }', "takes no key_header or query"),
        ('acme]\nadapter = "acme"', "no adapter 'acme'"),
    ],
)
async def test_only_generic_adapters_take_another_slug_or_connection_options(
    monkeypatch: pytest.MonkeyPatch, table: str, complaint: str
) -> None:
    """A seed adapter under another slug, with a key header or a query, or an unknown kind is a start-up error."""
    with pytest.raises(ConfigError, match=complaint):
        await _build(_providers(table), monkeypatch)


def test_a_key_header_must_be_a_header_name() -> None:
    """`key_header` with a space or a colon is refused at load, naming the key."""
    with pytest.raises(ConfigError, match="key_header"):
        parse_settings(_providers('openai]\nadapter = "openai"\nkey_header = "api key:"'), source="test")
