"""Shared by the test_translation_* modules: the provider settings they build calls with and the
replies they parse (seed 000's own and ours: fixtures/SOURCES.md). Pure: no I/O beyond reading fixture files."""

from __future__ import annotations

from pathlib import Path

from providers.contract import ProviderSettings, Reply

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://vidgen.test", api_key="sk-test")


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())
