"""bot/ramp_pr.py with plain values: branch and pull request states in, steps out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.decide import Plan, decide
from bot.policy import PullRequestSettings
from bot.ramp_pr import (
    RAMP_BRANCH,
    ROLLBACK_BRANCH,
    STATUS_DESCRIPTION_LIMIT,
    BranchState,
    CommitStatus,
    Done,
    Edit,
    Merge,
    NewCommit,
    NewPullRequest,
    Proposal,
    PullRequest,
    StatusUpdate,
    Steps,
    branch_revisions,
    build_proposal,
    edit_for,
    merge_method,
    next_steps,
    split,
    status_description,
    status_text,
    up_to_date,
    why_nothing,
)
from tests import builders

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
BASE_SHA = "b" * 40
OLD_SHA = "0" * 40
REMOTE_SHA = "r" * 40
PR_HEAD = "h" * 40
FLAGS = {
    "version": "flags-v1",
    "revision": 3,
    "features": {"receipts": {"pct": 0, "tenants": {"acme": {"pct": 10}, "globex": {"pct": 5}}}},
}


def plan_for(acme: dict[str, float], globex: dict[str, float]) -> Plan:
    return decide(
        builders.policy(),
        builders.flags(FLAGS),
        builders.health({"acme": acme, "globex": globex}),
        now=NOW,
        last_change={},
    )


# acme rolls back (critical divergence), globex steps up: both branches have work.
BOTH = plan_for({**builders.GREEN, "divergence": 3.0}, builders.GREEN)
# Only globex steps up.
RAMP_ONLY = plan_for(builders.GREEN, builders.GREEN)


def proposal(
    branch: str, plan: Plan = BOTH, *, auto_merge: bool = False, labels: tuple[str, ...] = ()
) -> Proposal:
    part = split(plan)[branch]
    assert part is not None
    return build_proposal(
        branch,
        part,
        flags=builders.flags(FLAGS),
        settings=PullRequestSettings(
            labels=labels, reviewers=("alice",), auto_merge_rollback=auto_merge
        ),
        base="main",
        base_sha=BASE_SHA,
        path="flags.json",
        revision=branch_revisions(3, split(plan))[branch],
        parents={},
    )


def pull_like(wanted: Proposal, **fields: object) -> PullRequest:
    values: dict[str, object] = {
        "number": 7,
        "title": wanted.title,
        "body": wanted.body,
        "labels": wanted.labels,
        "head_ref": wanted.branch,
        "head_sha": PR_HEAD,
        "base_ref": "main",
        "url": "https://github.test/acme/flags/pull/7",
        "head_repo": "acme/flags",
    }
    return PullRequest(**{**values, **fields})  # type: ignore[arg-type]


def on_branch(wanted: Proposal, pull: PullRequest | None = None, **fields: object) -> BranchState:
    """The branch already carries the proposal on the latest base."""
    values: dict[str, object] = {
        "pull_request": pull,
        "remote_sha": REMOTE_SHA,
        "parents": (BASE_SHA,),
        "flags_text": wanted.new_text,
        "parent_flags_text": json.dumps(FLAGS),
    }
    return BranchState(**{**values, **fields})  # type: ignore[arg-type]


NO_BRANCH = BranchState(pull_request=None, remote_sha=None)
RAMP = proposal(RAMP_BRANCH)
ROLLBACK = proposal(ROLLBACK_BRANCH)
STANDS = status_text(RAMP.plan)


def pushed(wanted: Proposal, replaces: str | None) -> NewCommit:
    return NewCommit(
        parent=BASE_SHA,
        path="flags.json",
        text=wanted.new_text,
        message=wanted.message,
        replaces=replaces,
    )


def opened(wanted: Proposal) -> NewPullRequest:
    return NewPullRequest(
        base="main",
        title=wanted.title,
        body=wanted.body,
        labels=wanted.labels,
        reviewers=("alice",),
    )


STALE_PULL = pull_like(RAMP, title="an older plan", body="older", labels=("rampbot",))
CASES = {
    "no branch, no pull request: push and open": (
        NO_BRANCH,
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: open a pull request: {RAMP.title}",
            push=pushed(RAMP, None),
            open=opened(RAMP),
            statuses=(StatusUpdate(None, "success", STANDS),),
        ),
    ),
    "branch up to date without a pull request: open it, no push": (
        on_branch(RAMP),
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: open a pull request: {RAMP.title}",
            open=opened(RAMP),
            statuses=(StatusUpdate(REMOTE_SHA, "success", STANDS),),
        ),
    ),
    "branch on an older base: push over it": (
        on_branch(RAMP, parents=(OLD_SHA,)),
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: open a pull request: {RAMP.title}",
            push=pushed(RAMP, REMOTE_SHA),
            open=opened(RAMP),
            statuses=(StatusUpdate(None, "success", STANDS),),
        ),
    ),
    "an open pull request on another plan: push, edit, supersede its status": (
        on_branch(RAMP, STALE_PULL, flags_text="{}"),
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: update #7: {RAMP.title}",
            number=7,
            push=pushed(RAMP, REMOTE_SHA),
            edit=Edit(title=RAMP.title, body=RAMP.body, add_labels=RAMP.labels[1:]),
            statuses=(
                StatusUpdate(
                    PR_HEAD, "failure", "superseded: the plan changed; rampbot pushed a new commit"
                ),
                StatusUpdate(None, "success", STANDS),
            ),
        ),
    ),
    "up to date, status missing: set it": (
        on_branch(RAMP, pull_like(RAMP)),
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: #7 is up to date",
            number=7,
            statuses=(StatusUpdate(PR_HEAD, "success", STANDS),),
        ),
    ),
    "up to date, status set: nothing at all": (
        on_branch(RAMP, pull_like(RAMP), head_status=CommitStatus("success", STANDS)),
        Steps(branch=RAMP_BRANCH, summary=f"{RAMP_BRANCH}: #7 is up to date", number=7),
    ),
    "up to date, another status: set ours again": (
        on_branch(RAMP, pull_like(RAMP), head_status=CommitStatus("failure", STANDS)),
        Steps(
            branch=RAMP_BRANCH,
            summary=f"{RAMP_BRANCH}: #7 is up to date",
            number=7,
            statuses=(StatusUpdate(PR_HEAD, "success", STANDS),),
        ),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_steps_for_a_state_of_the_ramp_branch(case: str) -> None:
    state, expected = CASES[case]
    assert next_steps(RAMP_BRANCH, plan=RAMP_ONLY, proposal=RAMP, state=state) == replace(
        expected, summary=expected.summary
    )


def test_nothing_to_change_and_no_pull_request_is_nothing_to_do() -> None:
    steps = next_steps(ROLLBACK_BRANCH, plan=RAMP_ONLY, proposal=None, state=NO_BRANCH)
    assert steps == Steps(branch=ROLLBACK_BRANCH, summary=f"{ROLLBACK_BRANCH}: nothing to change")


def test_a_pull_request_the_plan_no_longer_wants_is_closed_with_the_reason() -> None:
    pull = pull_like(ROLLBACK)
    steps = next_steps(
        ROLLBACK_BRANCH, plan=RAMP_ONLY, proposal=None, state=on_branch(ROLLBACK, pull)
    )
    why = why_nothing(ROLLBACK_BRANCH, RAMP_ONLY)
    assert why.startswith("the plan at 2026-11-26T09:30:00+00:00 rolls back no tenant (")
    assert steps == Steps(
        branch=ROLLBACK_BRANCH,
        summary=f"{ROLLBACK_BRANCH}: nothing to change; close #7",
        number=7,
        comments=(f"Closing: {why}",),
        close=True,
        statuses=(StatusUpdate(PR_HEAD, "failure", f"plan no longer stands: {why}"),),
    )


@pytest.mark.parametrize("auto_merge", [True, False])
def test_only_a_new_rollback_asks_to_merge_and_only_when_the_policy_says_so(
    auto_merge: bool,
) -> None:
    rollback = proposal(ROLLBACK_BRANCH, auto_merge=auto_merge)
    ramp = proposal(RAMP_BRANCH, auto_merge=auto_merge)
    assert next_steps(ROLLBACK_BRANCH, plan=BOTH, proposal=rollback, state=NO_BRANCH).merge is (
        auto_merge
    )
    assert next_steps(RAMP_BRANCH, plan=BOTH, proposal=ramp, state=NO_BRANCH).merge is False
    existing = on_branch(rollback, pull_like(rollback))
    assert next_steps(ROLLBACK_BRANCH, plan=BOTH, proposal=rollback, state=existing).merge is False


def test_a_branch_with_someone_elses_commits_is_left_to_them() -> None:
    pull = pull_like(RAMP)
    state = on_branch(RAMP, pull, foreign=("abc1234 by Dana",))
    steps = next_steps(RAMP_BRANCH, plan=RAMP_ONLY, proposal=RAMP, state=state)
    assert (
        steps.summary == f"{RAMP_BRANCH}: left #7 alone: commits by someone else (abc1234 by Dana)"
    )
    assert (steps.push, steps.open, steps.edit, steps.close) == (None, None, Edit(), False)
    [status] = steps.statuses
    assert (status.sha, status.state) == (PR_HEAD, "failure")
    assert status.comment is not None
    # str.capitalize lowers the rest of the sentence, the title too: kept as the run shows it.
    assert "The plan now: " + RAMP.title.lower() in status.comment
    # Said once: with the status already there, neither the status nor its comment again.
    again = replace(state, head_status=CommitStatus(status.state, status.description))
    assert next_steps(RAMP_BRANCH, plan=RAMP_ONLY, proposal=RAMP, state=again).statuses == ()
    alone = next_steps(
        RAMP_BRANCH, plan=RAMP_ONLY, proposal=None, state=replace(state, pull_request=None)
    )
    assert alone.summary.startswith(
        f"{RAMP_BRANCH}: left alone: it has commits not made by rampbot"
    )
    assert alone == Steps(branch=RAMP_BRANCH, summary=alone.summary)


def test_the_ramp_branch_waits_for_the_next_run_once_the_rollback_merged() -> None:
    ramp = proposal(RAMP_BRANCH)
    state = on_branch(ramp, pull_like(ramp, number=3))
    merged = next_steps(
        RAMP_BRANCH, plan=BOTH, proposal=ramp, state=state, rollback=Done(9, merged=True)
    )
    assert merged == Steps(
        branch=RAMP_BRANCH,
        summary=f"{RAMP_BRANCH}: left for the next run: #9 merged into main after this plan was made",
        number=3,
    )
    open_rollback = next_steps(RAMP_BRANCH, plan=BOTH, proposal=ramp, state=state, rollback=Done(9))
    assert open_rollback.summary == f"{RAMP_BRANCH}: #3 is up to date"


def test_a_ramp_pull_request_whose_step_up_a_rollback_replaces_is_told_so() -> None:
    ramp = proposal(RAMP_BRANCH)
    # The open ramp pull request steps acme up from 10 to 25; the plan now rolls acme back.
    stepped = json.loads(json.dumps(FLAGS))
    stepped["features"]["receipts"]["tenants"]["acme"]["pct"] = 25
    state = on_branch(ramp, pull_like(ramp), flags_text=json.dumps(stepped))
    steps = next_steps(RAMP_BRANCH, plan=BOTH, proposal=ramp, state=state, rollback=Done(9))
    assert steps.comments[-1] == (
        "Superseded by a rollback in #9: receipts for acme rolls back instead of stepping up, "
        "so this pull request no longer steps it up."
    )
    # Without a rollback in the plan, or when the branch stepped up someone else: no comment.
    assert next_steps(RAMP_BRANCH, plan=RAMP_ONLY, proposal=RAMP, state=state).comments == ()
    unrelated = replace(state, flags_text=json.dumps(FLAGS))
    assert next_steps(RAMP_BRANCH, plan=BOTH, proposal=ramp, state=unrelated).comments == ()


@pytest.mark.parametrize(
    ("state", "method"),
    [
        ("clean", Merge.NOW),
        ("has_hooks", Merge.NOW),
        ("unstable", Merge.NOW),
        ("CLEAN", Merge.NOW),
        ("blocked", Merge.AUTO),
        ("behind", Merge.AUTO),
        ("unknown", Merge.AUTO),
        ("dirty", Merge.AUTO),
        ("draft", Merge.AUTO),
    ],
)
def test_merge_now_only_when_github_reports_nothing_to_wait_for(state: str, method: Merge) -> None:
    assert merge_method(state) is method


def test_an_edit_changes_only_what_differs() -> None:
    wanted = opened(RAMP)
    assert edit_for(wanted, pull_like(RAMP)) == Edit()
    assert not Edit().changes
    assert edit_for(wanted, pull_like(RAMP, title="x", labels=())) == Edit(
        title=RAMP.title, add_labels=RAMP.labels
    )
    # Only the body's fingerprint counts: the time it was rendered at does not.
    assert edit_for(wanted, pull_like(RAMP, body="someone's text")).body == RAMP.body


def test_up_to_date_needs_the_latest_base_and_the_planned_file() -> None:
    assert up_to_date(RAMP, on_branch(RAMP))
    assert not up_to_date(RAMP, NO_BRANCH)
    assert not up_to_date(RAMP, on_branch(RAMP, parents=(OLD_SHA,)))
    assert not up_to_date(RAMP, on_branch(RAMP, parents=(BASE_SHA, OLD_SHA)))
    assert not up_to_date(RAMP, on_branch(RAMP, flags_text=RAMP.new_text + " "))


def test_a_status_description_fits_githubs_limit() -> None:
    assert status_description("short") == "short"
    exact = "x" * STATUS_DESCRIPTION_LIMIT
    assert status_description(exact) == exact
    cut = status_description("y" * 500)
    assert len(cut) == STATUS_DESCRIPTION_LIMIT
    assert cut.endswith("…")


def test_the_branches_carry_distinct_revisions_when_both_propose() -> None:
    assert branch_revisions(3, split(BOTH)) == {ROLLBACK_BRANCH: 4, RAMP_BRANCH: 5}
    assert branch_revisions(3, split(RAMP_ONLY)) == {ROLLBACK_BRANCH: 4, RAMP_BRANCH: 4}
    assert json.loads(proposal(RAMP_BRANCH).new_text)["revision"] == 5


def test_a_proposal_carries_the_commit_and_the_pull_request() -> None:
    rollback = proposal(ROLLBACK_BRANCH, labels=("flags", "rampbot"))
    assert rollback.labels == ("rampbot", "rollback", "flags")
    assert rollback.rollback
    assert rollback.message.splitlines()[0]
    assert json.loads(rollback.new_text)["features"]["receipts"]["tenants"]["acme"]["pct"] == 5
    assert (rollback.base, rollback.base_sha, rollback.path) == ("main", BASE_SHA, "flags.json")


CLOSED_AT = datetime(2026, 11, 25, 18, 5, tzinfo=UTC)
CLOSED = pull_like(RAMP, number=6, state="closed", author="rampbot[bot]", closed_at=CLOSED_AT)
REFUSED = (
    "#6 was closed by alice on 2026-11-25 18:05 UTC; not proposed again until the plan changes"
)
OPEN_IT = f"{RAMP_BRANCH}: open a pull request: {RAMP.title}"


@pytest.mark.parametrize(
    ("state", "summary"),
    [
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=CLOSED,
                closed_by="alice",
                closed_fingerprint=RAMP.changes_fingerprint,
            ),
            f"{RAMP_BRANCH}: {REFUSED}",
            id="a person closed this very proposal: not again",
        ),
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=replace(CLOSED, closed_at=None),
                closed_by="alice",
                closed_fingerprint=RAMP.changes_fingerprint,
            ),
            f"{RAMP_BRANCH}: #6 was closed by alice on an earlier run; not proposed again until "
            "the plan changes",
            id="closed at an unknown time",
        ),
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=CLOSED,
                closed_by="alice",
                closed_fingerprint="another plan",
            ),
            OPEN_IT,
            id="the plan changed since: propose it",
        ),
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=CLOSED,
                closed_by="rampbot[bot]",
                closed_fingerprint=RAMP.changes_fingerprint,
            ),
            OPEN_IT,
            id="rampbot closed its own: no refusal",
        ),
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=replace(CLOSED, merged=True),
                closed_by="alice",
                closed_fingerprint=RAMP.changes_fingerprint,
            ),
            OPEN_IT,
            id="merged, not refused",
        ),
        pytest.param(
            BranchState(
                pull_request=None,
                remote_sha=None,
                last_closed=CLOSED,
                closed_by=None,
                closed_fingerprint=RAMP.changes_fingerprint,
            ),
            OPEN_IT,
            id="who closed it is unknown: not taken as a refusal",
        ),
    ],
)
def test_a_proposal_a_person_refused_is_not_made_again(state: BranchState, summary: str) -> None:
    steps = next_steps(RAMP_BRANCH, plan=RAMP_ONLY, proposal=RAMP, state=state)
    assert steps.summary == summary
    refused = summary != OPEN_IT
    assert steps.note == (summary.removeprefix(f"{RAMP_BRANCH}: ") if refused else None)
    assert (steps.push is None, steps.open is None) == (refused, refused)
