"""The decision core: per tenant and feature, step up, step down, roll back or hold, and why.

Pure: time, flags, health and history come in as arguments; nothing here reads a clock, a file,
the network or the environment.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cached_property, partial
from itertools import repeat
from math import isfinite
from typing import Any, NamedTuple

from bot.burn import Burn, BurnOutcome, judge_burn
from bot.compare import Arms, Comparison, Outcome, judge, ratio_text
from bot.duration import format_duration
from bot.flags import MAX_TENANT_NAME, TENANT_NAME, FeatureFlag, FlagChange, Flags, TenantFlag
from bot.health import Alert, Health
from bot.policy import (
    ComparisonSignal,
    Condition,
    NoData,
    Policy,
    Ramp,
    RollbackTo,
    Signal,
    SloSignal,
    format_number,
)
from bot.redact import RedactSettings

# (feature, tenant) -> when that tenant's percentage last changed on the base branch.
LastChange = Mapping[tuple[str, str], datetime]


class Action(Enum):
    UP = "up"
    DOWN = "down"
    ROLLBACK = "rollback"
    HOLD = "hold"

    # Hashed by identity, as members compare: Enum's own __hash__ is Python code, and
    # renderers count and group 100,000 decisions by action (issue 14).
    __hash__ = object.__hash__


class Verdict(Enum):
    HEALTHY = "healthy"
    BREACHED = "breached"
    NO_DATA = "no data"

    __hash__ = object.__hash__  # see Action


# Read in loops over every tenant: a module's name is read in a few nanoseconds, an enum's
# member in about 100 on Python 3.11 (issue 14).
_HEALTHY, _BREACHED, _NO_DATA = Verdict.HEALTHY, Verdict.BREACHED, Verdict.NO_DATA


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
    comparison: Comparison | None = None  # a comparison signal's arms, difference and interval
    burn: Burn | None = None  # an SLO signal's burn rate per window
    gate: bool = True  # False: shadow evidence, shown but never deciding

    @property
    def doubtful(self) -> bool:
        """No data that is doubt, not absence: an inconclusive comparison or a sample mismatch.

        Doubt holds the tenant whatever ``no_data`` says: rolling back on it would roll back
        every young comparison.
        """
        return self.comparison is not None and self.comparison.outcome in (
            Outcome.INCONCLUSIVE,
            Outcome.SAMPLE_RATIO_MISMATCH,
        )

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """How reasons quote it; written once, as every feature of the tenant quotes it."""
        critical = " (critical)" if self.critical and self.verdict is Verdict.BREACHED else ""
        if self.comparison is not None:
            arms = ""
            if self.comparison.treatment is not None or self.comparison.control is not None:
                arms = (
                    f" (treatment {ratio_text(self.comparison.treatment)}, "
                    f"control {ratio_text(self.comparison.control)}, over {self.window})"
                )
            return f"{self.signal}: {self.comparison.reason}{arms}{critical}"
        if self.burn is not None:
            return f"{self.signal}: {self.burn.reason}{critical}"
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


class Kind(Enum):
    """Which rule decided, for code to read (render groups holds by it); ``reasons`` say why."""

    PAUSED = "paused"  # a person paused the feature or the tenant
    UNUSABLE_NAME = "unusable name"  # the tenant's name cannot be a key of flags.json
    CRITICAL = "critical"  # a critical breach or a firing alert of a rollback severity
    BREACH = "breach"
    NO_DATA = "no data"  # a hold, or a rollback under ``no_data: rollback``
    HELD = "held after a rollback"  # the tenant's hold marker is set
    # Held after a rollback, and people ticked its Resume box on the ramp dashboard: the ramp
    # pull request deletes the marker; the percentage stays until a run after the merge.
    RESUMED = "resumed"
    STALE = "health older than the change"  # measured before the percentage was set
    BAKING = "baking"  # changed less than the bake time ago
    HEALTHY = "healthy"
    AT_MAXIMUM = "at the maximum"  # healthy, but there is no step up left
    AT_MINIMUM = "at the minimum"  # a breach or a rollback, but there is no step down left
    # A healthy step up held by what people decided about the whole ramp (bot/steer.py).
    FROZEN = "frozen"  # inside a freeze window
    RING = "ring"  # the ring before has not reached the percentage yet
    LIMIT = "limit"  # tenants_per_run or steps_per_day
    # A comparison signal in doubt: held whatever no_data says, never stepped up.
    INCONCLUSIVE = "inconclusive comparison"  # the interval straddles the margin
    SAMPLE_RATIO_MISMATCH = "sample ratio mismatch"  # the arms are not what flags.json says

    __hash__ = object.__hash__  # see Action


# Decision.note for a pause: who paused. The last two hold only steps up (bot/steer.py).
PAUSED_FEATURE = "feature"
PAUSED_TENANT = "tenant"
PAUSED_POLICY = "policy"  # paused: true in the policy
PAUSED_DASHBOARD = "dashboard"  # the ramp dashboard's "Stop all step-ups" box
# Kinds whose note is the whole reason bot/steer.py wrote, followed by the health evidence.
STEERED = frozenset({Kind.FROZEN, Kind.RING, Kind.LIMIT})
STOPPED_TEXT = {
    PAUSED_POLICY: "paused: true in the policy stops every step up; remove it to resume",
    PAUSED_DASHBOARD: 'the ramp dashboard\'s "Stop all step-ups" box is ticked: no step up; '
    "untick it to resume",
}


class Decision(NamedTuple):  # a NamedTuple: 100,000 of them are built in well under a second
    tenant: str
    feature: str
    from_pct: int
    to_pct: int
    action: Action
    kind: Kind
    evidence: tuple[Evidence, ...] = ()
    alerts: tuple[Alert, ...] = ()
    # What the kind's reason quotes: who paused (PAUSED_FEATURE or PAUSED_TENANT), the hold
    # marker (HELD), the bake time as the policy writes it (BAKING), when the health was
    # measured (STALE), the reason bot/steer.py wrote (STEERED kinds).
    note: str = ""
    changed_at: datetime | None = None  # when the percentage last changed, where known
    age: int | None = None  # seconds from changed_at to the evaluation (BAKING)
    # The hold marker a rollback writes; None: worded from the evidence and alerts. Set when a
    # rollback is carried over from an open pull request, whose marker must stay as it was.
    hold: str | None = None

    @property
    def changed(self) -> bool:
        return self.to_pct != self.from_pct

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why, for people; written on demand, as most decisions of a large plan are not shown."""
        return _reasons(self)


# The kinds whose reasons follow from the evidence, the alerts and the action alone, so that
# a renderer may write them once per tenant (bot/render.py); keep in step with _reasons.
REASONS_FROM_EVIDENCE = frozenset({Kind.HEALTHY, Kind.CRITICAL, Kind.BREACH, Kind.NO_DATA})


def _reasons(decision: Decision) -> tuple[str, ...]:
    kind, feature, tenant = decision.kind, decision.feature, decision.tenant
    if kind is Kind.PAUSED:
        if decision.note == PAUSED_FEATURE:
            return (f"feature {feature} is paused",)
        if decision.note == PAUSED_TENANT:
            return (f"tenant {tenant} is paused for {feature}",)
        return (STOPPED_TEXT[decision.note], *(str(e) for e in decision.evidence if e.gate))
    if kind in STEERED:
        return (decision.note, *(str(e) for e in decision.evidence if e.gate))
    if kind is Kind.UNUSABLE_NAME:
        shown = tenant
        if len(tenant) > MAX_TENANT_NAME:
            shown = f"{tenant[:40]}... ({len(tenant)} characters)"
        return (
            f"tenant name {shown!r} cannot be a key in flags.json (at most {MAX_TENANT_NAME} "
            "letters, digits, '_', '.', ':' and '-', starting with a letter or digit); rename "
            "it in the signals' labels",
        )
    # Shadow evidence is shown in the tables, never quoted as a reason.
    healthy = tuple(evidence.text for evidence in decision.evidence if evidence.gate)
    if kind is Kind.HEALTHY:
        return healthy
    if kind is Kind.AT_MAXIMUM:
        return (*healthy, f"already at the maximum, {decision.from_pct}%")
    if kind is Kind.HELD:
        return (
            f"held after a rollback ({decision.note}); delete "
            f"features.{feature}.tenants.{tenant}.hold to resume the ramp",
            *healthy,
        )
    if kind is Kind.RESUMED:
        return (
            f"held after a rollback ({decision.note}); its Resume box on the ramp dashboard is "
            f"ticked: this change deletes features.{feature}.tenants.{tenant}.hold, and the "
            "ramp goes on after the merge",
            *healthy,
        )
    if kind is Kind.STALE:
        assert decision.changed_at is not None
        return (
            f"health evaluated at {decision.note} is older than the change to "
            f"{decision.from_pct}% at {_utc(decision.changed_at)}; a step up needs health "
            "measured after it",
            *healthy,
        )
    if kind is Kind.BAKING:
        if decision.age is not None and decision.age >= 0:
            waited = f"for {format_duration(timedelta(seconds=decision.age))}"
        else:
            assert decision.changed_at is not None
            since = decision.changed_at.isoformat(timespec="seconds")
            waited = f"since {since}, after the evaluation time"
        return (
            f"at {decision.from_pct}% {waited}, less than the bake time of {decision.note}",
            *healthy,
        )
    # CRITICAL, BREACH, NO_DATA, INCONCLUSIVE, SAMPLE_RATIO_MISMATCH, or one of the first
    # three with no step down left (AT_MINIMUM).
    rule = kind if kind is not Kind.AT_MINIMUM else _rule_of(decision)
    gating = [e for e in decision.evidence if e.gate]
    if rule is Kind.CRITICAL:
        reasons = [str(e) for e in gating if e.verdict is Verdict.BREACHED and e.critical] + [
            f"alert {alert.name} ({alert.severity}) firing" for alert in decision.alerts
        ]
    elif rule is Kind.BREACH:
        reasons = [str(e) for e in gating if e.verdict is Verdict.BREACHED]
    elif decision.action is Action.ROLLBACK or kind is Kind.AT_MINIMUM:
        # no_data: rollback acts on absent data only, not on a comparison in doubt.
        reasons = [str(e) for e in gating if e.verdict is Verdict.NO_DATA and not e.doubtful]
        reasons.append("no_data: rollback")
    else:
        reasons = [str(e) for e in gating if e.verdict is Verdict.NO_DATA]
    if kind is Kind.AT_MINIMUM:
        reasons.append(f"already at the minimum, {decision.from_pct}%")
    if not reasons and decision.hold is not None:  # carried over from the open pull request
        reasons.append(f"rolled back earlier on this branch ({decision.hold})")
    return tuple(reasons)


def _rule_of(decision: Decision) -> Kind:
    """The rule that asked to go down: the first that holds, in decide's order."""
    if decision.alerts or any(
        e.verdict is Verdict.BREACHED and e.critical and e.gate for e in decision.evidence
    ):
        return Kind.CRITICAL
    if any(e.verdict is Verdict.BREACHED and e.gate for e in decision.evidence):
        return Kind.BREACH
    return Kind.NO_DATA


@dataclass(frozen=True)
class RingStatus:
    """One ring of the policy as this plan saw it, for the pull request body."""

    name: str
    tenants: tuple[str, ...]  # the decided tenants in it
    waiting: tuple[str, ...] = ()  # why its step ups wait, one line per percentage


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]
    evaluated_at: datetime
    window: str
    # signal -> its PromQL query, for graph links and query hashes in the pull request body.
    queries: Mapping[str, str] = field(default_factory=dict)  # signal -> PromQL
    graph_links: Mapping[str, str] = field(default_factory=dict)  # signal -> Prometheus graph page
    rings: tuple[RingStatus, ...] = ()  # with rings in the policy: each ring and why it waits
    # The policy's redaction settings, for the alert text the renderer quotes.
    redact: RedactSettings = field(default_factory=RedactSettings)

    @property
    def changed(self) -> bool:
        """Whether the plan edits the flags file: a percentage, or a hold marker deleted."""
        return bool(self.changes) or bool(self.resumed)

    @cached_property
    def changes(self) -> tuple[Decision, ...]:
        """The decisions that change a percentage; worked out once, as every renderer asks."""
        return tuple(decision for decision in self.decisions if decision.changed)

    @cached_property
    def resumed(self) -> tuple[Decision, ...]:
        """The held tenants whose hold marker this plan deletes (Kind.RESUMED)."""
        return tuple(decision for decision in self.decisions if decision.kind is Kind.RESUMED)

    def flag_changes(self) -> list[FlagChange]:
        """The edits to flags.json this plan makes; a rollback leaves a hold marker."""
        new, rollback = tuple.__new__, Action.ROLLBACK  # read once: see _HEALTHY
        # A tenant's decisions share their evidence and alerts, so its rollbacks from one
        # percentage share their marker: worded once, found by the tuples' identity.
        markers: dict[tuple[int, int, int], str] = {}

        def marker(decision: Decision) -> str:
            if decision.hold:
                return decision.hold
            key = (decision.from_pct, id(decision.evidence), id(decision.alerts))
            found = markers.get(key)
            if found is None:
                found = markers[key] = _hold_marker(decision)
            return found

        return [
            # tuple.__new__ with every field in order: FlagChange's own __new__ is Python code,
            # called for 93,000 changes at 10,000 tenants x 10 features (issue 14).
            *(
                new(
                    FlagChange,
                    (
                        decision.feature,
                        decision.tenant,
                        decision.to_pct,
                        marker(decision) if decision.action is rollback else None,
                        False,  # resume
                    ),
                )
                for decision in self.changes
            ),
            *(FlagChange(d.feature, d.tenant, pct=d.from_pct, resume=True) for d in self.resumed),
        ]


def _hold_marker(decision: Decision) -> str:
    """Why a tenant was rolled back, in words that stay the same while the cause does.

    No time and no measured value: the next run, seeing the same breach, must write the same
    text, or the rollback branch would change on every run.
    """
    causes = [
        f"{e.signal} {e.condition.breach_text()}"
        for e in decision.evidence
        if e.verdict is Verdict.BREACHED and e.critical and e.gate
    ] + [f"alert {alert.name}" for alert in decision.alerts]
    if not causes:  # a no_data: rollback policy
        causes = [
            f"no data for {e.signal}"
            for e in decision.evidence
            if e.verdict is Verdict.NO_DATA and e.gate and not e.doubtful
        ]
    return f"rolled back from {decision.from_pct}% ({', '.join(causes)})"


def decide(
    policy: Policy,
    flags: Flags,
    health: Health,
    *,
    now: datetime,
    last_change: LastChange,
    changed_at: datetime | None = None,
) -> Plan:
    """Decide every tenant of every feature in the policy, independently.

    ``changed_at``: when each tenant that ``last_change`` does not name last changed (outside
    git, when the flags file was written); None: it never changed.
    """
    window = policy.bake_time_text
    judge = partial(_judge_tenant, policy, health, window=window, seen={})
    judged: dict[tuple[str, int], _Judged] = {}
    decisions: list[Decision] = []
    # A tenant named under any feature is a tenant of every feature: an alert for every tenant
    # must reach it in all of them, not only where the file happens to name it (issue 9).
    tenants = tenants_for(policy, health, named=flags_tenants(flags))
    with _no_collection():
        # Health is judged once per tenant, whatever the features, into a list read in step
        # with the tenants: a lookup per decision in a table of 50,000 tenants missed the
        # processor's caches, and decide grew faster than the tenants (issue 14). With
        # comparison signals, once per tenant and percentage, as the share of requests in
        # treatment should match the percentage.
        healths: Iterable[_Judged | None] = (
            repeat(None) if policy.comparisons else [judge(tenant, None) for tenant in tenants]
        )
        for feature_name, ramp in policy.features.items():
            feature = flags.features[feature_name]
            _decide_feature(
                policy,
                feature_name=feature_name,
                ramp=ramp,
                feature=feature,
                tenants=tenants,
                healths=healths,
                judge=judge,
                judged=judged,
                now=now,
                measured_at=health.evaluated_at or now,
                last_change=last_change,
                every_change=changed_at,
                into=decisions,
            )
    return Plan(
        decisions=tuple(decisions),
        evaluated_at=now,
        window=window,
        queries={
            **{signal.name: signal.query for signal in policy.signals},
            **{s.name: f"events: {s.events} total: {s.total}" for s in policy.comparisons},
            **{s.name: f"events: {s.events} total: {s.total}" for s in policy.slos},
        },
        graph_links=dict(health.query_urls),
        redact=policy.redact,
    )


@contextmanager
def _no_collection() -> Iterator[None]:
    # The loop only adds objects and frees none, so the collector's passes over a growing heap
    # find nothing: they were a fifth of decide's time at 100,000 decisions (issue 14).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Steps(dict[int, int]):
    """A ramp's step from each percentage, worked out once per percentage: a lookup table."""

    def __init__(self, step: Callable[[int], int]) -> None:
        super().__init__()
        self.step = step

    def __missing__(self, pct: int) -> int:
        self[pct] = found = self.step(pct)
        return found


def _decide_feature(
    policy: Policy,
    *,
    feature_name: str,
    ramp: Ramp,
    feature: FeatureFlag,
    tenants: Iterable[str],
    healths: Iterable[_Judged | None],
    judge: Callable[[str, int | None], _Judged],
    judged: dict[tuple[str, int], _Judged],
    now: datetime,
    measured_at: datetime,
    last_change: LastChange,
    every_change: datetime | None,
    into: list[Decision],
) -> None:
    """Decide one feature's tenants, in the order of the rules below, into ``into``."""
    ups, downs = _Steps(ramp.up), _Steps(ramp.down)
    to_min = policy.rollback is RollbackTo.MIN
    own = feature.tenants or {}
    no_flag = TenantFlag()
    bake_time, bake_text = policy.bake_time, policy.bake_time_text
    no_data_rollback = policy.no_data is NoData.ROLLBACK
    paused = feature.paused
    append, new = into.append, tuple.__new__
    # Names bound here: the loop runs 100,000 times at 10,000 tenants x 10 features, and a
    # local name is read faster than an attribute of an enum (issue 14).
    UNUSABLE_NAME, PAUSED, CRITICAL, BREACH = (
        Kind.UNUSABLE_NAME,
        Kind.PAUSED,
        Kind.CRITICAL,
        Kind.BREACH,
    )
    NO_DATA, INCONCLUSIVE, MISMATCH, HELD = (
        Kind.NO_DATA,
        Kind.INCONCLUSIVE,
        Kind.SAMPLE_RATIO_MISMATCH,
        Kind.HELD,
    )
    STALE, BAKING, HEALTHY, AT_MAXIMUM, AT_MINIMUM = (
        Kind.STALE,
        Kind.BAKING,
        Kind.HEALTHY,
        Kind.AT_MAXIMUM,
        Kind.AT_MINIMUM,
    )
    HOLD, ROLLBACK, DOWN, UP = Action.HOLD, Action.ROLLBACK, Action.DOWN, Action.UP
    # healths is endless with comparison signals: the tenants end the loop.
    for tenant, health in zip(tenants, healths, strict=False):
        tenant_flag = own.get(tenant) or no_flag
        current = feature.pct if tenant_flag.pct is None else tenant_flag.pct
        if health is None:  # judged per tenant and percentage (see decide)
            health = judged.get((tenant, current))
            if health is None:
                health = judged[tenant, current] = judge(tenant, current)
        changed_at = (
            last_change.get((feature_name, tenant), every_change) if last_change else every_change
        )
        note: str = ""
        age: int | None = None
        kind: Kind
        action: Action
        rule = health.rule
        # 0. A label value from Prometheus can be anything; one that cannot be a key of
        # flags.json is held with a reason instead of failing the run for every other tenant.
        if rule is UNUSABLE_NAME:
            kind, action, to_pct = rule, HOLD, current
        # 1. A person said to leave it alone.
        elif paused or tenant_flag.paused:
            kind, action, to_pct = PAUSED, HOLD, current
            note = PAUSED_FEATURE if paused else PAUSED_TENANT
        # 2. A critical breach or a firing alert of a rollback severity.
        elif rule is CRITICAL:
            kind, action = rule, ROLLBACK
            to_pct = ramp.min if to_min else downs[current]
        # 3. Any other breach.
        elif rule is BREACH:
            kind, action, to_pct = rule, DOWN, downs[current]
        # 4. Missing data: never a reason to go up, and only by choice a reason to go down.
        elif rule is NO_DATA:
            # Counts since a change younger than the bake time are few because they are young:
            # that is no absence to roll back on; the tenant holds, baking (bot/since_change.py).
            young = health.short_window or (
                health.absent_in_comparisons_only
                and changed_at is not None
                and measured_at - changed_at < bake_time
            )
            if no_data_rollback and not young:
                kind, action = rule, ROLLBACK
                to_pct = ramp.min if to_min else downs[current]
            else:
                kind, action, to_pct = rule, HOLD, current
        # 4b. A comparison in doubt: never up, and doubt is no reason to go down.
        elif rule is INCONCLUSIVE or rule is MISMATCH:
            kind, action, to_pct = rule, HOLD, current
        # 5. Held since a rollback, until a person deletes the marker.
        elif tenant_flag.hold is not None:
            kind, action, to_pct, note = HELD, HOLD, current, tenant_flag.hold
        # 6. Health measured before the percentage it would judge was set says nothing about
        # the tenant at its current percentage: it can never move it up (issue 9).
        elif changed_at is not None and measured_at < changed_at:
            kind, action, to_pct, note = STALE, HOLD, current, _utc(measured_at)
        # 7. Not baked yet.
        elif changed_at is not None and now - changed_at < bake_time:
            kind, action, to_pct, note = BAKING, HOLD, current, bake_text
            age = int((now - changed_at).total_seconds())
        # 8. Healthy over the whole window.
        else:
            kind, action, to_pct = HEALTHY, UP, ups[current]
        if to_pct == current and action is not HOLD:
            kind = AT_MAXIMUM if action is UP else AT_MINIMUM
            action = HOLD
        # tuple.__new__ directly: Decision's own __new__ is Python code, called 100,000 times
        # at 10,000 tenants x 10 features (issue 14). Every field is given, in order.
        append(
            new(
                Decision,
                (
                    tenant,
                    feature_name,
                    current,
                    to_pct,
                    action,
                    kind,
                    health.evidence,
                    health.alerts,
                    note,
                    changed_at,
                    age,
                    None,  # hold: only a rollback carried over from a pull request sets it
                ),
            )
        )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    return sorted(health.tenants | set(named))


class _Judged(NamedTuple):
    """One tenant's health judged against the policy: the evidence, and the rule it calls for."""

    evidence: tuple[Evidence, ...]
    alerts: tuple[Alert, ...]  # firing, of a rollback severity
    # UNUSABLE_NAME, CRITICAL, BREACH, NO_DATA, SAMPLE_RATIO_MISMATCH, INCONCLUSIVE, or None
    # when healthy.
    rule: Kind | None
    # NO_DATA from comparisons alone: their counts start at the tenant's last change, so right
    # after one they are few by design (bot/since_change.py).
    absent_in_comparisons_only: bool = False
    # ... and one of them over a window shorter than the bake time: a change under another
    # feature, which the variant label cannot tell apart, started it afresh.
    short_window: bool = False


def _judge_tenant(
    policy: Policy,
    health: Health,
    tenant: str,
    pct: int | None,
    *,
    window: str,
    seen: dict[Any, Any],
) -> _Judged:
    """``tenant``'s health judged; ``seen`` holds what was judged before, shared when equal."""
    if len(tenant) > MAX_TENANT_NAME or not TENANT_NAME.match(tenant):
        return _Judged((), (), Kind.UNUSABLE_NAME)
    # Threshold signals first, then comparisons, then SLOs. A list comprehension, and the
    # other kinds only when the policy has them: this runs for each of 10,000 tenants.
    evidence = tuple([_judge(signal, health, tenant, window, seen) for signal in policy.signals])
    if policy.comparisons:
        evidence += tuple(
            _judge_comparison(signal, health, tenant, window, pct=pct)
            for signal in policy.comparisons
        )
    if policy.slos:
        evidence += tuple(_judge_slo(signal, health, tenant) for signal in policy.slos)
    alerts: tuple[Alert, ...] = ()
    if health.alerts:
        alerts = tuple(
            alert
            for alert in health.alerts_for(tenant)
            if (alert.severity or "").lower() in policy.rollback_severities
        )
    # Tenants with the same evidence (the same objects) and no alerts share one judgement;
    # a comparison's evidence is never shared, so its tenant's arms are judged as its own.
    shared_key = ("judged", *map(id, evidence)) if not alerts else None
    if shared_key is not None:
        judged_before: _Judged | None = seen.get(shared_key)
        if judged_before is not None:
            return judged_before
    # Shadow signals (gate: false) are shown and never decide.
    critical = breach = no_data = absent_elsewhere = short_window = False
    outcomes: set[Outcome] = set()
    for judged in evidence:
        if not judged.gate:
            continue
        if judged.verdict is _BREACHED:
            if judged.critical:
                critical = True
            else:
                breach = True
        elif judged.verdict is _NO_DATA and not judged.doubtful:
            no_data = True
            if judged.comparison is None:
                absent_elsewhere = True
            else:
                arms = health.arms.get(tenant, {}).get(judged.signal)
                reach = None if arms is None else arms.window
                if reach is not None and reach < policy.bake_time:
                    short_window = True
        if judged.comparison is not None:
            outcomes.add(judged.comparison.outcome)
    rule = None
    if alerts or critical:
        rule = Kind.CRITICAL
    elif breach:
        rule = Kind.BREACH
    elif no_data:
        rule = Kind.NO_DATA
    elif Outcome.SAMPLE_RATIO_MISMATCH in outcomes:
        rule = Kind.SAMPLE_RATIO_MISMATCH
    elif Outcome.INCONCLUSIVE in outcomes:
        rule = Kind.INCONCLUSIVE
    only_comparisons = no_data and not absent_elsewhere
    judgement = _Judged(evidence, alerts, rule, only_comparisons, only_comparisons and short_window)
    if shared_key is not None:
        seen[shared_key] = judgement
    return judgement


def _judge(
    signal: Signal, health: Health, tenant: str, window: str, seen: dict[Any, Any]
) -> Evidence:
    reading = health.reading(tenant, signal.name)
    value, samples = reading.value, reading.samples
    # Equal readings of a signal give equal evidence: one object serves every tenant that
    # measured the same, which at 900,000 tenants is gigabytes not allocated (issue 14).
    # repr tells -0.0 from 0.0 and 1 from 1.0, which print differently.
    key = ("evidence", id(signal), repr(value), samples)
    found: Evidence | None = seen.get(key)
    if found is not None:
        return found
    # ±Inf is a division by zero and NaN no number: no data (Reading.has_data, issue 9).
    has_data = value is not None and isfinite(value)
    too_few_samples = (
        signal.min_samples is not None and samples is not None and samples < signal.min_samples
    )
    if not has_data or too_few_samples:
        verdict = _NO_DATA
    else:
        assert value is not None
        verdict = _HEALTHY if signal.healthy.holds(value) else _BREACHED
    # Built without the dataclass's __init__, which sets each field through object.__setattr__
    # (it is frozen): 30,000 evidence at 10,000 tenants x 3 signals took a tenth of decide.
    evidence: Evidence = object.__new__(Evidence)
    object.__setattr__(
        evidence,
        "__dict__",
        {
            **_EVIDENCE_DEFAULTS,
            "signal": signal.name,
            "aggregate": signal.aggregate,
            "value": value if has_data else None,
            "condition": signal.healthy,
            "window": window,
            "verdict": verdict,
            "critical": signal.critical,
            "samples": samples,
            "not_finite": value is not None and not has_data,
            "gate": signal.gate,
        },
    )
    seen[key] = evidence
    return evidence


# Every field of Evidence that has a default, with it: what _judge does not set.
_EVIDENCE_DEFAULTS = {
    evidence_field.name: evidence_field.default
    for evidence_field in fields(Evidence)
    if evidence_field.default is not MISSING
}


_VERDICTS = {
    Outcome.HEALTHY: Verdict.HEALTHY,
    Outcome.BREACHED: Verdict.BREACHED,
    Outcome.NOT_COMPARED: Verdict.HEALTHY,  # one arm only, at 0 % or 100 %: no exposure to judge
    BurnOutcome.HEALTHY: Verdict.HEALTHY,
    BurnOutcome.BREACHED: Verdict.BREACHED,
}


def _judge_comparison(
    signal: ComparisonSignal, health: Health, tenant: str, window: str, *, pct: int | None
) -> Evidence:
    arms = health.arms.get(tenant, {}).get(signal.name) or _NO_ARMS
    comparison = judge(
        arms,
        margin=signal.worse_by_more_than,
        min_total=signal.min_total,
        alpha=signal.alpha,
        tuning=signal.tuning,
        share=None if pct is None else pct / 100,
    )
    return Evidence(
        signal=signal.name,
        aggregate="treatment - control",
        value=comparison.difference,
        condition=Condition("<=", signal.worse_by_more_than),
        # Counts since the tenant's last change cover their own window, not the bake time.
        window=window if arms.window is None else format_duration(arms.window),
        verdict=_VERDICTS.get(comparison.outcome, Verdict.NO_DATA),
        critical=signal.critical,
        comparison=comparison,
        gate=signal.gate,
    )


def _judge_slo(signal: SloSignal, health: Health, tenant: str) -> Evidence:
    burn = judge_burn(
        health.burn_windows.get(tenant, {}).get(signal.name, {}),
        objective=signal.objective,
        pairs=signal.pairs,
    )
    fastest = signal.pairs[0]
    return Evidence(
        signal=signal.name,
        aggregate="burn rate",
        value=burn.rates.get(fastest.short),
        condition=Condition("<=", fastest.rate),
        window=", ".join(f"{pair.long}/{pair.short}" for pair in signal.pairs),
        verdict=_VERDICTS.get(burn.outcome, Verdict.NO_DATA),
        critical=signal.critical,
        burn=burn,
        gate=signal.gate,
    )


_NO_ARMS = Arms(None, None)
