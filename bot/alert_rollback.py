"""What an Alertmanager webhook may change: roll back the tenants its firing alerts name.

Pure: the policy, the flags file at the base commit, the alerts and the rollbacks already on the
rollback branch come in; a plan for the rollback branch and a verdict per alert come out. The
decision itself is ``decide()``'s, so the rollback, its hold marker and the pull request body
are those ``rampbot run`` would write for the same alert. An alert never steps anything up or
down: the scheduled run does that, from Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from bot.alertmanager import AlertEvent
from bot.decide import Action, Decision, Kind, Plan, decide
from bot.flags import TENANT_NAME, Flags
from bot.health import Alert, Health
from bot.policy import Policy


class AlertOutcome(Enum):
    """What became of one alert: a rollback, held, ignored, or resolved."""

    ROLLBACK = "rollback"  # its tenant(s) roll back on the rollback branch
    HELD = "held"  # a rollback severity, but nothing to roll back: unknown, paused, held, at min
    IGNORED = "ignored"  # not a rollback severity, or fleet-wide without the policy's consent
    RESOLVED = "resolved"  # resolved alerts change nothing; the schedule ramps again


@dataclass(frozen=True)
class Verdict:
    """What became of one alert, for the log and the metrics."""

    fingerprint: str
    alert: str
    tenant: str | None
    outcome: AlertOutcome
    reason: str


@dataclass(frozen=True)
class Carried:
    """A rollback already on the rollback branch, kept when the branch is built again."""

    feature: str
    tenant: str
    pct: int
    hold: str


@dataclass(frozen=True)
class AlertPlan:
    plan: Plan  # decisions for the alerted tenants only; changed when something rolls back
    verdicts: tuple[Verdict, ...]


def known_tenants(policy: Policy, flags: Flags) -> frozenset[str]:
    """The tenants an alert may name: the policy's list, else every tenant flags.json names."""
    if policy.tenants is not None:
        return frozenset(policy.tenants)
    return frozenset(
        tenant for feature in flags.features.values() for tenant in (feature.tenants or ())
    )


def plan_rollbacks(
    policy: Policy,
    flags: Flags,
    *,
    events: Sequence[AlertEvent],
    carried: Iterable[Carried] = (),
    now: datetime,
) -> AlertPlan:
    """Roll back the tenants the firing alerts of a rollback severity name, and keep
    ``carried`` rollbacks that the base does not hold yet."""
    known = known_tenants(policy, flags)
    verdicts: dict[str, Verdict] = {}
    targets: set[str] = set()
    acting: list[tuple[AlertEvent, Alert]] = []
    for event in events:
        alert = event.alert(tenant_label=policy.tenant_label)
        why_not = _why_not(policy, event, alert, known)
        if why_not is not None:
            verdicts[event.fingerprint] = why_not
            continue
        acting.append((event, alert))
        targets |= {alert.tenant} if alert.tenant else set(known)
    decisions: list[Decision] = []
    if targets:
        # Only the alerted tenants, and no signal: the alert is the evidence, and a tenant
        # without readings must not fall under the no_data rule here.
        scope = replace(policy, tenants=tuple(sorted(targets)), signals=())
        health = Health(readings={}, alerts=tuple(dict.fromkeys(alert for _, alert in acting)))
        plan = decide(scope, flags, health, now=now, last_change={})
        decisions = [_leave_held_alone(decision, flags) for decision in plan.decisions]
    for event, alert in acting:
        verdicts[event.fingerprint] = _verdict(event, alert, decisions)
    rolled = {(d.feature, d.tenant) for d in decisions if d.changed}
    decisions.extend(
        decision
        for decision in (_carry(entry, flags, policy) for entry in carried)
        if decision is not None and (decision.feature, decision.tenant) not in rolled
    )
    decisions.sort(key=lambda d: (d.feature, d.tenant))
    return AlertPlan(
        plan=Plan(decisions=tuple(decisions), evaluated_at=now, window=policy.bake_time_text),
        verdicts=tuple(verdicts[event.fingerprint] for event in events),
    )


def _why_not(
    policy: Policy, event: AlertEvent, alert: Alert, known: frozenset[str]
) -> Verdict | None:
    def verdict(outcome: AlertOutcome, reason: str) -> Verdict:
        return Verdict(event.fingerprint, alert.name, alert.tenant, outcome, reason)

    if not event.firing:
        return verdict(AlertOutcome.RESOLVED, "resolved: changes nothing; the schedule ramps again")
    if alert.severity not in policy.rollback_severities:
        return verdict(
            AlertOutcome.IGNORED,
            f"severity {alert.severity!r} is not one of alerts.rollback_severities "
            f"({', '.join(sorted(policy.rollback_severities))})",
        )
    if alert.tenant is None:
        if policy.serve.fleet_wide_alerts:
            return None
        return verdict(
            AlertOutcome.IGNORED,
            f"no {policy.tenant_label!r} label: a fleet-wide alert rolls back only with "
            "serve.fleet_wide_alerts: true in the policy",
        )
    if not TENANT_NAME.match(alert.tenant) or alert.tenant not in known:
        where = "the policy's tenants" if policy.tenants is not None else "flags.json"
        return verdict(AlertOutcome.HELD, f"unknown tenant {alert.tenant!r}: not in {where}")
    return None


def _leave_held_alone(decision: Decision, flags: Flags) -> Decision:
    # rampbot run rolls a held tenant back again while the alert fires; a webhook repeats, so
    # here a tenant already rolled back stays where it is until a person resumes it.
    marker = flags.features[decision.feature].tenant(decision.tenant).hold
    if decision.action is not Action.ROLLBACK or marker is None:
        return decision
    return decision._replace(
        to_pct=decision.from_pct, action=Action.HOLD, kind=Kind.HELD, note=marker
    )


def _verdict(event: AlertEvent, alert: Alert, decisions: Sequence[Decision]) -> Verdict:
    mine = [d for d in decisions if alert.tenant in (None, d.tenant)]
    if any(d.action is Action.ROLLBACK for d in mine):
        outcome, reason = (
            AlertOutcome.ROLLBACK,
            "; ".join(
                f"{d.feature} for {d.tenant}: {d.from_pct}% -> {d.to_pct}%"
                for d in mine
                if d.action is Action.ROLLBACK
            ),
        )
    else:
        outcome = AlertOutcome.HELD
        reason = "; ".join(dict.fromkeys(r for d in mine for r in d.reasons)) or "no feature"
    return Verdict(event.fingerprint, alert.name, alert.tenant, outcome, reason)


def _carry(entry: Carried, flags: Flags, policy: Policy) -> Decision | None:
    """A rollback from the branch, again on this base; None once the base holds it."""
    if entry.feature not in policy.features or entry.feature not in flags.features:
        return None
    feature = flags.features[entry.feature]
    current = feature.pct_for(entry.tenant)
    if feature.tenant(entry.tenant).hold is not None or entry.pct >= current:
        return None
    return Decision(
        tenant=entry.tenant,
        feature=entry.feature,
        from_pct=current,
        to_pct=entry.pct,
        action=Action.ROLLBACK,
        kind=Kind.CRITICAL,
        hold=entry.hold,
    )
