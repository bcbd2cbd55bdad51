"""Commit trailers that tie each bot change of flags.json to the decision that made it.

Pure: text in, text out. ``rampbot run`` writes them on every commit it makes; ``rampbot history``
reads them back to follow a tenant's chain of steps exactly, across reverts and human edits.

Format (git trailers: the last paragraph of the message, one ``Key: value`` per line)::

    Rampbot-Decision: 3f9c0a1b2c4d receipts/acme 10->25 up
    Rampbot-Parent: receipts/acme=8e1d2f3a4b5c
    Rampbot-Reverts: 3f9c0a1b2c4d receipts/acme 10->25 up

- ``Rampbot-Decision`` (one per changed feature and tenant): the decision's id, then
  ``<feature>/<tenant> <from>-><to> <action>``. The id is ``decision_id(...)``: the first 12 hex
  digits of a SHA-256 over feature, tenant, from, to and the evaluation time, so the same decision
  always gets the same id and two decisions practically never share one.
- ``Rampbot-Parent`` (one per pair with an earlier bot decision on the base branch):
  ``<feature>/<tenant>=<id of that earlier decision>``.
- ``Rampbot-Reverts`` (on ``rampbot revert`` commits): a decision undone, in the
  ``Rampbot-Decision`` form.
- ``Rampbot-Redacted`` (when the pull request's title or body had personal data taken out):
  ``<kind>=<count>`` pairs, such as ``email=2 phone=1``; ``rampbot publish`` sums them over the
  history as ``rampbot_redactions_total``.

Feature and tenant names are taken as they are; a name containing ``/``, ``=`` or whitespace is
not supported in trailers (the policy schema does not allow them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.decide import Decision, Plan

DECISION = "Rampbot-Decision"
PARENT = "Rampbot-Parent"
REVERTS = "Rampbot-Reverts"
REDACTED = "Rampbot-Redacted"
_COUNT = re.compile(r"([a-z]+)=(\d+)")

# (feature, tenant)
Pair = tuple[str, str]

_TRAILER = re.compile(r"^(Rampbot-[A-Za-z]+):\s*(.*?)\s*$")
_DECISION_VALUE = re.compile(
    r"^(?P<id>[0-9a-f]{12})\s+(?P<feature>[^/\s]+)/(?P<tenant>\S+)\s+"
    r"(?P<from>\d+)->(?P<to>\d+)(?:\s+(?P<action>\S+))?$"
)
_PARENT_VALUE = re.compile(r"^(?P<feature>[^/\s]+)/(?P<tenant>[^=\s]+)=(?P<id>[0-9a-f]{12})$")


@dataclass(frozen=True)
class DecisionTrailer:
    """One ``Rampbot-Decision`` (or ``Rampbot-Reverts``) line, parsed."""

    id: str
    feature: str
    tenant: str
    from_pct: int
    to_pct: int
    action: str | None = None

    def __str__(self) -> str:
        action = f" {self.action}" if self.action else ""
        return f"{self.id} {self.feature}/{self.tenant} {self.from_pct}->{self.to_pct}{action}"


@dataclass(frozen=True)
class Trailers:
    """What the rampbot trailers of one commit message say."""

    decisions: tuple[DecisionTrailer, ...] = ()
    parents: Mapping[Pair, str] = field(default_factory=dict)
    reverts: tuple[DecisionTrailer, ...] = ()
    redacted: Mapping[str, int] = field(default_factory=dict)  # kind -> spans


def decision_id(
    *, feature: str, tenant: str, from_pct: int, to_pct: int, evaluated_at: datetime
) -> str:
    """A short stable id for one change: the same inputs always give the same id."""
    text = "\n".join(
        [feature, tenant, str(from_pct), str(to_pct), evaluated_at.isoformat(timespec="seconds")]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def decision_trailer(decision: Decision, evaluated_at: datetime) -> DecisionTrailer:
    """The trailer for one changed decision of a plan."""
    return DecisionTrailer(
        id=decision_id(
            feature=decision.feature,
            tenant=decision.tenant,
            from_pct=decision.from_pct,
            to_pct=decision.to_pct,
            evaluated_at=evaluated_at,
        ),
        feature=decision.feature,
        tenant=decision.tenant,
        from_pct=decision.from_pct,
        to_pct=decision.to_pct,
        action=decision.action.value,
    )


def commit_message(
    plan: Plan, parents: Mapping[Pair, str], *, redacted: Mapping[str, int] | None = None
) -> str:
    """The commit message of a bot change: a subject, one line per change, then the trailers.

    ``redacted``: how many spans of each kind the pull request had taken out.
    """
    changes = plan.changes
    named = [f"{d.feature} {d.tenant} {d.from_pct}->{d.to_pct}%" for d in changes[:3]]
    named += [f"{d.feature} {d.tenant} resumed" for d in plan.resumed[: 3 - len(named)]]
    subject = "rampbot: " + ", ".join(named)
    if len(changes) + len(plan.resumed) > len(named):
        subject += f" and {len(changes) + len(plan.resumed) - len(named)} more"
    lines = [subject, ""]
    for decision in changes:
        lines.append(
            f"- {decision.action.value} {decision.feature} for {decision.tenant}: "
            f"{decision.from_pct}% -> {decision.to_pct}% ({'; '.join(decision.reasons[:2])})"
        )
    for decision in plan.resumed:
        lines.append(
            f"- resume {decision.feature} for {decision.tenant}: hold marker deleted "
            f"({decision.note}), Resume ticked on the ramp dashboard"
        )
    lines.append("")
    lines.extend(_trailer_lines(changes, plan.evaluated_at, parents))
    counts = " ".join(f"{kind}={n}" for kind, n in sorted((redacted or {}).items()) if n)
    if counts:
        lines.append(f"{REDACTED}: {counts}")
    return "\n".join(lines) + "\n"


def revert_trailer_lines(undone: Iterable[DecisionTrailer]) -> list[str]:
    """``Rampbot-Reverts`` lines for the decisions a revert undoes."""
    return [f"{REVERTS}: {trailer}" for trailer in undone]


def _trailer_lines(
    changes: Iterable[Decision], evaluated_at: datetime, parents: Mapping[Pair, str]
) -> list[str]:
    lines = []
    changes = list(changes)
    for decision in changes:
        lines.append(f"{DECISION}: {decision_trailer(decision, evaluated_at)}")
    for decision in changes:
        parent = parents.get((decision.feature, decision.tenant))
        if parent:
            lines.append(f"{PARENT}: {decision.feature}/{decision.tenant}={parent}")
    return lines


def parse_trailers(message: str) -> Trailers:
    """Read the rampbot trailers of a commit message; lines that do not parse are ignored."""
    decisions: list[DecisionTrailer] = []
    reverts: list[DecisionTrailer] = []
    parents: dict[Pair, str] = {}
    redacted: dict[str, int] = {}
    for line in message.splitlines():
        match = _TRAILER.match(line)
        if not match:
            continue
        key, value = match.groups()
        if key in (DECISION, REVERTS):
            parsed = _parse_decision(value)
            if parsed is not None:
                (decisions if key == DECISION else reverts).append(parsed)
        elif key == PARENT:
            parent = _PARENT_VALUE.match(value)
            if parent:
                parents[parent["feature"], parent["tenant"]] = parent["id"]
        elif key == REDACTED:
            for kind, count in _COUNT.findall(value):
                redacted[kind] = redacted.get(kind, 0) + int(count)
    return Trailers(
        decisions=tuple(decisions), parents=parents, reverts=tuple(reverts), redacted=redacted
    )


def _parse_decision(value: str) -> DecisionTrailer | None:
    match = _DECISION_VALUE.match(value)
    if not match:
        return None
    return DecisionTrailer(
        id=match["id"],
        feature=match["feature"],
        tenant=match["tenant"],
        from_pct=int(match["from"]),
        to_pct=int(match["to"]),
        action=match["action"],
    )


def latest_decisions(messages_newest_first: Iterable[str]) -> dict[Pair, str]:
    """For each pair, the id of the newest bot decision among commit messages, newest first."""
    latest: dict[Pair, str] = {}
    for message in messages_newest_first:
        for trailer in parse_trailers(message).decisions:
            latest.setdefault((trailer.feature, trailer.tenant), trailer.id)
    return latest
