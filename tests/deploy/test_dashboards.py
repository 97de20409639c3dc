"""The Grafana dashboards in deploy/ query only metrics and labels the app exports (so they cannot drift from the
code), use the provisioned Prometheus data source through a variable, and lay out on Grafana's 24-column grid."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.metrics.conftest import every_metric

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
NAMES = ["finance.json", "ops.json"]
# Series Prometheus adds itself, and the labels it adds to every scraped series.
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
SCRAPE_LABELS = {"job", "instance"}
OURS = re.compile(r"\bvideo_gateway_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"^label_values\((\w+),\s*(\w+)\)$")


def load(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((DASHBOARDS / name).read_text())
    return board


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(board) for target in panel.get("targets", [])]


async def exported() -> dict[str, set[str]]:
    """Every sample name the app can expose, with its labels (and what Prometheus adds when scraping)."""
    labels: dict[str, set[str]] = {}
    for family in (await every_metric()).registry.collect():
        for sample in family.samples:
            labels.setdefault(sample.name, set(SCRAPE_LABELS)).update(sample.labels)
    return labels | PROMETHEUS_SERIES


def unknown_series(expr: str, known: dict[str, set[str]]) -> set[str]:
    """Our metric names and selected series in `expr` that the app does not export."""
    named = set(OURS.findall(expr)) | {name for name, _ in SELECTOR.findall(expr)}
    return {name for name in named if name not in known}


def unknown_labels(expr: str, known: dict[str, set[str]]) -> set[str]:
    """Labels matched in a selector that its series lacks, and grouping labels no series in `expr` has."""
    missing = set()
    for name, matchers in SELECTOR.findall(expr):
        missing |= {f"{name}:{label}" for label in MATCHER.findall(matchers) if label not in known.get(name, set())}
    present = set().union(*(known.get(name, set()) for name in OURS.findall(expr) + list(PROMETHEUS_SERIES)))
    for grouping in GROUPING.findall(expr):
        missing |= {label for label in (g.strip() for g in grouping.split(",")) if label and label not in present}
    return missing


async def test_the_checker_catches_a_renamed_metric_and_a_wrong_label() -> None:
    """The drift check is real: a misspelt metric, an unknown matcher and an unknown grouping label are caught."""
    known = await exported()
    assert unknown_series("sum(rate(video_gateway_cost_total[5m]))", known) == {"video_gateway_cost_total"}
    assert unknown_labels('sum(video_gateway_cost_usd_total{region="eu"})', known) == {
        "video_gateway_cost_usd_total:region"
    }
    assert unknown_labels("sum by (region) (video_gateway_cost_usd_total)", known) == {"region"}
    assert unknown_series("sum by (team) (video_gateway_cost_usd_total)", known) == set()


@pytest.mark.parametrize("name", NAMES)
async def test_every_expression_uses_exported_metrics_and_labels(name: str) -> None:
    """Each panel query names only series the app exports, with labels those series carry."""
    known = await exported()
    exprs = expressions(load(name))
    assert len(exprs) >= 15
    for expr in exprs:
        assert OURS.search(expr) or "up{" in expr, expr
        assert unknown_series(expr, known) == set(), expr
        assert unknown_labels(expr, known) == set(), expr


@pytest.mark.parametrize("name", NAMES)
async def test_template_variables_read_exported_labels(name: str) -> None:
    """The dashboard variables list label values of exported metrics; the first is the Prometheus data source."""
    known = await exported()
    variables = load(name)["templating"]["list"]
    assert (variables[0]["name"], variables[0]["type"], variables[0]["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for variable in variables[1:]:
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, variable["query"]
        metric, label = match.groups()
        assert label in known.get(metric, set()) | known.get(f"{metric}_total", set()), (metric, label)


@pytest.mark.parametrize("name", NAMES)
def test_every_panel_queries_the_datasource_variable(name: str) -> None:
    """No panel or query is pinned to one data source: all go through `${datasource}`."""
    for panel in panels(load(name)):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("name", NAMES)
def test_panels_have_unique_ids_and_fit_the_grid(name: str) -> None:
    """Panel ids are unique and every panel lies within the 24 columns without overlapping another."""
    board = load(name)
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        taken = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, panel["title"]
        cells |= taken


def test_the_dashboards_have_stable_uids() -> None:
    """Provisioned dashboards keep their uid (links and bookmarks survive a redeploy)."""
    assert {load(n)["uid"] for n in NAMES} == {"video-gateway-finance", "video-gateway-ops"}
