"""Pull request body and job summary size, and render time, at 10, 1,000 and 10,000 tenants.

Run: python benchmarks/pr_body_size.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.decide import Plan, decide
from bot.flags import FeatureFlag, Flags, TenantFlag
from bot.health import Alert, Health, Reading
from bot.metadata import read_body_metadata
from bot.policy import parse_policy
from bot.render import (
    JOB_SUMMARY_LIMIT,
    PULL_REQUEST_BODY_LIMIT,
    github_length,
    job_summary,
    pull_request_body,
    pull_request_title,
)

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
POLICY = """\
bake_time: 30m
signals:
  - {name: coverage, query: "min by (tenant) (coverage_ratio) * 100", healthy: ">= 95"}
  - {name: anchor_p95_ms, query: "anchor_p95_seconds * 1000", healthy: "<= 30"}
  - {name: divergence, query: "sum by (tenant) (divergence)", healthy: "<= 0", critical: true}
features:
  receipts: {steps: [1, 5, 10, 25, 50, 100]}
  attest: {steps: [1, 5, 10, 25, 50, 100]}
  ledger: {step_up: 10, max: 50}
"""


def fleet(tenants: int) -> Plan:
    """Most tenants step up; every 50th breaches, every 97th has no data, every 211th alerts."""
    policy = parse_policy(POLICY, source="benchmark policy")
    names = [f"tenant-{index:05d}" for index in range(tenants)]
    readings = {}
    for index, name in enumerate(names):
        coverage = 91.0 if index % 50 == 7 else 97.5
        p95 = None if index % 97 == 3 else 21.0
        readings[name] = {
            "coverage": Reading(coverage),
            "anchor_p95_ms": Reading(p95),
            "divergence": Reading(0.0),
        }
    alerts = tuple(
        Alert(
            name="ReceiptsDivergence",
            severity="critical",
            tenant=name,
            summary=f"Shadow reads disagree for {name}; paged oncall@example.com",
        )
        for index, name in enumerate(names)
        if index % 211 == 5
    )
    tenant_flags = {name: TenantFlag(pct=10) for name in names}
    features = {name: FeatureFlag(pct=10, tenants=tenant_flags) for name in policy.features}
    flags = Flags(version="flags-v1", revision=1, features=features, text="", source="flags.json")
    health = Health(readings=readings, alerts=alerts, evaluated_at=NOW)
    return decide(policy, flags, health, now=NOW, last_change={})


def main() -> None:
    print(
        f"{'tenants':>8} {'decisions':>9} {'changes':>8} {'body chars':>10} {'body ms':>8} "
        f"{'summary bytes':>13} {'summary ms':>10}  listed in hidden block"
    )
    for tenants in (10, 1_000, 10_000):
        plan = fleet(tenants)
        started = time.perf_counter()
        body = pull_request_body(plan, base_commit="4d4ed45e" * 5)
        body_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        summary = job_summary(plan)
        summary_ms = (time.perf_counter() - started) * 1000
        metadata = read_body_metadata(body) or {}
        assert github_length(body) <= PULL_REQUEST_BODY_LIMIT
        assert len(summary.encode()) <= JOB_SUMMARY_LIMIT
        print(
            f"{tenants:>8,} {len(plan.decisions):>9,} {len(plan.changes):>8,} "
            f"{github_length(body):>10,} {body_ms:>8.0f} {len(summary.encode()):>13,} "
            f"{summary_ms:>10.0f}  {len(metadata.get('decisions', [])):,} of "
            f"{metadata.get('decisions_total', 0):,}"
        )
        if tenants == 10:
            print(f"{'':>8} title: {pull_request_title(plan)}")
    print(
        f"limits: body {PULL_REQUEST_BODY_LIMIT:,} characters, summary {JOB_SUMMARY_LIMIT:,} bytes"
    )


if __name__ == "__main__":
    main()
