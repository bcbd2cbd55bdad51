"""Print a ramp dashboard body as `rampbot run` writes it: 10 tenants, 3 features, 30 days of
rollout with rollback days, for .ci/check-mermaid to parse its charts with Mermaid itself.

Run: python .ci/dashboard_sample.py [--tenants N]
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from bot.dashboard import DashboardView, DayPoint, render_dashboard
from bot.decide import Action, Decision, Kind, Plan

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
# Names with the characters a feature name may hold ($defs/name): the chart title must cope.
FEATURES = ("receipts", "checkout-v2.beta", "ledger:eu_west")


def plan(tenants: int) -> Plan:
    """Most tenants step up; every 7th rolls back, every 5th is held after a rollback."""
    decisions = []
    for feature in FEATURES:
        for t in range(tenants):
            name = f"tenant-{t:05d}"
            if t % 7 == 3:
                decisions.append(Decision(name, feature, 25, 10, Action.ROLLBACK, Kind.CRITICAL))
            elif t % 5 == 1:
                decisions.append(
                    Decision(name, feature, 10, 10, Action.HOLD, Kind.HELD, note="rolled back")
                )
            else:
                decisions.append(Decision(name, feature, 10, 25, Action.UP, Kind.HEALTHY))
    return Plan(decisions=tuple(decisions), evaluated_at=NOW, window="30m")


def series(days: int = 30) -> dict[str, list[DayPoint]]:
    """A ramp that climbs, with rollback days (the chart's bars) and a dip after each."""
    start = NOW.date() - timedelta(days=days - 1)
    result = {}
    for offset, feature in enumerate(FEATURES):
        points = []
        for i in range(days):
            rollbacks = 1 if (i + offset) % 9 == 4 else 0
            median = min(100.0, 2.5 * i + offset) / (2 if rollbacks else 1)
            points.append(
                DayPoint(
                    day=start + timedelta(days=i),
                    median=median,
                    low=0,
                    high=min(100, int(median * 2)),
                    rollbacks=rollbacks,
                )
            )
        result[feature] = points
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    view = DashboardView(series=series(), last_change={"tenant-00003": str(date(2026, 11, 25))})
    print(render_dashboard(plan(args.tenants), view), end="")


if __name__ == "__main__":
    main()
