"""bot/trailers.py: ids, messages and parsing, with plain values."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.decide import Action, Decision, Kind, Plan
from bot.trailers import (
    commit_message,
    decision_id,
    latest_decisions,
    parse_trailers,
    revert_trailer_lines,
)
from tests.builders import healthy_evidence

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def plan(*decisions: Decision) -> Plan:
    return Plan(decisions=decisions, evaluated_at=NOW, window="30m")


def change(tenant: str, from_pct: int, to_pct: int, action: Action = Action.UP) -> Decision:
    return Decision(
        tenant=tenant,
        feature="receipts",
        from_pct=from_pct,
        to_pct=to_pct,
        action=action,
        kind=Kind.HEALTHY,
        evidence=(healthy_evidence("coverage", 97),),
    )


def test_decision_id_is_stable_and_distinct() -> None:
    one = decision_id(feature="receipts", tenant="acme", from_pct=10, to_pct=25, evaluated_at=NOW)
    assert one == decision_id(
        feature="receipts", tenant="acme", from_pct=10, to_pct=25, evaluated_at=NOW
    )
    assert len(one) == 12
    assert one != decision_id(
        feature="receipts", tenant="acme", from_pct=10, to_pct=50, evaluated_at=NOW
    )


def test_commit_message_names_each_change_and_round_trips() -> None:
    message = commit_message(
        plan(
            change("acme", 10, 25),
            change("globex", 5, 5, Action.HOLD),
            change("initech", 25, 10, Action.ROLLBACK),
        ),
        {("receipts", "acme"): "aaaaaaaaaaaa"},
    )
    assert message.splitlines()[0] == "rampbot: receipts acme 10->25%, receipts initech 25->10%"
    assert "- up receipts for acme: 10% -> 25%" in message
    assert "globex" not in message
    trailers = parse_trailers(message)
    assert [(d.tenant, d.from_pct, d.to_pct, d.action) for d in trailers.decisions] == [
        ("acme", 10, 25, "up"),
        ("initech", 25, 10, "rollback"),
    ]
    assert trailers.parents == {("receipts", "acme"): "aaaaaaaaaaaa"}
    assert trailers.decisions[0].id == decision_id(
        feature="receipts", tenant="acme", from_pct=10, to_pct=25, evaluated_at=NOW
    )


def test_reverts_and_garbage() -> None:
    [decision] = parse_trailers(commit_message(plan(change("acme", 10, 25)), {})).decisions
    message = (
        "Revert\n\n"
        + "\n".join(revert_trailer_lines([decision]))
        + "\nRampbot-Decision: nonsense\n"
    )
    trailers = parse_trailers(message)
    assert trailers.reverts == (decision,)
    assert trailers.decisions == ()


def test_latest_decisions_takes_the_newest_per_pair() -> None:
    old = commit_message(plan(change("acme", 5, 10)), {})
    new = commit_message(plan(change("acme", 10, 25)), {})
    [newest] = parse_trailers(new).decisions
    assert latest_decisions([new, old, "unrelated"]) == {("receipts", "acme"): newest.id}
