"""Commit trailers that tie each bot change of flags.json to the decision that made it.

Pure: text in, text out. ``rampbot run`` writes them on every commit it makes; ``rampbot history``
reads them back to follow a tenant's chain of steps exactly, across reverts and human edits.

Format: git trailers, the message's trailer block (its last paragraph, not the subject, made of
``Key: value`` lines; https://git-scm.com/docs/git-interpret-trailers). Only that block is read:
a ``Rampbot-Decision:`` line anywhere else in a message counts for nothing. The git adapter reads
the block with git's own parser (``%(trailers)``); ``trailer_block`` reads it the same way from a
message at hand. Everything rampbot reads back is in the trailers, so the sentences above them
may change wording freely::

    Rampbot-Decision: 3f9c0a1b2c4d receipts/acme 10->25 up
    Rampbot-Evidence: 3f9c0a1b2c4d ["coverage min 97.0 over 30m >= 95"]
    Rampbot-Parent: receipts/acme=8e1d2f3a4b5c
    Rampbot-Reverts: 3f9c0a1b2c4d receipts/acme 10->25 up

- ``Rampbot-Decision`` (one per changed feature and tenant): the decision's id, then
  ``<feature>/<tenant> <from>-><to> <action>``. The id is ``decision_id(...)``: the first 12 hex
  digits of a SHA-256 over feature, tenant, from, to and the evaluation time, so the same decision
  always gets the same id and two decisions practically never share one.
- ``Rampbot-Evidence`` (one per decision): the decision's id, then a JSON array of the reasons
  the change line above shows (the first two), which ``rampbot history`` prints.
- ``Rampbot-Parent`` (one per pair with an earlier bot decision on the base branch):
  ``<feature>/<tenant>=<id of that earlier decision>``.
- ``Rampbot-Reverts`` (on ``rampbot revert`` commits): a decision undone, in the
  ``Rampbot-Decision`` form.
- ``Rampbot-Redacted`` (when the pull request's title or body had personal data taken out):
  ``<kind>=<count>`` pairs, such as ``email=2 phone=1``; ``rampbot publish`` sums them over the
  history as ``rampbot_redactions_total``.

Commits made before ``Rampbot-Evidence`` existed carry their evidence only in the change line
(``- up receipts for acme: 10% -> 25% (coverage ...)``); ``old_evidence`` still reads those.

Feature and tenant names are taken as they are; a name containing ``/``, ``=`` or whitespace is
not supported in trailers (the policy schema does not allow them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.decide import Decision, Plan

DECISION = "Rampbot-Decision"
PARENT = "Rampbot-Parent"
REVERTS = "Rampbot-Reverts"
REDACTED = "Rampbot-Redacted"
EVIDENCE = "Rampbot-Evidence"
_COUNT = re.compile(r"([a-z]+)=(\d+)")

# (feature, tenant)
Pair = tuple[str, str]
# The (key, value) pairs of a message's trailer block, in order, as git's parser gives them.
TrailerLines = tuple[tuple[str, str], ...]

# A trailer line as git reads one: a token of letters, digits and hyphens, then ":" (spaces
# may come between); a line that starts with whitespace continues the one before.
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9-]+)[ \t]*:[ \t]*(.*?)\s*$")
# Lines git writes itself: with one of them, a block of at least 25% trailers is a trailer block.
_GIT_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")
_EVIDENCE_VALUE = re.compile(r"^(?P<id>[0-9a-f]{12})\s+(?P<reasons>\[.*\])$")
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
    evidence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # decision id -> reasons


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
            f"{decision.from_pct}% -> {decision.to_pct}% ({'; '.join(_shown_reasons(decision))})"
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
        trailer = decision_trailer(decision, evaluated_at)
        reasons = json.dumps(list(_shown_reasons(decision)), ensure_ascii=False)
        lines.append(f"{DECISION}: {trailer}")
        lines.append(f"{EVIDENCE}: {trailer.id} {reasons}")
    for decision in changes:
        parent = parents.get((decision.feature, decision.tenant))
        if parent:
            lines.append(f"{PARENT}: {decision.feature}/{decision.tenant}={parent}")
    return lines


def _shown_reasons(decision: Decision) -> tuple[str, ...]:
    """The reasons a commit message gives for a change: the first two."""
    return decision.reasons[:2]


def trailer_block(message: str) -> TrailerLines:
    """The trailers of a message's trailer block, read by git's rules; () without one.

    The block is the last paragraph, never the subject's, whose lines are all trailers (or
    continue one), or at least a quarter of them with a line git writes itself
    (https://git-scm.com/docs/git-interpret-trailers). As ``git log --format=%(trailers:only,
    unfold)``: continuation lines are joined with a space, other lines left out.
    """
    paragraphs: list[list[str]] = [[]]
    for line in message.splitlines():
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if len(paragraphs) < 2:
        return ()
    found: list[list[str]] = []
    current: list[str] | None = None  # the trailer a continuation line would extend
    trailers = others = generated = 0
    for line in paragraphs[-1]:
        if line[0] in " \t":
            others += current is None
            if current is not None:
                current.append(line.strip())
            continue
        match = _TRAILER_LINE.match(line)
        generated += line.startswith(_GIT_GENERATED)
        # git counts "(cherry picked from commit ...)" as a trailer, though it has no key.
        trailers += bool(match) or line.startswith(_GIT_GENERATED[1])
        others += not match and not line.startswith(_GIT_GENERATED[1])
        current = [match[1], match[2]] if match else None
        if current is not None:
            found.append(current)
    if not trailers or (others and not (generated and 3 * trailers >= others)):
        return ()
    return tuple((key, " ".join(part for part in value if part)) for key, *value in found)


def parse_trailers(message: str) -> Trailers:
    """Read the rampbot trailers of a commit message's trailer block."""
    return read_trailers(trailer_block(message))


def read_trailers(lines: TrailerLines) -> Trailers:
    """The rampbot trailers among a trailer block's; values that do not parse are ignored."""
    decisions: list[DecisionTrailer] = []
    reverts: list[DecisionTrailer] = []
    parents: dict[Pair, str] = {}
    redacted: dict[str, int] = {}
    evidence: dict[str, tuple[str, ...]] = {}
    for key, value in lines:
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
        elif key == EVIDENCE:
            reasons = _parse_evidence(value)
            if reasons is not None:
                evidence.setdefault(reasons[0], reasons[1])
    return Trailers(
        decisions=tuple(decisions),
        parents=parents,
        reverts=tuple(reverts),
        redacted=redacted,
        evidence=evidence,
    )


def _parse_evidence(value: str) -> tuple[str, tuple[str, ...]] | None:
    match = _EVIDENCE_VALUE.match(value)
    if not match:
        return None
    try:
        reasons = json.loads(match["reasons"])
    except ValueError:
        return None
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return None
    return match["id"], tuple(reasons)


# The change line of commit messages written before Rampbot-Evidence:
# "- up receipts for acme: 10% -> 25% (coverage min 97.0 over 30m >= 95)".
_OLD_CHANGE_LINE = re.compile(
    r"^- (?P<action>\S+) (?P<feature>\S+) for (?P<tenant>\S+): \d+% -> \d+% \((?P<why>.*)\)$",
    re.MULTILINE,
)


def old_evidence(message: str) -> dict[Pair, str]:
    """The reasons per pair in the change lines of a bot commit made before Rampbot-Evidence."""
    # Such commits stay in people's histories, and rampbot history still shows their reasons.
    found: dict[Pair, str] = {}
    for match in _OLD_CHANGE_LINE.finditer(message):
        found.setdefault((match["feature"], match["tenant"]), match["why"])
    return found


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


def latest_decisions(trailers_newest_first: Iterable[Trailers]) -> dict[Pair, str]:
    """For each pair, the id of the newest bot decision among commits' trailers, newest first."""
    latest: dict[Pair, str] = {}
    for trailers in trailers_newest_first:
        for trailer in trailers.decisions:
            latest.setdefault((trailer.feature, trailer.tenant), trailer.id)
    return latest
