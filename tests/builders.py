"""Small builders for policies, flags and health used across tests (plain values, no I/O)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.decide import Action, Decision, Evidence, Kind, Plan, Verdict
from bot.flags import Flags, parse_flags
from bot.health import Alert, Health, Reading
from bot.policy import Condition, Policy, parse_policy

POLICY_YAML = """\
tenants: [acme, globex]
bake_time: 30m
signals:
  - name: coverage
    query: coverage_pct
    healthy: ">= 95"
  - name: anchor_p95_ms
    query: anchor_p95_ms
    healthy: "<= 30"
  - name: divergence
    query: divergence
    healthy: "<= 0"
    critical: true
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""

GREEN = {"coverage": 97.0, "anchor_p95_ms": 22.0, "divergence": 0.0}


def policy(text: str = POLICY_YAML) -> Policy:
    return parse_policy(text, source=".github/rampbot.yml")


def flags(document: dict[str, Any] | None = None) -> Flags:
    document = document or {"version": "flags-v1", "features": {"receipts": {"pct": 0}}}
    return parse_flags(json.dumps(document, indent=2) + "\n", source="flags.json")


def health(values: dict[str, dict[str, float | None]], alerts: tuple[Alert, ...] = ()) -> Health:
    return Health(
        readings={
            tenant: {signal: Reading(value) for signal, value in signals.items()}
            for tenant, signals in values.items()
        },
        alerts=alerts,
    )


def healthy_evidence(signal: str, value: float, condition: str = ">= 95") -> Evidence:
    """A healthy measurement of ``signal`` over 30m, as decide would quote it."""
    return Evidence(
        signal=signal,
        aggregate="min",
        value=value,
        condition=Condition.parse(condition),
        window="30m",
        verdict=Verdict.HEALTHY,
        critical=False,
    )


def fleet(tenants: int, features: int, *, evaluated_at: datetime) -> Plan:
    """A plan for the dashboard: most tenants step up; every 50th is held after a rollback,
    every 97th rolls back."""
    decisions = []
    for f in range(features):
        for t in range(tenants):
            name, feature = f"tenant-{t:05d}", f"feature{f}"
            if t % 97 == 3:
                decisions.append(Decision(name, feature, 25, 10, Action.ROLLBACK, Kind.CRITICAL))
            elif t % 50 == 7:
                decisions.append(
                    Decision(name, feature, 10, 10, Action.HOLD, Kind.HELD, note="rolled back")
                )
            else:
                decisions.append(Decision(name, feature, 10, 25, Action.UP, Kind.HEALTHY))
    return Plan(decisions=tuple(decisions), evaluated_at=evaluated_at, window="30m")
