"""Carrying out steps (bot/commands/branches.py) against the in-memory GitHub: only what
ramp_pr decided happens, and GitHub's answers on the way are judged by ramp_pr."""

from __future__ import annotations

import pytest

from bot import git as gitrepo
from bot.commands.branches import carry_out
from bot.commands.context import Context
from bot.ramp_pr import (
    Done,
    Edit,
    NewPullRequest,
    StatusUpdate,
    Steps,
)
from tests.fake_github import FakeGitHub

BRANCH = "rampbot/rollback"
WANTED = NewPullRequest(
    base="main", title="Roll back receipts for acme", body="why", labels=("rampbot", "rollback")
)


def context(github: FakeGitHub) -> Context:
    # No push in these steps: the repository is never touched.
    return Context(
        repo=None,
        remote=None,
        identity=gitrepo.Identity(name="rampbot", email="rampbot@example.invalid"),
        github=github,
        dry_run=False,
    )


def opening(**fields: object) -> Steps:
    values: dict[str, object] = {
        "branch": BRANCH,
        "summary": f"{BRANCH}: open a pull request",
        "open": WANTED,
        "statuses": (StatusUpdate("c" * 40, "success", "plan stands"),),
    }
    return Steps(**{**values, **fields})  # type: ignore[arg-type]


def test_opening_a_pull_request_labels_it_and_sets_the_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    github = FakeGitHub()
    assert carry_out(context(github), github, opening()) == Done(1)
    assert github.pulls[1].labels == ("rampbot", "rollback")
    assert github.statuses["c" * 40].state == "success"
    assert capsys.readouterr().out == f"{BRANCH}: open a pull request\n"


def test_a_pull_request_opened_meanwhile_is_updated_instead(
    capsys: pytest.CaptureFixture[str],
) -> None:
    github = FakeGitHub()
    theirs = github.add_pull(BRANCH, title="Roll back receipts for acme", labels=("rampbot",))
    del github.pulls[theirs.number]
    github.opened_meanwhile = theirs
    assert carry_out(context(github), github, opening()) == Done(theirs.number)
    # Only what differs: the body and the missing label; the title was right.
    assert github.calls[:3] == ["open rampbot/rollback", "list main", f"update #{theirs.number}"]
    assert github.pulls[theirs.number].labels == ("rampbot", "rollback")
    assert github.pulls[theirs.number].body == "why"
    assert f"{BRANCH}: #{theirs.number} was opened meanwhile; updating it instead" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("mergeable_state", "merged", "said"),
    [
        ("clean", True, "#1 merged (nothing to wait for)"),
        ("blocked", False, "#1 will merge itself once its checks pass (auto-merge)"),
        ("unknown", False, "#1 will merge itself once its checks pass (auto-merge)"),
    ],
)
def test_a_rollback_merges_now_or_on_green_as_github_reports_its_state(
    mergeable_state: str, merged: bool, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    github = FakeGitHub(merge_states={1: mergeable_state})
    done = carry_out(context(github), github, opening(merge=True))
    assert done == Done(1, merged=merged)
    assert (1 in github.auto_merge) is not merged
    # The merge comes before the status: GitHub refuses auto-merge once every check passed.
    assert github.calls.index("mergeable? #1") < github.calls.index(f"status {'c' * 7} success")
    assert f"{BRANCH}: {said}" in capsys.readouterr().out


def test_a_refused_merge_is_said_and_the_run_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    github = FakeGitHub(
        merge_states={1: "clean"}, refuse_merge="GitHub: could not merge #1: 405 not mergeable"
    )
    assert carry_out(context(github), github, opening(merge=True)) == Done(1)
    assert github.statuses["c" * 40].state == "success"
    assert (
        f"{BRANCH}: auto-merge not enabled on #1: GitHub: could not merge #1: 405 not mergeable"
        in capsys.readouterr().out
    )


def test_closing_comments_sets_the_status_then_closes() -> None:
    github = FakeGitHub()
    pull = github.add_pull(BRANCH)
    steps = Steps(
        branch=BRANCH,
        summary="close",
        number=pull.number,
        comments=("Closing: nothing to roll back",),
        close=True,
        merge=True,  # never on a pull request being closed
        statuses=(StatusUpdate(pull.head_sha, "failure", "plan no longer stands"),),
    )
    assert carry_out(context(github), github, steps) == Done(None)
    assert github.calls == [
        f"comment #{pull.number}",
        f"status {pull.head_sha[:7]} failure",
        f"close #{pull.number}",
    ]
    assert github.pulls[pull.number].state == "closed"


def test_an_edit_and_a_status_comment_reach_the_pull_request() -> None:
    github = FakeGitHub()
    pull = github.add_pull(BRANCH, title="old")
    steps = Steps(
        branch=BRANCH,
        summary="update",
        number=pull.number,
        edit=Edit(title="new", add_labels=("rollback",)),
        statuses=(StatusUpdate(pull.head_sha, "failure", "left alone", comment="told once"),),
    )
    carry_out(context(github), github, steps)
    assert (github.pulls[pull.number].title, github.pulls[pull.number].labels) == (
        "new",
        ("rollback",),
    )
    assert github.comments[pull.number] == ["told once"]


def test_nothing_decided_is_nothing_done() -> None:
    github = FakeGitHub()
    steps = Steps(branch=BRANCH, summary=f"{BRANCH}: nothing to change")
    assert carry_out(context(github), github, steps) == Done(None)
    assert github.calls == []
