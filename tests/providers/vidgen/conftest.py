"""Shared by the test_translation_* modules: the provider settings they build calls with, the request they
start from, and the replies they parse (seed 000's own and ours: fixtures/SOURCES.md). Pure: no I/O beyond
reading fixture files."""

from __future__ import annotations

from pathlib import Path

from providers.contract import GenerationRequest, HttpCall, ProviderSettings, Reply, Scene

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://vidgen.test", api_key="sk-test")


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def make_request(*scenes: Scene, **fields: object) -> GenerationRequest:
    chosen = scenes or (Scene(prompt="ocean waves"),)
    return GenerationRequest(upstream_model="scenex", scenes=chosen, **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json
