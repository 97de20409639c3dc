"""VideoGen's seed-001 options beyond the basics: `numResults` (several results, the extra ones reachable),
`isOutputTemporary`, and no `durationSeconds` (seed 001 does not list it) unless routing set a length."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contract import (
    Capabilities,
    ExtraOutput,
    GenerationRequest,
    HttpCall,
    InvalidUpstreamRequest,
    ProviderSettings,
    Reply,
    Scene,
)
from providers.videogen import build_submit, parse_status
from routing.catalogue import Model, Offering, Price
from routing.router import RouteQuery, Router

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://api.videogen.test", api_key="vg-key")


def make_request(**fields: object) -> GenerationRequest:
    return GenerationRequest(upstream_model="auto", scenes=(Scene(prompt="ocean waves"),), **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


def test_build_submit_sends_num_results_when_more_than_one() -> None:
    """Several results per call are seed 001's `numResults`."""
    assert body_of(build_submit(make_request(results=3), SETTINGS))["numResults"] == 3


def test_build_submit_leaves_num_results_and_temporary_out_by_default() -> None:
    """One result and kept outputs are the vendor defaults: neither field is sent."""
    assert not {"numResults", "isOutputTemporary"} & set(body_of(build_submit(make_request(), SETTINGS)))


def test_build_submit_sends_is_output_temporary() -> None:
    """A temporary output is seed 001's `isOutputTemporary: true`."""
    assert body_of(build_submit(make_request(temporary_output=True), SETTINGS))["isOutputTemporary"] is True


@pytest.mark.parametrize("results", [0, 101])
def test_build_submit_refuses_num_results_outside_the_seed_range(results: int) -> None:
    """Seed 001: `numResults` is 1-100."""
    with pytest.raises(InvalidUpstreamRequest, match="numResults"):
        build_submit(make_request(results=results), SETTINGS)


def test_parse_status_keeps_every_result_the_first_as_the_video() -> None:
    """A two-result execution is the first result's video plus one extra result with its own URLs."""
    reply = Reply(status_code=200, headers={}, body=(FIXTURES / "status_succeeded_two_results.json").read_bytes())
    output = parse_status(reply).output
    assert output is not None
    assert output.video_url == "https://cdn.videogen.io/signed/vg_file_9f8e7d6c.mp4?sig=abc"
    assert output.extra == (
        ExtraOutput(
            video_url="https://cdn.videogen.io/signed/vg_file_1a2b3c4d.mp4?sig=abc",
            thumbnail_url="https://cdn.videogen.io/signed/vg_file_1a2b3c4d.jpg?sig=def",
            expires_at=1769900000,
        ),
    )


def _routed(capabilities: Capabilities, **request: object) -> GenerationRequest:
    offering = Offering(
        provider="videogen", upstream_model="auto", capabilities=capabilities, price=Price(per_second_usd=0.05)
    )
    router = Router({"videogen-clip": Model(offerings=(offering,))}, enabled={"videogen": True})
    query = RouteQuery(model="videogen-clip", request=make_request(**request))
    plan = router.plan(query)
    assert plan.candidates, plan.dropped
    return plan.candidates[0].request


def test_a_routed_request_sends_no_duration_where_the_seed_lists_none() -> None:
    """With `seconds_control = false` (seed 001 has no length field) the routed body has no `durationSeconds`."""
    caps = Capabilities(modes=frozenset({"t2v"}), seconds_control=False, default_seconds=8)
    assert "durationSeconds" not in body_of(build_submit(_routed(caps), SETTINGS))


def test_a_routed_request_sends_the_duration_an_operator_turned_on() -> None:
    """With `seconds_control` on (the vendor's MCP field), the priced length is sent as `durationSeconds`."""
    caps = Capabilities(modes=frozenset({"t2v"}), seconds=frozenset({4, 8}), default_seconds=8)
    assert body_of(build_submit(_routed(caps, seconds=4), SETTINGS))["durationSeconds"] == 4
