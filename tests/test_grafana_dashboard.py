"""dashboards/rampbot.json: every query reads a metric `rampbot publish` exports.

Grafana's schema itself is checked in CI by dashboards/check-schema (TypeScript types from
@grafana/schema); this test needs no network and reads the metric names from a real registry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.change_log import HistoryMetrics
from bot.flags import parse_flags
from bot.metrics import ramp_registry

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "rampbot.json"
EXAMPLE_FLAGS = Path(__file__).resolve().parents[1] / "examples" / "demo" / "flags.json"
_METRIC = re.compile(r"\brampbot_[a-z_]+\b")


def exported() -> set[str]:
    """Every sample name publish writes, with the history metrics (the Pushgateway's too)."""
    flags = parse_flags(EXAMPLE_FLAGS.read_text(), source="flags.json")
    history = HistoryMetrics(lineage_complete_ratio=0.5, redactions={"email": 1}, rollbacks={})
    text = generate_latest(ramp_registry(flags, history=history)).decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_panel_has_a_query() -> None:
    for panel in dashboard()["panels"]:
        assert panel.get("targets"), panel["title"]
        assert all(target.get("expr") for target in panel["targets"]), panel["title"]


@pytest.mark.parametrize(("title", "expr"), queries())
def test_each_query_names_only_exported_metrics(title: str, expr: str) -> None:
    names = set(_METRIC.findall(expr))
    assert names, f"{title}: {expr} names no rampbot metric"
    assert names <= exported(), f"{title}: {sorted(names - exported())} are not exported"


def test_the_variables_read_exported_metrics() -> None:
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            names = set(_METRIC.findall(variable["query"]["query"]))
            assert names, variable["name"]
            assert names <= exported(), variable["name"]


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ("rampbot_lineage_complete_ratio", "lineage completeness"),
        ("rampbot_redactions_total", "pii blocks"),
        ("rampbot_ramp_pct", "ramp percentage by tenant and feature"),
        ("rampbot_rollbacks_merged_total", "rollbacks over time"),
    ],
)
def test_the_four_views_are_there(metric: str, words: str) -> None:
    assert any(words in title.lower() and metric in expr for title, expr in queries()), (
        f"no panel shows {words} from {metric}"
    )


def test_panels_have_distinct_ids_and_do_not_overlap() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]  # Grafana's grid is 24 wide
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
