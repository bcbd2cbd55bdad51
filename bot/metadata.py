"""The hidden, machine-readable block at the end of a ramp pull request's body.

An HTML comment holding JSON (format ``rampbot-pr/1``): evaluation time, base commit, query
hashes, the decisions and the plan's fingerprint. rampbot reads it back to tell whether an open
pull request already says what the new plan says; other tools may parse it too. Pure.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from operator import attrgetter, countOf
from typing import Any

from bot import __version__
from bot.decide import Action, Decision, Plan, Verdict

METADATA_FORMAT = "rampbot-pr/1"
_METADATA = re.compile(r"<!-- rampbot:metadata\r?\n(.*?)\r?\n-->", re.DOTALL)


def _query_hashes(plan: Plan) -> dict[str, str]:
    return {
        name: "sha256:" + hashlib.sha256(query.encode()).hexdigest()[:16]
        for name, query in plan.queries.items()
    }


_ACTION = attrgetter("action")


def _decision_entry(decision: Decision) -> tuple[Any, ...]:
    # A tuple, which json.dumps writes as a list and the collector skips once seen; the
    # member's own attribute, as Enum.value is a Python property (100,000 decisions, issue 14).
    return (
        decision.tenant,
        decision.feature,
        decision.from_pct,
        decision.to_pct,
        decision.action._value_,
    )


def _resumed(plan: Plan) -> list[list[str]]:
    """The (feature, tenant) pairs whose hold marker the plan deletes, sorted."""
    return sorted([d.feature, d.tenant] for d in plan.resumed)


def plan_fingerprint(plan: Plan, *, base_commit: str) -> str:
    """What a ramp pull request claims, hashed: base commit, queries and every decision.

    Measured values and the evaluation time are left out on purpose: they change on every run,
    and a pull request whose decisions are the same need not be edited.
    """
    claim = {
        "format": METADATA_FORMAT,
        "base_commit": base_commit,
        "queries": _query_hashes(plan),
        "decisions": sorted(_decision_entry(d) for d in plan.decisions),
    }
    if plan.resumed:  # a deleted hold marker moves no percentage: the entries do not show it
        claim["resumed"] = _resumed(plan)
    canonical = json.dumps(claim, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def changes_fingerprint(plan: Plan) -> str:
    """What a pull request proposes, hashed: each change with the evidence that asks for it.

    The evidence is which signals breached or had no data, and which alerts fired, not the
    measured values; nor the base commit, which moves with every unrelated merge. A pull request
    a person closed is not proposed again while this stays the same (issue 12): a new breach or
    alert, or another step, makes it differ.
    """
    fine = Verdict.HEALTHY
    # A tenant's decisions share their evidence and alerts tuples: what they ask for is
    # worked out once per tenant, found by the tuples' identity. Tuples, not lists: json.dumps
    # writes both alike and they sort alike, and tuples of text and numbers cost the garbage
    # collector nothing once seen (issue 14).
    asked: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    claim: list[Any] = []
    for decision in plan.changes:
        key = (id(decision.evidence), id(decision.alerts))
        why = asked.get(key)
        if why is None:
            why = asked[key] = (
                # Shadow signals (gate: false) never ask for anything.
                tuple(
                    sorted(e.signal for e in decision.evidence if e.gate and e.verdict is not fine)
                ),
                tuple(sorted(alert.name for alert in decision.alerts)),
            )
        claim.append(
            (
                decision.tenant,
                decision.feature,
                decision.from_pct,
                decision.to_pct,
                decision.action._value_,
                *why,
            )
        )
    claim.sort()
    if plan.resumed:
        claim.append(["resumed", _resumed(plan)])
    canonical = json.dumps(claim, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def metadata_block(plan: Plan, *, base_commit: str, budget: int) -> str:
    """The hidden JSON block; it lists as many decisions as fit in ``budget``, changes first."""
    # Counted in C by identity: an enum's hash is Python code (issue 14).
    actions = list(map(_ACTION, plan.decisions))
    document: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "rampbot": __version__,
        "evaluated_at": plan.evaluated_at.astimezone(UTC).isoformat(timespec="seconds"),
        "window": plan.window,
        "base_commit": base_commit,
        "queries": _query_hashes(plan),
        "counts": {action.value: countOf(actions, action) for action in Action},
        "fingerprint": plan_fingerprint(plan, base_commit=base_commit),
        "changes_fingerprint": changes_fingerprint(plan),
        "decisions_total": len(plan.decisions),
        "decisions": [],
    }
    if plan.resumed:
        document["resumed"] = _resumed(plan)
    used = len(_comment(document))
    for decision in [*plan.changes, *(d for d in plan.decisions if not d.changed)]:
        entry = _decision_entry(decision)
        size = len(_json(entry)) + 1
        if used + size > budget:
            break
        document["decisions"].append(entry)
        used += size
    document["decisions_complete"] = len(document["decisions"]) == len(plan.decisions)
    return _comment(document)


def _json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    # An HTML comment ends at `-->` (or `--!>`): no `>` may appear, and `<` and `&` for symmetry.
    # They can occur only inside JSON strings, where \\u escapes mean the same.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _comment(document: dict[str, Any]) -> str:
    return f"<!-- rampbot:metadata\n{_json(document)}\n-->\n"


def read_body_metadata(body: str) -> dict[str, Any] | None:
    """The hidden block rampbot wrote into a pull request body, or None if there is none."""
    for match in reversed(list(_METADATA.finditer(body))):
        try:
            document = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and str(document.get("format", "")).startswith("rampbot-pr/"):
            return document
    return None


def body_changes_fingerprint(body: str) -> str | None:
    """The ``changes_fingerprint`` a body's hidden block stores, if any."""
    metadata = read_body_metadata(body)
    value = metadata.get("changes_fingerprint") if metadata is not None else None
    return value if isinstance(value, str) else None


def body_fingerprint(body: str) -> str:
    """The fingerprint stored in a body's hidden block, else a hash of the whole body.

    rampbot edits an open pull request only when the new body's fingerprint differs from the
    old one. The stored fingerprint is ``plan_fingerprint``: the base commit, the query hashes
    and every decision (tenant, feature, from, to, action), not the measured values nor the
    time, which differ on every run; so an unchanged plan leaves the pull request alone. A body
    without the block (a person replaced it) gets a hash of its text, which never equals a
    plan's, so rampbot writes its body again.
    """
    metadata = read_body_metadata(body)
    if metadata is not None and isinstance(metadata.get("fingerprint"), str):
        return str(metadata["fingerprint"])
    return "body:sha256:" + hashlib.sha256(body.encode()).hexdigest()
