"""A pull request a person closed without merging means no: not proposed again as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.decide import Action, Decision, Kind, Plan
from bot.metadata import changes_fingerprint
from bot.ramp_pr import (
    RAMP_BRANCH,
    BranchState,
    Proposal,
    PullRequest,
    declined,
    next_steps,
)
from tests.github_double import GitHubDouble
from tests.run_helpers import PULLS, later, open_pulls, run_with, write_health, writes

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

# --- pure: the rule ---------------------------------------------------------------------------


def plan(*changes: tuple[str, int, int, Action]) -> Plan:
    decisions = tuple(
        Decision(tenant, "receipts", before, after, action, Kind.HEALTHY)
        for tenant, before, after, action in changes
    )
    return Plan(decisions=decisions, evaluated_at=NOW, window="30m")


def proposal(part: Plan) -> Proposal:
    return Proposal(
        branch=RAMP_BRANCH,
        plan=part,
        title="Ramp",
        body="",
        labels=("rampbot",),
        new_text="{}",
        base="main",
        base_sha="base",
        path="flags.json",
        message="Ramp",
        changes_fingerprint=changes_fingerprint(part),
    )


def closed(*, merged: bool = False, author: str = "rampbot-bot") -> PullRequest:
    return PullRequest(
        number=12,
        title="Ramp",
        body="",
        labels=(),
        head_ref=RAMP_BRANCH,
        head_sha="abc",
        base_ref="main",
        url="",
        state="closed",
        merged=merged,
        author=author,
        closed_at=datetime(2026, 11, 25, 17, 4, tzinfo=UTC),
    )


STEP = plan(("acme", 10, 25, Action.UP), ("globex", 5, 5, Action.HOLD))


def state(**changes: object) -> BranchState:
    values: dict[str, object] = {
        "pull_request": None,
        "remote_sha": "abc",
        # up to date: one commit on the base with the planned file
        "parents": ("base",),
        "flags_text": "{}",
        "last_closed": closed(),
        "closed_by": "alice",
        "closed_fingerprint": changes_fingerprint(STEP),
    }
    values.update(changes)
    return BranchState(**values)  # type: ignore[arg-type]


def steps_for(part: Plan, branch_state: BranchState):
    return next_steps(RAMP_BRANCH, plan=part, proposal=proposal(part), state=branch_state)


def test_the_same_proposal_closed_by_a_person_is_not_opened_again():
    steps = steps_for(STEP, state())
    assert not steps.open
    assert not steps.push
    assert steps.note == (
        "#12 was closed by alice on 2026-11-25 17:04 UTC; not proposed again until the plan changes"
    )


@pytest.mark.parametrize(
    ("why", "branch_state"),
    [
        ("merged, not refused", state(last_closed=closed(merged=True))),
        ("rampbot closed its own", state(closed_by="rampbot-bot")),
        ("it proposed something else", state(closed_fingerprint="sha256:other")),
        ("nothing closed", state(last_closed=None)),
    ],
)
def test_other_closed_pull_requests_do_not_hold_a_proposal_back(why, branch_state):
    assert declined(branch_state, proposal(STEP)) is None, why
    assert steps_for(STEP, branch_state).open, why


def test_another_plan_or_other_evidence_is_a_new_proposal():
    other_step = plan(("acme", 10, 25, Action.UP), ("globex", 5, 10, Action.UP))
    assert steps_for(other_step, state()).open
    # The hold of globex is no change: the same changes, the same fingerprint.
    same = plan(("acme", 10, 25, Action.UP))
    assert changes_fingerprint(same) == changes_fingerprint(STEP)
    # Measured values and the evaluation time are not part of it; breached signals are.
    later_plan = Plan(
        decisions=STEP.decisions, evaluated_at=datetime(2027, 1, 1, tzinfo=UTC), window="1h"
    )
    assert changes_fingerprint(later_plan) == changes_fingerprint(STEP)


# --- against the GitHub double ----------------------------------------------------------------


def test_a_ramp_pull_request_closed_by_a_person_waits_for_the_plan_to_change(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    health = write_health(tmp_path / "health.json")
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    github_double.close(pull.number, login="alice")

    summary = tmp_path / "summary.md"
    env = {**github_env, "GITHUB_STEP_SUMMARY": str(summary)}
    github_double.reset_log()
    code, out = run_with(env, health, now=later(hours=1, minutes=30), capsys=capsys)
    assert code == 0, out
    assert open_pulls(github_double) == []
    # Nothing pushed, opened or labelled; only the dashboard shows that #1 is gone.
    assert [line for line in writes(github_double) if "/issues/2 " not in line] == []
    note = f"#{pull.number} was closed by alice on "
    assert f"rampbot/ramp: {note}" in out
    assert "not proposed again until the plan changes" in out
    text = summary.read_text()
    assert text.startswith("### Notes\n\n- rampbot/ramp: #")
    assert "was closed by alice on " in text
    # One request for the branch's last closed pull request, one for who closed it.
    assert github_double.count("GET", PULLS) == 2
    assert github_double.count("GET", f"/repos/acme/flags/issues/{pull.number}") == 1

    # The plan changes (globex breaches): a new proposal, a new pull request.
    worse = write_health(tmp_path / "worse.json", globex={"coverage": 90.0})
    assert run_with(github_env, worse, now=later(hours=1, minutes=40))[0] == 0
    [again] = open_pulls(github_double)
    assert again.number != pull.number


def test_a_closed_rollback_waits_for_new_evidence(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    assert run_with(github_env, red)[0] == 0
    rollback = next(p for p in open_pulls(github_double) if p.head == "rampbot/rollback")
    github_double.close(rollback.number, login="bob")

    code, out = run_with(github_env, red, now=later(hours=1, minutes=10), capsys=capsys)
    assert code == 0
    assert [p.head for p in open_pulls(github_double)] == ["rampbot/ramp"]
    assert f"#{rollback.number} was closed by bob on " in out

    # Another breach of acme (coverage too): new evidence, the rollback is proposed again.
    redder = write_health(tmp_path / "redder.json", acme={"divergence": 3, "coverage": 50.0})
    assert run_with(github_env, redder, now=later(hours=1, minutes=20))[0] == 0
    heads = sorted(p.head for p in open_pulls(github_double))
    assert heads == ["rampbot/ramp", "rampbot/rollback"]


def test_a_pull_request_rampbot_closed_itself_is_proposed_again(
    github_env: dict[str, str], github_double: GitHubDouble, tmp_path: Path
) -> None:
    health = write_health(tmp_path / "health.json")
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    # No data for anyone: nothing to change, rampbot closes its own pull request.
    empty = tmp_path / "empty.json"
    empty.write_text('{"tenants": {}, "alerts": []}', encoding="utf-8")
    assert run_with(github_env, empty, now=later(hours=1, minutes=5))[0] == 0
    assert open_pulls(github_double) == []
    # Health is back, the same plan: rampbot's own close was no refusal.
    assert run_with(github_env, health, now=later(hours=1, minutes=10))[0] == 0
    [again] = open_pulls(github_double)
    assert again.number != pull.number
