"""The decision core: per tenant and feature, step up, step down, roll back or hold, and why.

Pure: time, flags, health and history come in as arguments; nothing here reads a clock, a file,
the network or the environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple

from bot.duration import format_duration
from bot.flags import MAX_TENANT_NAME, TENANT_NAME, FeatureFlag, FlagChange, Flags
from bot.health import Alert, Health
from bot.policy import Condition, NoData, Policy, Ramp, RollbackTo, Signal, format_number

# (feature, tenant) -> when that tenant's percentage last changed on the base branch.
LastChange = Mapping[tuple[str, str], datetime]


class Action(Enum):
    UP = "up"
    DOWN = "down"
    ROLLBACK = "rollback"
    HOLD = "hold"


class Verdict(Enum):
    HEALTHY = "healthy"
    BREACHED = "breached"
    NO_DATA = "no data"


@dataclass(frozen=True)
class Evidence:
    """One signal's measurement for one tenant, next to what it was judged against."""

    signal: str
    aggregate: str
    value: float | None
    condition: Condition
    window: str
    verdict: Verdict
    critical: bool
    samples: int | None = None
    not_finite: bool = False  # the source sent NaN or ±Inf: no data

    def __str__(self) -> str:
        if self.not_finite:
            return f"{self.signal}: not a finite number over {self.window}"
        if self.verdict is Verdict.NO_DATA:
            if self.value is not None and self.samples is not None:
                return f"{self.signal}: only {self.samples} samples over {self.window}"
            return f"{self.signal}: no data over {self.window}"
        assert self.value is not None
        measured = f"{self.signal} {self.aggregate} {format_number(self.value)} over {self.window}"
        if self.verdict is Verdict.HEALTHY:
            return f"{measured} {self.condition}"
        critical = " (critical)" if self.critical else ""
        return f"{measured} {self.condition.breach_text()}{critical}"


class Decision(NamedTuple):  # a NamedTuple: 100,000 of them are built in well under a second
    tenant: str
    feature: str
    from_pct: int
    to_pct: int
    action: Action
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @property
    def changed(self) -> bool:
        return self.to_pct != self.from_pct


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]
    evaluated_at: datetime
    window: str
    # signal -> its PromQL query, for graph links and query hashes in the pull request body.
    queries: Mapping[str, str] = field(default_factory=dict)  # signal -> PromQL
    graph_links: Mapping[str, str] = field(default_factory=dict)  # signal -> Prometheus graph page

    @property
    def changed(self) -> bool:
        return any(decision.changed for decision in self.decisions)

    @property
    def changes(self) -> tuple[Decision, ...]:
        return tuple(decision for decision in self.decisions if decision.changed)

    def flag_changes(self) -> list[FlagChange]:
        """The edits to flags.json this plan makes; a rollback leaves a hold marker."""
        return [
            FlagChange(
                feature=decision.feature,
                tenant=decision.tenant,
                pct=decision.to_pct,
                hold=_hold_marker(decision) if decision.action is Action.ROLLBACK else None,
            )
            for decision in self.changes
        ]


def _hold_marker(decision: Decision) -> str:
    """Why a tenant was rolled back, in words that stay the same while the cause does.

    No time and no measured value: the next run, seeing the same breach, must write the same
    text, or the rollback branch would change on every run.
    """
    causes = [
        f"{e.signal} {e.condition.breach_text()}"
        for e in decision.evidence
        if e.verdict is Verdict.BREACHED and e.critical
    ] + [f"alert {alert.name}" for alert in decision.alerts]
    if not causes:  # a no_data: rollback policy
        causes = [
            f"no data for {e.signal}" for e in decision.evidence if e.verdict is Verdict.NO_DATA
        ]
    return f"rolled back from {decision.from_pct}% ({', '.join(causes)})"


def decide(
    policy: Policy,
    flags: Flags,
    health: Health,
    *,
    now: datetime,
    last_change: LastChange,
) -> Plan:
    """Decide every tenant of every feature in the policy, independently."""
    window = policy.bake_time_text
    judged: dict[str, _Judged] = {}  # health is judged once per tenant, whatever the features
    decisions = []
    # A tenant named under any feature is a tenant of every feature: an alert for every tenant
    # must reach it in all of them, not only where the file happens to name it (issue 9).
    tenants = tenants_for(policy, health, named=flags_tenants(flags))
    for feature_name, ramp in policy.features.items():
        feature = flags.features[feature_name]
        for tenant in tenants:
            if len(tenant) > MAX_TENANT_NAME or not TENANT_NAME.match(tenant):
                decisions.append(_unusable_name(feature_name, feature, tenant))
                continue
            if tenant not in judged:
                judged[tenant] = _judge_tenant(policy, health, tenant, window)
            decisions.append(
                _decide_tenant(
                    policy,
                    ramp=ramp,
                    feature_name=feature_name,
                    feature=feature,
                    tenant=tenant,
                    judged=judged[tenant],
                    now=now,
                    changed_at=last_change.get((feature_name, tenant)),
                )
            )
    return Plan(
        decisions=tuple(decisions),
        evaluated_at=now,
        window=window,
        queries={signal.name: signal.query for signal in policy.signals},
        graph_links=dict(health.query_urls),
    )


def _unusable_name(feature_name: str, feature: FeatureFlag, tenant: str) -> Decision:
    # A label value from Prometheus can be anything; one that cannot be a key of flags.json is
    # held with a reason instead of failing the whole run for every other tenant.
    shown = tenant
    if len(tenant) > MAX_TENANT_NAME:
        shown = f"{tenant[:40]}... ({len(tenant)} characters)"
    return Decision(
        tenant=tenant,
        feature=feature_name,
        from_pct=feature.pct_for(tenant),
        to_pct=feature.pct_for(tenant),
        action=Action.HOLD,
        reasons=(
            f"tenant name {shown!r} cannot be a key in flags.json (at most {MAX_TENANT_NAME} "
            "letters, digits, '_', '.', ':' and '-', starting with a letter or digit); rename "
            "it in the signals' labels",
        ),
    )


def flags_tenants(flags: Flags) -> set[str]:
    """Every tenant the flags file names, under any feature."""
    named: set[str] = set()
    for feature in flags.features.values():
        named.update(feature.tenants or ())
    return named


def tenants_for(policy: Policy, health: Health, *, named: Iterable[str]) -> list[str]:
    """The tenants to decide: the policy's list, else discovered from health and ``named``."""
    if policy.tenants is not None:
        return list(policy.tenants)
    # Discovered: every tenant a signal reported, and every tenant the flags file names, so
    # that a tenant missing from Prometheus is held with a reason rather than forgotten.
    return sorted(set(health.readings) | set(named))


@dataclass(frozen=True)
class _Judged:
    """One tenant's health judged against the policy, with the reasons each rule would quote."""

    evidence: tuple[Evidence, ...]
    alerts: tuple[Alert, ...]
    critical: list[str]  # critical breaches and firing alerts of a rollback severity
    breached: list[str]
    missing: list[str]
    healthy: list[str]


def _judge_tenant(policy: Policy, health: Health, tenant: str, window: str) -> _Judged:
    evidence = tuple(_judge(signal, health, tenant, window) for signal in policy.signals)
    alerts = tuple(
        alert
        for alert in health.alerts_for(tenant)
        if (alert.severity or "").lower() in policy.rollback_severities
    )

    def reasons(verdict: Verdict, *, critical: bool | None = None) -> list[str]:
        return [
            str(e)
            for e in evidence
            if e.verdict is verdict and (critical is None or e.critical == critical)
        ]

    return _Judged(
        evidence=evidence,
        alerts=alerts,
        critical=reasons(Verdict.BREACHED, critical=True)
        + [f"alert {alert.name} ({alert.severity}) firing" for alert in alerts],
        breached=reasons(Verdict.BREACHED),
        missing=reasons(Verdict.NO_DATA),
        healthy=[str(e) for e in evidence],
    )


def _judge(signal: Signal, health: Health, tenant: str, window: str) -> Evidence:
    reading = health.reading(tenant, signal.name)
    too_few_samples = (
        signal.min_samples is not None
        and reading.samples is not None
        and reading.samples < signal.min_samples
    )
    if not reading.has_data or too_few_samples:
        verdict = Verdict.NO_DATA
    else:
        assert reading.value is not None
        verdict = Verdict.HEALTHY if signal.healthy.holds(reading.value) else Verdict.BREACHED
    return Evidence(
        signal=signal.name,
        aggregate=signal.aggregate,
        value=reading.value if reading.has_data else None,
        condition=signal.healthy,
        window=window,
        verdict=verdict,
        critical=signal.critical,
        samples=reading.samples,
        not_finite=reading.not_finite,
    )


def _decide_tenant(
    policy: Policy,
    *,
    ramp: Ramp,
    feature_name: str,
    feature: FeatureFlag,
    tenant: str,
    judged: _Judged,
    now: datetime,
    changed_at: datetime | None,
) -> Decision:
    current = feature.pct_for(tenant)

    def decision(action: Action, to_pct: int, reasons: list[str]) -> Decision:
        if to_pct == current and action is not Action.HOLD:
            edge = "minimum" if action is not Action.UP else "maximum"
            reasons = [*reasons, f"already at the {edge}, {current}%"]
            action = Action.HOLD
        return Decision(
            tenant=tenant,
            feature=feature_name,
            from_pct=current,
            to_pct=to_pct,
            action=action,
            reasons=tuple(reasons),
            evidence=judged.evidence,
            alerts=judged.alerts,
        )

    tenant_flag = feature.tenant(tenant)
    # 1. A person said to leave it alone.
    if feature.paused:
        return decision(Action.HOLD, current, [f"feature {feature_name} is paused"])
    if tenant_flag.paused:
        return decision(Action.HOLD, current, [f"tenant {tenant} is paused for {feature_name}"])
    # 2. A critical breach or a firing alert of a rollback severity.
    if judged.critical:
        return decision(Action.ROLLBACK, _rollback_to(policy, ramp, current), judged.critical)
    # 3. Any other breach.
    if judged.breached:
        return decision(Action.DOWN, ramp.down(current), judged.breached)
    # 4. Missing data: never a reason to go up, and only by choice a reason to go down.
    if judged.missing:
        if policy.no_data is NoData.ROLLBACK:
            return decision(
                Action.ROLLBACK,
                _rollback_to(policy, ramp, current),
                [*judged.missing, "no_data: rollback"],
            )
        return decision(Action.HOLD, current, judged.missing)
    # 5. Held since a rollback, until a person deletes the marker.
    if tenant_flag.hold is not None:
        return decision(
            Action.HOLD,
            current,
            [
                f"held after a rollback ({tenant_flag.hold}); delete "
                f"features.{feature_name}.tenants.{tenant}.hold to resume the ramp",
                *judged.healthy,
            ],
        )
    # 6. Not baked yet.
    if changed_at is not None and now - changed_at < policy.bake_time:
        age = int((now - changed_at).total_seconds())
        waited = (
            f"for {format_duration(timedelta(seconds=age))}"
            if age >= 0
            else f"since {changed_at.isoformat(timespec='seconds')}, after the evaluation time"
        )
        return decision(
            Action.HOLD,
            current,
            [
                f"at {current}% {waited}, less than the bake time of {policy.bake_time_text}",
                *judged.healthy,
            ],
        )
    # 7. Healthy over the whole window.
    return decision(Action.UP, ramp.up(current), judged.healthy)


def _rollback_to(policy: Policy, ramp: Ramp, current: int) -> int:
    return ramp.min if policy.rollback is RollbackTo.MIN else ramp.down(current)
