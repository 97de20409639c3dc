"""Schemathesis against the committed `openapi/openapi.json`, over a gateway on the sandbox emulators: no 5xx and
no reply the document does not describe. Run on its own by `make test` (marker `schemathesis`), which prints the
run's counts."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings
from tests.conftest import GatewayFactory, auth, example_settings, wait_terminal

pytestmark = pytest.mark.schemathesis

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# One key holding every scope, so each operation is reached past its scope check.
ALL_SCOPES_KEY = "vgk_test_schemathesis_all_scopes"
CHECKS = os.environ.get(
    "SCHEMATHESIS_CHECKS",
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,unsupported_method",
)
# Bounded so the run stays under a minute on two cores; a fixed seed keeps CI reproducible (set
# SCHEMATHESIS_SEED to explore other inputs).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))


@pytest.fixture
async def gateway_url(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[str]:
    settings: Settings = example_settings(sandbox)
    caller = Caller(key_id="key-all", team="team-a", scopes=frozenset({"videos", "usage", "admin"}))
    async with serve_gateway(settings, keyring=KeyRing({digest(ALL_SCOPES_KEY): caller})) as url:
        yield url


async def _completed_video(gateway_url: str) -> str:
    """A finished job, so the routes on `/v1/videos/{video_id}` are fuzzed past their 404."""
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth(ALL_SCOPES_KEY)) as client:
        reply = await client.post("/v1/videos", json={"model": "scenex", "prompt": "a lighthouse at dusk"})
        assert reply.status_code == 202, reply.text
        video = await wait_terminal(client, reply.json()["id"], key=ALL_SCOPES_KEY)
    assert video["status"] == "completed", video
    video_id: str = video["id"]
    return video_id


async def test_the_live_gateway_answers_only_as_the_document_says(
    gateway_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schemathesis finds no 5xx, no undocumented status, content type or body shape in any operation."""
    # One video for every route on `/v1/videos/{video_id}`, another for DELETE, so a delete does not turn the others
    # into 404s for the rest of the run.
    video_id, doomed_id = await _completed_video(gateway_url), await _completed_video(gateway_url)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[cache]\nenabled = false\n\n[parameters]\n"path.video_id" = "{video_id}"\n\n'
        f'[[operations]]\ninclude-operation-id = "deleteVideo"\nparameters = {{ "path.video_id" = "{doomed_id}" }}\n'
    )
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        str(DOCUMENT),
        "--url",
        gateway_url,
        "--header",
        f"Authorization: Bearer {ALL_SCOPES_KEY}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "14"),
        # One worker: hypothesis' lambda-source cache trips CPython 3.11's `ast` when two threads parse at once.
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    summary = text[text.rfind("SUMMARY") :] if "SUMMARY" in text else text[-4000:]
    with capsys.disabled():  # the run's counts, in `make test`'s output whether or not it passes
        print(f"\nschemathesis {DOCUMENT.name}:\n{summary}")
    assert process.returncode == 0, text
    assert re.search(r"\b\d+ generated\b|\btest cases?\b", summary), summary
