"""Comparison and SLO signals end to end: counters labelled by variant, backfilled into a real
Prometheus, read through a recording proxy, decided by ``rampbot plan``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.prometheus import Series, Server, at_history_end, history_end, proxy_to
from tests.fixtures.prometheus import start_prometheus as start_server
from tests.prometheus_repo import LONG_AGO_SECONDS, rampbot

HOURS = 7  # the longest SLO window is 6h
REQUESTS = "http_requests_total"
ERRORS = "http_request_errors_total"
BULK = 100  # more tenants: the number of queries must not change with them

# tenant -> variant -> (requests a minute, error ratio, error ratio over the last hour)
TRAFFIC: dict[str, dict[str, tuple[float, float, float]]] = {
    # Flags say 10 %: a tenth of requests in treatment ("on").
    "same": {"on": (1_000, 0.002, 0.002), "off": (9_000, 0.002, 0.002)},
    "harm": {"on": (1_000, 0.03, 0.03), "off": (9_000, 0.005, 0.005)},
    "close": {"on": (1_000, 0.006, 0.006), "off": (9_000, 0.004, 0.004)},
    "srm": {"on": (310, 0.002, 0.002), "off": (690, 0.002, 0.002)},
    "small": {"on": (10, 0.002, 0.002), "off": (90, 0.002, 0.002)},
    # Both arms fail 3 % over the last hour: no difference, but the SLO burns 30x.
    "burning": {"on": (1_000, 0.002, 0.03), "off": (9_000, 0.002, 0.03)},
}


def counters(
    end: int, tenant: str, variant: str, rates: tuple[float, float, float], *, every: int = 1
) -> list[Series]:
    """Cumulative request and error counters, one sample every ``every`` minutes."""
    per_minute, ratio, recent = rates
    requests: list[tuple[int, float]] = []
    errors: list[tuple[int, float]] = []
    total = bad = 0.0
    for minute in range(HOURS * 60, -1, -1):
        total += per_minute
        bad += per_minute * (recent if minute < 60 else ratio)
        if minute % every == 0:
            requests.append((end - 60 * minute, total))
            errors.append((end - 60 * minute, bad))
    labels = {"case": "compare", "tenant": tenant, "variant": variant}
    return [Series(REQUESTS, labels, requests), Series(ERRORS, labels, errors)]


# tenant -> variant -> share of requests slower than 250 ms (1,000 a minute in treatment,
# 9,000 in control)
SLOW_SHARE = {"fast": {"on": 0.02, "off": 0.02}, "slow": {"on": 0.10, "off": 0.02}}


def histogram(end: int, tenant: str, variant: str, slow: float) -> list[Series]:
    """A latency histogram's count and its le="0.25" bucket, one sample a minute."""
    per_minute = 1_000 if variant == "on" else 9_000
    labels = {"case": "latency", "tenant": tenant, "variant": variant}
    count = [(end - 60 * m, per_minute * (HOURS * 60 - m + 1.0)) for m in range(HOURS * 60, -1, -1)]
    fast = [(when, total * (1 - slow)) for when, total in count]
    return [
        Series("http_request_duration_seconds_count", labels, count),
        Series("http_request_duration_seconds_bucket", {**labels, "le": "0.25"}, fast),
    ]


@pytest.fixture(scope="module")
def counters_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    end = history_end()
    series = [
        one
        for tenant, variants in TRAFFIC.items()
        for variant, rates in variants.items()
        for one in counters(end, tenant, variant, rates)
    ]
    series += [
        one
        for index in range(BULK)
        for variant, rates in (("on", (1_000, 0.002, 0.002)), ("off", (9_000, 0.002, 0.002)))
        for one in counters(end, f"bulk{index:03d}", variant, rates, every=5)
    ]
    series += [
        one
        for tenant, variants in SLOW_SHARE.items()
        for variant, share in variants.items()
        for one in histogram(end, tenant, variant, share)
    ]
    server = start_server(tmp_path_factory.mktemp("counters"), series=series, end=end)
    yield server
    server.stop()


POLICY = """\
flags_file: flags.json
bake_time: 30m
prometheus:
  url: {url}
  timeout: 10s
  retries: 0
signals:
  - name: errors_vs_control
    compare:
      events: 'sum by (tenant, variant) (increase(http_request_errors_total{{case="compare"}}[$window]))'
      total: 'sum by (tenant, variant) (increase(http_requests_total{{case="compare"}}[$window]))'
      variant_label: variant
      treatment: "on"
      control: "off"
      worse_by_more_than: 0.002
      min_total: 500
    critical: true
  - name: availability
    slo:
      objective: 0.999
      events: 'sum by (tenant) (increase(http_request_errors_total{{case="compare"}}[$window]))'
      total: 'sum by (tenant) (increase(http_requests_total{{case="compare"}}[$window]))'
  - name: any_error
    query: 'sum by (tenant) (rate(http_request_errors_total{{case="compare"}}[5m]))'
    healthy: "<= 0"
    gate: false
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""


def write_repo(root: Path, url: str) -> Path:
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "rampbot.yml").write_text(POLICY.format(url=url))
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    flags = root / "flags.json"
    flags.write_text(json.dumps(document, indent=2) + "\n")
    # Outside git the file's last write dates every tenant's last change: long before the
    # history ends, so the health read is newer than any change.
    long_ago = time.time() - LONG_AGO_SECONDS
    os.utime(flags, (long_ago, long_ago))
    return root


def plan(repo: Path, server: Server, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    now = at_history_end(server).isoformat()
    assert rampbot(repo, "plan", "--now", now, *args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_comparisons_and_slos_decide_each_tenant_with_one_query_per_expression(
    tmp_path, counters_prometheus, fake_server, capsys
):
    proxy = fake_server(proxy_to(counters_prometheus.url))
    repo = write_repo(tmp_path, proxy.url)
    document = json.loads(plan(repo, counters_prometheus, capsys, "--format", "json"))
    decisions = {d["tenant"]: d for d in document["decisions"]}
    assert len(decisions) == len(TRAFFIC) + BULK

    def outcome(tenant: str) -> tuple[str, int, str]:
        decision = decisions[tenant]
        compared = next(e for e in decision["evidence"] if e["signal"] == "errors_vs_control")
        return decision["action"], decision["to"], compared["comparison"]["outcome"]

    assert outcome("same") == ("up", 25, "healthy")
    assert outcome("harm") == ("rollback", 5, "breached")
    assert outcome("close") == ("hold", 10, "inconclusive")
    assert outcome("srm") == ("hold", 10, "sample ratio mismatch")
    assert outcome("small") == ("hold", 10, "too few")
    assert outcome("burning")[:2] == ("down", 5)
    assert {outcome(f"bulk{index:03d}") for index in range(BULK)} == {("up", 25, "healthy")}

    harm = decisions["harm"]["evidence"]
    compared = next(e for e in harm if e["signal"] == "errors_vs_control")["comparison"]
    # 30 minutes of 1,000 and 9,000 requests a minute (increase() may extrapolate a little).
    assert compared["treatment"]["total"] == pytest.approx(30_000, rel=0.05)
    assert compared["control"]["total"] == pytest.approx(270_000, rel=0.05)
    assert compared["treatment"]["events"] / compared["treatment"]["total"] == pytest.approx(0.03)
    assert compared["difference"] == pytest.approx(0.025, abs=1e-4)
    low, high = compared["interval"]
    assert 0.002 < low < 0.025 < high

    srm = decisions["srm"]["reasons"][0]
    assert srm.startswith(
        "errors_vs_control: sample ratio mismatch: 31 % of requests in treatment, the flag says 10 %"
    )
    assert decisions["small"]["reasons"][0].startswith(
        "errors_vs_control: inconclusive: 300 of 500 requests in treatment"
    )
    assert decisions["burning"]["reasons"] == [
        "availability: burning 30x over 1h and 30x over 5m, both above 14.4x (SLO 99.9 %)"
    ]
    # The shadow signal breaches for every tenant (any error at all) and decides nothing.
    shadow = next(e for e in decisions["same"]["evidence"] if e["signal"] == "any_error")
    assert (shadow["verdict"], shadow["gate"]) == ("breached", False)

    # One query per expression: a threshold signal, two for the comparison, two for each of
    # the SLO's four windows, and the alerts; the same for 6 tenants or 106.
    queries = [r.query["query"][0] for r in proxy.requests]
    assert len(queries) == 1 + 2 + 2 * 4 + 1
    assert queries[1:3] == [
        'sum by (tenant, variant) (increase(http_request_errors_total{case="compare"}[30m]))',
        'sum by (tenant, variant) (increase(http_requests_total{case="compare"}[30m]))',
    ]
    windows = [q.split("[")[1].split("]")[0] for q in queries[3:11]]
    assert windows == ["1h", "1h", "5m", "5m", "6h", "6h", "30m", "30m"]


def test_the_markdown_plan_shows_both_arms_the_difference_and_the_interval(
    tmp_path, counters_prometheus, capsys
):
    repo = write_repo(tmp_path, counters_prometheus.url)
    text = plan(repo, counters_prometheus, capsys, "--format", "markdown")
    row = next(line for line in text.splitlines() if "| harm |" in line)
    assert "❌ T 3.00% of 30," in row
    assert "· C 0.50% of 270," in row
    assert "· Δ +2.50 pp [+" in row
    assert "/ harm > +0.20 pp / 30m (critical)" in row
    assert "(shadow)" in row


def commit_flags(repo: Path, when: datetime, own: dict[str, int]) -> None:
    """Commit the flags file at ``when``: receipts at 10 %, ``own`` tenants at their own pct."""
    receipts: dict[str, Any] = {"pct": 10}
    if own:
        receipts["tenants"] = {tenant: {"pct": pct} for tenant, pct in own.items()}
    document = {"version": "flags-v1", "features": {"receipts": receipts}}
    (repo / "flags.json").write_text(json.dumps(document, indent=2) + "\n")
    stamp = {"GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat()}
    git = ["git", "-c", "user.name=ramp", "-c", "user.email=ramp@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "flags"], cwd=repo, env={**os.environ, **stamp}, check=True
    )


def test_a_comparison_accumulates_from_each_tenants_last_change_one_query_per_start(
    tmp_path, counters_prometheus, fake_server, capsys
):
    end = at_history_end(counters_prometheus)
    proxy = fake_server(proxy_to(counters_prometheus.url))
    repo = write_repo(tmp_path, proxy.url)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit_flags(repo, end - timedelta(hours=20), {"harm": 5, "close": 5, "srm": 10})
    # harm steps to 10 % 2h30s before the end: its window starts at the next whole minute.
    commit_flags(repo, end - timedelta(hours=2, seconds=30), {"harm": 10, "close": 5, "srm": 10})
    commit_flags(repo, end - timedelta(minutes=90), {"harm": 10, "close": 10, "srm": 10})
    document = json.loads(plan(repo, counters_prometheus, capsys, "--format", "json"))
    decisions = {d["tenant"]: d for d in document["decisions"]}

    def compared(tenant: str) -> dict[str, Any]:
        evidence = decisions[tenant]["evidence"]
        return next(e for e in evidence if e["signal"] == "errors_vs_control")

    # Unchanged for longer than max_window (6h by default): six hours of counts.
    assert compared("same")["window"] == "6h"
    assert compared("same")["comparison"]["treatment"]["total"] == pytest.approx(360_000, rel=0.02)
    assert compared("srm")["window"] == "6h"  # its own entry, unchanged since 20h ago
    assert compared("harm")["window"] == "2h"
    assert compared("harm")["comparison"]["treatment"]["total"] == pytest.approx(120_000, rel=0.02)
    assert decisions["harm"]["action"] == "rollback"
    assert compared("close")["window"] == "1h30m"
    assert compared("close")["comparison"]["outcome"] == "inconclusive"
    assert compared("bulk000")["window"] == "6h"

    # Two queries per distinct start (6h, 2h, 1h30m), whatever the number of tenants.
    queries = [r.query["query"][0] for r in proxy.requests]
    assert len(queries) == 1 + 2 * 3 + 2 * 4 + 1
    ranges = [q.split("[")[1].split("]")[0] for q in queries[1:7]]
    assert ranges == ["6h", "6h", "2h", "2h", "1h30m", "1h30m"]

    # rampbot health reads them the same way.
    assert rampbot(repo, "health", "--now", end.isoformat(), "--format", "json") == 0
    tenants = json.loads(capsys.readouterr().out)["tenants"]
    shown = {tenant: tenants[tenant]["errors_vs_control"]["window"] for tenant in TRAFFIC}
    assert shown == {
        "same": "6h",
        "harm": "2h",
        "close": "1h30m",
        "srm": "6h",
        "small": "6h",
        "burning": "6h",
    }
    assert tenants["harm"]["errors_vs_control"]["outcome"] == "breached"


@pytest.mark.parametrize("changed_minutes_from_the_end", [-0.5, 0, 45])
def test_with_no_counts_since_a_change_the_bake_time_is_read_and_harm_rolls_back(
    changed_minutes_from_the_end, tmp_path, counters_prometheus, fake_server, capsys
):
    # Changed within the minute before the moment judged, or after it (a replay with --now):
    # nothing counted at the new percentage yet, so the last bake time is read.
    end = at_history_end(counters_prometheus)
    proxy = fake_server(proxy_to(counters_prometheus.url))
    repo = write_repo(tmp_path, proxy.url)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit_flags(repo, end - timedelta(hours=20), {"harm": 5, "same": 5})
    changed = end + timedelta(minutes=changed_minutes_from_the_end)
    commit_flags(repo, changed, {"harm": 10, "same": 10})
    document = json.loads(plan(repo, counters_prometheus, capsys, "--format", "json"))
    decisions = {d["tenant"]: d for d in document["decisions"]}

    def compared(tenant: str) -> dict[str, Any]:
        evidence = decisions[tenant]["evidence"]
        return next(e for e in evidence if e["signal"] == "errors_vs_control")

    assert compared("harm")["window"] == "30m"
    assert compared("harm")["comparison"]["outcome"] == "breached"
    assert decisions["harm"]["action"] == "rollback"
    assert compared("same")["window"] == "30m"
    assert decisions["same"]["action"] == "hold"  # baking, or changed after the health
    queries = [r.query["query"][0] for r in proxy.requests]
    # The tenants unchanged for 20 hours are read over 6h, the two changed over 30m.
    assert [q.split("[")[1].split("]")[0] for q in queries[1:5]] == ["6h", "6h", "30m", "30m"]


# README's "share of requests slower than X" example, and an SLO with windows of its own.
LATENCY_POLICY = """\
flags_file: flags.json
bake_time: 30m
prometheus:
  url: {url}
  retries: 0
signals:
  - name: slow_vs_control            # requests slower than 250 ms
    compare:
      events: >-
        sum by (tenant, variant) (increase(http_request_duration_seconds_count{{case="latency"}}[$window]))
        - sum by (tenant, variant) (increase(http_request_duration_seconds_bucket{{case="latency",le="0.25"}}[$window]))
      total: 'sum by (tenant, variant) (increase(http_request_duration_seconds_count{{case="latency"}}[$window]))'
      worse_by_more_than: 0.01
  - name: fast_enough
    slo:
      objective: 0.98
      events: >-
        sum by (tenant) (increase(http_request_duration_seconds_count{{case="latency"}}[$window]))
        - sum by (tenant) (increase(http_request_duration_seconds_bucket{{case="latency",le="0.25"}}[$window]))
      total: 'sum by (tenant) (increase(http_request_duration_seconds_count{{case="latency"}}[$window]))'
      windows:
        - {{long: 2h, short: 10m, burn_rate: 1.2}}
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""


def test_latency_from_le_buckets_and_an_slo_with_windows_of_its_own(
    tmp_path, counters_prometheus, fake_server, capsys
):
    proxy = fake_server(proxy_to(counters_prometheus.url))
    repo = write_repo(tmp_path, proxy.url)
    (repo / ".github" / "rampbot.yml").write_text(LATENCY_POLICY.format(url=proxy.url))
    document = json.loads(plan(repo, counters_prometheus, capsys, "--format", "json"))
    decisions = {d["tenant"]: d for d in document["decisions"]}
    assert set(decisions) == {"fast", "slow"}
    slow = decisions["slow"]
    compared = next(e for e in slow["evidence"] if e["signal"] == "slow_vs_control")
    assert compared["comparison"]["outcome"] == "breached"
    assert compared["comparison"]["difference"] == pytest.approx(0.08, abs=1e-3)
    # 10 % slow in treatment: 2.8 % of the tenant's requests, 1.4x a budget of 2 % (fast: 1x).
    burn = next(e for e in slow["evidence"] if e["signal"] == "fast_enough")
    assert burn["verdict"] == "breached"
    assert slow["action"] == "down"
    fast = decisions["fast"]
    assert fast["action"] == "up"
    assert [e["verdict"] for e in fast["evidence"]] == ["healthy", "healthy"]
    # Two for the comparison, two for each of the SLO's two windows, one for the alerts.
    queries = [r.query["query"][0] for r in proxy.requests]
    assert len(queries) == 2 + 2 * 2 + 1
    assert [q.split("[")[1].split("]")[0] for q in queries[2:6]] == ["2h", "2h", "10m", "10m"]
