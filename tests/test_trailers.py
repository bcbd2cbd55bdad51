"""bot/trailers.py: ids, messages and parsing, with plain values."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from bot.decide import Action, Decision, Kind, Plan
from bot.trailers import (
    commit_message,
    decision_id,
    latest_decisions,
    parse_trailers,
    read_trailers,
    revert_trailer_lines,
    trailer_block,
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
    assert latest_decisions(map(parse_trailers, [new, old, "unrelated"])) == {
        ("receipts", "acme"): newest.id
    }


def test_the_evidence_is_a_trailer_of_its_own() -> None:
    message = commit_message(plan(change("acme", 10, 25), change("initech", 25, 10)), {})
    trailers = parse_trailers(message)
    acme, initech = trailers.decisions
    assert trailers.evidence == {
        acme.id: change("acme", 10, 25).reasons[:2],
        initech.id: change("initech", 25, 10).reasons[:2],
    }
    assert all(trailers.evidence.values())
    # Read from the trailers alone: the sentences above them may say anything.
    [paragraph] = [p for p in message.split("\n\n") if p.startswith("- ")]
    assert parse_trailers(message.replace(paragraph, "Two changes.")) == trailers


def test_evidence_that_does_not_parse_is_left_out() -> None:
    lines = (
        ("Rampbot-Evidence", 'aaaaaaaaaaaa ["one", 2]'),
        ("Rampbot-Evidence", "bbbbbbbbbbbb [unquoted]"),
        ("Rampbot-Evidence", 'not-an-id ["x"]'),
        ("Rampbot-Evidence", 'cccccccccccc ["kept: yes", "ünïcode"]'),
    )
    assert read_trailers(lines).evidence == {"cccccccccccc": ("kept: yes", "ünïcode")}


MESSAGES = {
    "subject only": "Rampbot-Decision: 0123456789ab receipts/acme 10->25 up\n",
    "in the body, prose after": (
        "Ramp\n\nRampbot-Decision: 0123456789ab receipts/acme 10->25 up\n\nLooks good.\n"
    ),
    "in the body and in the block": (
        "Ramp\n\nRampbot-Decision: 111111111111 receipts/acme 1->5 up\nmore prose\n\n"
        "Rampbot-Decision: 0123456789ab receipts/acme 10->25 up\n"
    ),
    "block with a continuation line": (
        "Ramp\n\nbody\n\nRampbot-Decision: 0123456789ab receipts/acme\n  10->25 up\n"
        "Co-authored-by: Pat <pat@example.com>\n"
    ),
    "mixed block with a Signed-off-by": (
        "Ramp\n\nRampbot-Decision: 0123456789ab receipts/acme 10->25 up\nsome words\n"
        "Signed-off-by: Pat <pat@example.com>\n"
    ),
    "mixed block without a line git writes": (
        "Ramp\n\nRampbot-Decision: 0123456789ab receipts/acme 10->25 up\nsome words\n"
    ),
    "spaces before the colon, blank lines after": (
        "Ramp\n\nRampbot-Parent : receipts/acme=0123456789ab\n\n\n"
    ),
    "a URL line": "Ramp\n\nhttps://example.com/x\n",
    "a revert by rampbot": (
        "Revert #7: Ramp receipts\n\nThis reverts merge commit abc of #7.\n\n"
        "Rampbot-Reverts: 0123456789ab receipts/acme 10->25 up\n"
    ),
    "written by commit_message": commit_message(
        plan(change("acme", 10, 25), change("initech", 25, 10, Action.ROLLBACK)),
        {("receipts", "acme"): "aaaaaaaaaaaa"},
        redacted={"email": 1},
    ),
}


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
def test_trailer_block_reads_what_git_reads(message: str) -> None:
    """The pure reader and git's own parser (which the adapter uses) agree."""
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_git = tuple(tuple(line.split(": ", 1)) for line in parsed.splitlines())
    assert trailer_block(message) == by_git


def test_only_the_trailer_block_is_read() -> None:
    assert parse_trailers(MESSAGES["in the body, prose after"]).decisions == ()
    assert parse_trailers(MESSAGES["mixed block without a line git writes"]).decisions == ()
    [decision] = parse_trailers(MESSAGES["in the body and in the block"]).decisions
    assert decision.id == "0123456789ab"
    [decision] = parse_trailers(MESSAGES["block with a continuation line"]).decisions
    assert (decision.from_pct, decision.to_pct) == (10, 25)
