"""Plans as text: markdown for people, JSON for scripts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.decide import Action, Decision, Evidence, Plan


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON object ``rampbot plan --format json`` prints."""
    return {
        "changed": plan.changed,
        "evaluated_at": plan.evaluated_at.isoformat(),
        "window": plan.window,
        "decisions": [_decision_to_json(decision) for decision in plan.decisions],
    }


def _decision_to_json(decision: Decision) -> dict[str, Any]:
    return {
        "tenant": decision.tenant,
        "feature": decision.feature,
        "from": decision.from_pct,
        "to": decision.to_pct,
        "action": decision.action.value,
        "reasons": list(decision.reasons),
        "evidence": [_evidence_to_json(evidence) for evidence in decision.evidence],
        "alerts": [
            {"alertname": a.name, "severity": a.severity, "tenant": a.tenant, "summary": a.summary}
            for a in decision.alerts
        ],
    }


def _evidence_to_json(evidence: Evidence) -> dict[str, Any]:
    return {
        "signal": evidence.signal,
        "aggregate": evidence.aggregate,
        "value": evidence.value,
        "condition": str(evidence.condition),
        "window": evidence.window,
        "verdict": evidence.verdict.value,
        "samples": evidence.samples,
    }


def summary_line(plan: Plan) -> str:
    """How many tenants move which way: ``2 up, 1 rollback, 9 hold``."""
    counts = Counter(decision.action for decision in plan.decisions)
    return ", ".join(f"{counts[action]} {action.value}" for action in Action if counts[action])


def plan_to_markdown(plan: Plan) -> str:
    """The plan as a markdown table, one row per tenant and feature."""
    lines = [
        f"**rampbot plan** at {plan.evaluated_at.isoformat(timespec='seconds')}, "
        f"health judged over {plan.window}: {summary_line(plan) or 'nothing to decide'}",
        "",
        "| feature | tenant | from | to | action | reasons |",
        "|---|---|---|---|---|---|",
    ]
    for decision in plan.decisions:
        lines.append(
            f"| {decision.feature} | {decision.tenant} | {decision.from_pct}% | "
            f"{decision.to_pct}% | {decision.action.value} | {'; '.join(decision.reasons)} |"
        )
    return "\n".join(lines) + "\n"
