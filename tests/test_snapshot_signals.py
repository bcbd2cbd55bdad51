"""Comparison and SLO signals in health snapshots: read, shown by `rampbot health`, decided by
`rampbot plan` with no Prometheus, and bad counts refused with the place and what to do."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.prometheus_repo import LONG_AGO_SECONDS, rampbot

POLICY = """\
flags_file: flags.json
bake_time: 30m
signals:
  - name: coverage
    query: avg by (tenant) (coverage_pct)
    healthy: ">= 95"
  - name: errors_vs_control
    compare:
      events: 'sum by (tenant, variant) (increase(errors_total[$window]))'
      total: 'sum by (tenant, variant) (increase(requests_total[$window]))'
      worse_by_more_than: 0.002
      min_total: 500
    critical: true
  - name: availability
    slo:
      objective: 0.999
      events: 'sum by (tenant) (increase(errors_total[$window]))'
      total: 'sum by (tenant) (increase(requests_total[$window]))'
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""

QUIET = {
    "1h": {"events": 10, "total": 100_000},
    "5m": {"events": 1, "total": 8_000},
    "6h": {"events": 60, "total": 600_000},
    "30m": {"events": 5, "total": 50_000},
}
SNAPSHOT = {
    "evaluated_at": "2026-11-26T09:30:00Z",
    "tenants": {
        "acme": {
            "coverage": 97,
            "errors_vs_control": {
                "treatment": {"events": 912, "total": 30_040},
                "control": {"events": 1_350, "total": 270_310},
                "window": "2h",
            },
            "availability": QUIET,
        },
        "globex": {
            "coverage": 97,
            "errors_vs_control": {
                "treatment": {"events": 40, "total": 31_020},
                "control": {"events": 615, "total": 279_500},
            },
            "availability": QUIET,
        },
        "initech": {
            "coverage": 97,
            "errors_vs_control": {
                "treatment": {"events": 2, "total": 312},
                "control": {"events": 19, "total": 2_790},
            },
            "availability": QUIET,
        },
        "hooli": {
            "coverage": 97,
            "errors_vs_control": {
                "treatment": {"events": 30, "total": 30_000},
                "control": {"events": 270, "total": 270_000},
            },
            # 3 % of requests fail over the last hour: 30x the budget of 0.1 %.
            "availability": {
                **QUIET,
                "1h": {"events": 3_000, "total": 100_000},
                "5m": {"events": 240, "total": 8_000},
            },
        },
    },
}


def repository(root: Path, snapshot: object) -> Path:
    (root / ".github").mkdir(parents=True)
    (root / ".github" / "rampbot.yml").write_text(POLICY)
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    flags = root / "flags.json"
    flags.write_text(json.dumps(document, indent=2) + "\n")
    long_ago = time.time() - LONG_AGO_SECONDS
    os.utime(flags, (long_ago, long_ago))
    text = snapshot if isinstance(snapshot, str) else json.dumps(snapshot, indent=1)
    (root / "health.json").write_text(text)
    return root


def test_a_snapshot_drives_comparisons_and_slos_without_prometheus(tmp_path, capsys):
    repo = repository(tmp_path, SNAPSHOT)
    assert rampbot(repo, "plan", "--health", "health.json", "--format", "json") == 0
    decisions = {d["tenant"]: d for d in json.loads(capsys.readouterr().out)["decisions"]}
    assert {tenant: (d["action"], d["to"]) for tenant, d in decisions.items()} == {
        "acme": ("rollback", 5),  # +2.54 pp, surely above the 0.2 pp margin: critical
        "globex": ("up", 25),  # -0.09 pp, harm beyond the margin ruled out
        "initech": ("hold", 10),  # 312 of 500 requests in treatment
        "hooli": ("down", 5),  # no difference between the arms, but the SLO burns 30x
    }
    compared = next(e for e in decisions["acme"]["evidence"] if e["signal"] == "errors_vs_control")
    assert compared["window"] == "2h"  # the snapshot's own window; else the bake time
    assert compared["comparison"]["treatment"] == {
        "events": 912,
        "total": 30_040,
        "ratio": pytest.approx(912 / 30_040),
    }
    assert decisions["initech"]["reasons"] == [
        "errors_vs_control: inconclusive: 312 of 500 requests in treatment "
        "(treatment 0.64% of 312, control 0.68% of 2,790, over 30m)"
    ]
    assert decisions["hooli"]["reasons"] == [
        "availability: burning 30x over 1h and 30x over 5m, both above 14.4x (SLO 99.9 %)"
    ]


def test_health_shows_comparisons_and_burn_rates_from_a_snapshot(tmp_path, capsys):
    repo = repository(tmp_path, SNAPSHOT)
    assert rampbot(repo, "health", "--health", "health.json") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split("  ")[0:1] == ["tenant"]
    assert "errors_vs_control (treatment - control, harm > +0.20 pp)" in lines[1]
    assert "availability (burn rate, SLO 99.9 %)" in lines[1]
    rows = {line.split()[0]: line for line in lines[2:6]}
    assert (
        "Δ +2.54 pp [+2.21 pp, +2.86 pp] · T 3.04% of 30,040 · C 0.50% of 270,310 / 2h *"
        in rows["acme"]
    )
    assert "0.1x 1h, 0.125x 5m, 0.1x 6h, 0.1x 30m" in rows["acme"]
    assert "inconclusive: 312 of 500 requests in treatment · T 0.64% of 312" in rows["initech"]
    assert rows["hooli"].endswith("30x 1h, 30x 5m, 0.1x 6h, 0.1x 30m *")
    assert lines[-2:] == ["* outside the healthy condition", "firing alerts: none"]

    assert rampbot(repo, "health", "--health", "health.json", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["kind"]) for s in document["signals"]] == [
        ("coverage", "threshold"),
        ("errors_vs_control", "comparison"),
        ("availability", "slo"),
    ]
    acme = document["tenants"]["acme"]
    assert acme["errors_vs_control"]["outcome"] == "breached"
    assert acme["errors_vs_control"]["window"] == "2h"
    assert acme["errors_vs_control"]["control"]["ratio"] == pytest.approx(1_350 / 270_310)
    assert acme["errors_vs_control"]["difference"] == pytest.approx(0.02536, abs=1e-4)
    assert acme["availability"]["burn_rates"]["1h"] == pytest.approx(0.1)
    assert document["tenants"]["hooli"]["availability"]["outcome"] == "breached"


def snapshot_with(tenant_values: dict[str, object]) -> dict[str, object]:
    return {"tenants": {"acme": {"coverage": 97, **tenant_values}}}


ARMS = {"control": {"events": 10, "total": 1_000}}


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (
            '{"tenants": {"acme": {"errors_vs_control": {"treatment": '
            '{"events": NaN, "total": 1000}}}}}',
            "health.json: tenants.acme.errors_vs_control.treatment.events: NaN is not a finite "
            "number; give a count of requests, 0 or more",
        ),
        (
            '{"tenants": {"acme": {"errors_vs_control": {"treatment": '
            '{"events": 1, "total": Infinity}}}}}',
            "health.json: tenants.acme.errors_vs_control.treatment.total: Infinity is not a "
            "finite number; give a count of requests, 0 or more",
        ),
        (
            snapshot_with(
                {"errors_vs_control": {"treatment": {"events": 3, "total": -1_000}, **ARMS}}
            ),
            "health.json: tenants.acme.errors_vs_control.treatment.total: -1000 is negative; "
            "give a count of requests, 0 or more",
        ),
        (
            snapshot_with(
                {"errors_vs_control": {"treatment": {"events": 40, "total": 30}, **ARMS}}
            ),
            "health.json: tenants.acme.errors_vs_control.treatment: events 40 is more than "
            "total 30; events counts the bad requests among total, so it is at most total",
        ),
        (
            snapshot_with({"availability": {"1h": {"events": 5, "total": 4}}}),
            "health.json: tenants.acme.availability.1h: events 5 is more than total 4; events "
            "counts the bad requests among total, so it is at most total",
        ),
        (
            snapshot_with({"availability": {"1h": {"events": None, "total": 4}}}),
            "health.json: tenants.acme.availability.1h.events: null is not a finite number; "
            "give a count of requests, 0 or more",
        ),
        (
            snapshot_with({"availability": {"2h": {"events": 1, "total": 4}}}),
            "health.json: tenants.acme.availability.2h: 2h is not a window of signal "
            "availability (1h, 5m, 6h, 30m); give the counts of those windows",
        ),
        (
            # A comparison's counts given to an SLO signal: no window of it, not a crash.
            snapshot_with({"availability": {"treatment": {"events": 1, "total": 4}}}),
            "health.json: tenants.acme.availability.treatment: treatment is not a window of "
            "signal availability (1h, 5m, 6h, 30m); give the counts of those windows",
        ),
        (
            snapshot_with({"availability": {"window": "2h"}}),
            "health.json: tenants.acme.availability.window: window is not a window of signal "
            "availability (1h, 5m, 6h, 30m); give the counts of those windows",
        ),
        (
            snapshot_with({"errors_vs_control": {}}),
            "health.json: tenants.acme.errors_vs_control: no treatment nor control; a comparison "
            'signal takes: {"treatment": {"events": 31, "total": 3000}, "control": {"events": '
            '270, "total": 27000}}',
        ),
        (
            snapshot_with({"availability": {"1H": {"events": 1, "total": 4}}}),
            "health.json: tenants.acme.availability.1H: 1H is not a window of signal "
            "availability (1h, 5m, 6h, 30m); give the counts of those windows",
        ),
        (
            snapshot_with({"errors_vs_control": 0.5}),
            "health.json: tenants.acme.errors_vs_control: got 0.5; a comparison signal takes: "
            '{"treatment": {"events": 31, "total": 3000}, "control": {"events": 270, "total": '
            "27000}}",
        ),
        (
            snapshot_with({"coverage": {"1h": {"events": 1, "total": 4}}}),
            "health.json: tenants.acme.coverage: got an object; a threshold signal takes: a "
            "number, or null for no data",
        ),
        (
            {"errors_vs_control": 0.5, "tenants": {}},
            "health.json: errors_vs_control: a comparison signal is measured per tenant; put "
            "its counts under tenants.<tenant>.errors_vs_control",
        ),
        (
            snapshot_with({"errors_vs_control": {"treatment": {"total": 1_000}}}),
            "health.json: tenants.acme.errors_vs_control.treatment: 'events' is a required "
            "property",
        ),
    ],
)
def test_bad_counts_in_a_snapshot_are_refused_and_nothing_is_written(
    tmp_path, capsys, snapshot, message
):
    repo = repository(tmp_path, snapshot)
    before = (repo / "flags.json").read_text()
    assert rampbot(repo, "apply", "--health", "health.json") == 1
    assert capsys.readouterr().err.splitlines() == [message]
    assert (repo / "flags.json").read_text() == before


@pytest.mark.parametrize("windows", [{}, {**QUIET, "5m": None}, {"1h": QUIET["1h"]}])
def test_an_slo_window_null_or_left_out_is_no_data(tmp_path, capsys, windows):
    tenant = {**SNAPSHOT["tenants"]["globex"], "availability": windows}
    repo = repository(
        tmp_path, {"evaluated_at": SNAPSHOT["evaluated_at"], "tenants": {"globex": tenant}}
    )
    assert rampbot(repo, "plan", "--health", "health.json", "--format", "json") == 0
    (decision,) = json.loads(capsys.readouterr().out)["decisions"]
    availability = next(e for e in decision["evidence"] if e["signal"] == "availability")
    assert availability["verdict"] == "no data"
    assert (decision["action"], decision["to"]) == ("hold", 10)  # globex steps up with data


def test_health_marks_shadow_signals_of_every_kind(tmp_path, capsys):
    shadowed = POLICY.replace("    critical: true\n", "    gate: false\n").replace(
        '    healthy: ">= 95"\n', '    healthy: ">= 95"\n    gate: false\n'
    )
    shadowed = shadowed.replace(
        "      total: 'sum by (tenant) (increase(requests_total[$window]))'\nfeatures",
        "      total: 'sum by (tenant) (increase(requests_total[$window]))'\n    gate: false\n"
        "features",
    )
    repo = repository(tmp_path, SNAPSHOT)
    (repo / ".github" / "rampbot.yml").write_text(shadowed)
    assert rampbot(repo, "health", "--health", "health.json") == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert "coverage (min, >= 95, shadow: decides nothing)" in header
    assert "harm > +0.20 pp, shadow: decides nothing)" in header
    assert "(burn rate, SLO 99.9 %, shadow: decides nothing)" in header

    assert rampbot(repo, "health", "--health", "health.json", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["gate"] for s in document["signals"]] == [False, False, False]
    repository(tmp_path / "gated", SNAPSHOT)
    assert rampbot(tmp_path / "gated", "health", "--health", "health.json", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["gate"] for s in document["signals"]] == [True, True, True]
