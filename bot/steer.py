"""What people decided about the ramp as a whole: stop switches, freeze windows, rings, limits.

Pure: the plan, the policy, the flags, the recent changes from git history and the time come in
as arguments. Only steps up are ever held here; a rollback or a step down goes through whatever
the switches, windows, rings and limits say (safety first).

Order, first that applies wins: a stop switch (``paused: true``, the dashboard's box), a freeze
window, the ring rule, ``steps_per_day``, ``tenants_per_run``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.change_log import Change
from bot.decide import (
    PAUSED_DASHBOARD,
    PAUSED_POLICY,
    Action,
    Decision,
    Kind,
    Plan,
    RingStatus,
)
from bot.flags import Flags
from bot.freeze import frozen_at
from bot.policy import Policy

DAY = timedelta(days=1)
NAMES_IN_REASON = 3
# Sorts a tenant that did not change within the history read before every one that did.
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


def history_needed(policy: Policy) -> timedelta:
    """How far back the changes must reach for ``steer``: the bake time, a day for limits."""
    if policy.limits.steps_per_day is not None or policy.limits.tenants_per_run is not None:
        return max(policy.bake_time, DAY)
    return policy.bake_time


def steer(
    plan: Plan,
    policy: Policy,
    flags: Flags,
    *,
    now: datetime,
    changes: Sequence[Change],
    stopped: bool = False,
    resume: Collection[tuple[str, str]] = (),
) -> Plan:
    """Hold the steps up that a switch, window, ring or limit holds back; the rest as decided.

    ``changes`` are the changes of percentages on the base branch, at least ``history_needed``
    back; ``stopped`` says the ramp dashboard's "Stop all step-ups" box is ticked; ``resume``
    are the (feature, tenant) pairs whose Resume box is ticked there.
    """
    changes = [change for change in changes if change.at <= now]
    decisions = list(plan.decisions)
    held: dict[int, tuple[Kind, str]] = {}
    ups = [index for index, d in enumerate(decisions) if d.action is Action.UP]

    stop = PAUSED_POLICY if policy.paused else PAUSED_DASHBOARD if stopped else None
    frozen = frozen_at(policy.freeze, now)
    for index in ups:
        if stop is not None:
            held[index] = (Kind.PAUSED, stop)
        elif frozen is not None:
            held[index] = (Kind.FROZEN, f"frozen: {frozen}; no step up until then")

    ring_statuses: tuple[RingStatus, ...] = ()
    if policy.rings:
        rings = _Rings(policy, flags, decisions, changes=changes, now=now)
        for index in ups:
            if index not in held and (why := rings.waits(decisions[index])) is not None:
                held[index] = (Kind.RING, why)
        ring_statuses = rings.statuses(decisions, held)

    if policy.limits.steps_per_day is not None:
        # Indexed once: looking through every change for each step up is quadratic, minutes
        # at 100,000 steps up after a day of 10,000 changes.
        steps_up: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        for change in changes:
            if change.at > now - DAY and _raised(change):
                steps_up[change.feature, change.tenant].append(change.at)
        for index in ups:
            if index not in held:
                decision = decisions[index]
                why = _over_steps_per_day(
                    decision,
                    policy.limits.steps_per_day,
                    steps=steps_up.get((decision.feature, decision.tenant), []),
                )
                if why is not None:
                    held[index] = (Kind.LIMIT, why)

    if policy.limits.tenants_per_run is not None:
        moving = [index for index in ups if index not in held]
        allowed = set(
            _first_tenants(
                policy,
                (decisions[index].tenant for index in moving),
                changes=changes,
                count=policy.limits.tenants_per_run,
            )
        )
        limit = policy.limits.tenants_per_run
        for index in moving:
            if decisions[index].tenant not in allowed:
                held[index] = (
                    Kind.LIMIT,
                    f"limit tenants_per_run {limit} reached; next run (the first tenants by "
                    "ring, then by the longest wait since their last change, go first)",
                )

    for index, (kind, note) in held.items():
        decisions[index] = _hold(decisions[index], kind, note)
    # Deleting a hold marker moves no percentage, so no switch, window or limit holds it back;
    # only a tenant held by its marker alone resumes: one that breaches again or has no data
    # now is decided by that first, and its box waits for a run where it is only held.
    resumed = 0
    if resume:
        wanted = set(resume)
        for index, decision in enumerate(decisions):
            if decision.kind is Kind.HELD and (decision.feature, decision.tenant) in wanted:
                decisions[index] = decision._replace(kind=Kind.RESUMED)
                resumed += 1
    if not held and not ring_statuses and not resumed:
        return plan
    return replace(plan, decisions=tuple(decisions), rings=ring_statuses)


def _hold(decision: Decision, kind: Kind, note: str) -> Decision:
    assert decision.action is Action.UP  # only steps up are ever held here
    return decision._replace(action=Action.HOLD, to_pct=decision.from_pct, kind=kind, note=note)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:NAMES_IN_REASON])
    more = len(items) - NAMES_IN_REASON
    return shown + (f" and {more} more" if more > 0 else "")


class _Rings:
    """The ring rule: a ring steps up to a percentage once the ring before is there."""

    def __init__(
        self,
        policy: Policy,
        flags: Flags,
        decisions: Sequence[Decision],
        *,
        changes: Sequence[Change],
        now: datetime,
    ) -> None:
        self.policy = policy
        self.flags = flags
        self.now = now
        # A tenant of the previous ring going down in this very plan counts as rolled back.
        self.going_down = {
            (d.feature, d.tenant) for d in decisions if d.action in (Action.DOWN, Action.ROLLBACK)
        }
        since = now - policy.bake_time
        self.went_down: dict[tuple[str, str], Change] = {}
        for change in changes:
            if change.at > since and _lowered(change):
                self.went_down[change.feature, change.tenant] = change

    def waits(self, decision: Decision) -> str | None:
        """Why the ring of ``decision``'s tenant may not step up to its percentage yet."""
        index = self.policy.ring_of(decision.tenant)
        if index == 0:
            return None
        before = self.policy.rings[index - 1]
        assert before.tenants is not None  # only the last ring may omit them
        name = self.policy.ring_name(index)
        feature = decision.feature
        ramp = self.policy.features[feature]
        flag = self.flags.features[feature]
        down = [t for t in before.tenants if (feature, t) in self.going_down]
        if down:
            return (
                f"ring {name} waits: ring {before.name} is stepping down in this plan "
                f"({_names(down)}, {feature}); until it has baked again"
            )
        recent = [
            self.went_down[feature, t] for t in before.tenants if (feature, t) in self.went_down
        ]
        if recent:
            latest = max(change.at for change in recent)
            return (
                f"ring {name} waits: ring {before.name} went down in {feature} "
                f"({_names([c.tenant for c in recent])}, last at {_when(latest)}), less than the "
                f"bake time of {self.policy.bake_time_text} ago; until "
                f"{_when(latest + self.policy.bake_time)} at the earliest"
            )
        target = decision.to_pct
        behind = [
            f"{t} at {pct}%"
            for t in before.tenants
            if (pct := flag.pct_for(t)) < target and pct < ramp.max
        ]
        if behind:
            return (
                f"ring {name} waits for ring {before.name} to reach {target}% in {feature} "
                f"({_names(behind)}); until every tenant of {before.name} is at {target}% or "
                "its max"
            )
        return None

    def statuses(
        self, decisions: Sequence[Decision], held: Mapping[int, tuple[Kind, str]]
    ) -> tuple[RingStatus, ...]:
        """Each ring's decided tenants, and why its steps up wait."""
        count = len(self.policy.rings) + 1  # the last: tenants no ring names, if any
        tenants: list[dict[str, None]] = [{} for _ in range(count)]
        waiting: list[dict[str, None]] = [{} for _ in range(count)]
        for index, decision in enumerate(decisions):
            ring = self.policy.ring_of(decision.tenant)
            tenants[ring][decision.tenant] = None
            kind, why = held.get(index, (None, ""))
            if kind is Kind.RING:
                waiting[ring][why] = None
        return tuple(
            RingStatus(
                name=self.policy.ring_name(index),
                tenants=tuple(tenants[index]),
                waiting=tuple(waiting[index]),
            )
            for index in range(count)
            if index < len(self.policy.rings) or tenants[index]
        )


def _lowered(change: Change) -> bool:
    return change.from_pct is not None and (change.to_pct or 0) < change.from_pct


def _raised(change: Change) -> bool:
    # A feature or file that appeared (no percentage before) was written by a person, not
    # stepped up: counting it would hold the first step of a new ramp back for a day.
    return (
        change.from_pct is not None
        and change.to_pct is not None
        and change.to_pct > change.from_pct
    )


def _over_steps_per_day(decision: Decision, limit: int, *, steps: list[datetime]) -> str | None:
    """Why this tenant and feature has stepped up as often as a day allows, or None.

    ``steps``: when it stepped up in the 24 hours before the evaluation.
    """
    steps = sorted(steps)
    if len(steps) < limit:
        return None
    # The next step may come once enough of today's steps are more than a day old.
    next_at = steps[len(steps) - limit] + DAY
    return (
        f"limit steps_per_day {limit} reached for {decision.feature}/{decision.tenant} "
        f"({len(steps)} steps up in the last 24h); next step after {_when(next_at)}"
    )


def _first_tenants(
    policy: Policy, tenants: Iterable[str], *, changes: Sequence[Change], count: int
) -> list[str]:
    """The ``count`` tenants that step up first: by ring, then the longest wait since a change."""
    last: dict[str, datetime] = defaultdict(lambda: _LONG_AGO)
    for change in changes:
        last[change.tenant] = max(last[change.tenant], change.at)
    ordered = sorted(dict.fromkeys(tenants), key=lambda t: (policy.ring_of(t), last[t], t))
    return ordered[:count]
