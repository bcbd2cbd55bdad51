"""From a plan and the state of the bot's branches and pull requests, what to do on GitHub.

Pure: the shell (bot/commands/main_job.py) reads the state through the git and GitHub adapters,
asks ``next_steps`` what to do, and does it. Two branches, so that a rollback never waits behind
a step-up under review: ``rampbot/ramp`` carries steps up and down, ``rampbot/rollback``
rollbacks. A rollback wins: a tenant rolled back is left out of the ramp branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.decide import Action, Plan
from bot.flags import Flags, apply_changes, set_revision
from bot.metadata import body_fingerprint, changes_fingerprint
from bot.render import pull_request_body, pull_request_title

RAMP_BRANCH = "rampbot/ramp"
ROLLBACK_BRANCH = "rampbot/rollback"
LABEL = "rampbot"
ROLLBACK_LABEL = "rollback"

_BRANCH_ACTIONS = {
    RAMP_BRANCH: (Action.UP, Action.DOWN),
    ROLLBACK_BRANCH: (Action.ROLLBACK,),
}


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    head_ref: str
    head_sha: str
    base_ref: str
    url: str
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    head_repo: str = ""  # OWNER/NAME the head branch lives in; another one for a fork's
    author: str = ""  # the login that opened it
    closed_at: datetime | None = None

    def from_branch(self, branch: str, *, repository: str) -> bool:
        """Whether the head is ``branch`` of ``repository``: a fork's same-named branch is not."""
        return self.head_ref == branch and self.head_repo == repository


@dataclass(frozen=True)
class CommitStatus:
    state: str  # success, failure, pending, error
    description: str


@dataclass(frozen=True)
class Proposal:
    """The pull request one branch should be: its plan, title, body and labels."""

    branch: str
    plan: Plan
    title: str
    body: str
    fingerprint: str  # of the body, ignoring what changes on every run
    labels: tuple[str, ...]
    new_text: str  # the flags file on the branch
    changes_fingerprint: str = ""  # the changes and their evidence (metadata.changes_fingerprint)

    @property
    def rollback(self) -> bool:
        return self.branch == ROLLBACK_BRANCH


@dataclass(frozen=True)
class BranchState:
    """What git and GitHub say about one bot branch now."""

    pull_request: PullRequest | None
    body_fingerprint: str | None  # of the open pull request's body
    remote_sha: str | None
    up_to_date: bool  # the branch is one commit on the latest base with the planned file
    foreign: tuple[str, ...] = ()  # commits on the branch by someone else: "abc1234 by Name"
    # With no open pull request: the branch's latest closed one, who closed it, and the
    # changes_fingerprint its body stored (None when the shell did not need to ask).
    last_closed: PullRequest | None = None
    closed_by: str | None = None
    closed_fingerprint: str | None = None


def declined(state: BranchState, proposal: Proposal) -> PullRequest | None:
    """The closed pull request that said no to this very proposal, if a person closed one.

    Closed without merging, by someone other than its author (rampbot closes its own pull
    requests when nothing is left to change, which is no refusal), proposing the same changes
    on the same evidence.
    """
    closed = state.last_closed
    if closed is None or closed.merged or state.pull_request is not None:
        return None
    if state.closed_by is None or state.closed_by == closed.author:
        return None
    if state.closed_fingerprint != proposal.changes_fingerprint:
        return None
    return closed


def declined_note(closed: PullRequest, closed_by: str) -> str:
    """The job summary's line about a proposal a person refused."""
    when = (
        closed.closed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if closed.closed_at
        else "an earlier run"
    )
    return (
        f"#{closed.number} was closed by {closed_by} on {when}; not proposed again until the "
        "plan changes"
    )


@dataclass(frozen=True)
class StatusUpdate:
    """Set the ``rampbot`` commit status; sha None means the head rampbot is about to push."""

    sha: str | None
    state: str
    description: str
    only_if_changed: bool = False
    comment: str | None = None  # posted with the status, only when the status is set


@dataclass(frozen=True)
class Steps:
    branch: str
    summary: str  # what happens, in a line, for the log
    push: bool = False
    open: bool = False
    title: str | None = None  # a new title for the open pull request
    body: str | None = None
    add_labels: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    close: bool = False
    statuses: tuple[StatusUpdate, ...] = ()
    auto_merge: bool = False
    note: str | None = None  # for the job summary: why nothing was proposed


def split(plan: Plan) -> dict[str, Plan | None]:
    """The part of the plan each branch carries; None where a branch has nothing to change.

    Each part keeps the decisions that change nothing, so its body still shows every tenant.
    """
    parts: dict[str, Plan | None] = {}
    for branch, actions in _BRANCH_ACTIONS.items():
        decisions = tuple(
            decision
            for decision in plan.decisions
            if not decision.changed or decision.action in actions
        )
        part = replace(plan, decisions=decisions)
        parts[branch] = part if part.changed else None
    return parts


def labels_for(branch: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of a bot pull request: ``rampbot``, ``rollback`` for rollbacks, the policy's."""
    wanted = [LABEL, *([ROLLBACK_LABEL] if branch == ROLLBACK_BRANCH else []), *extra]
    return tuple(dict.fromkeys(wanted))


def next_steps(
    branch: str,
    *,
    proposal: Proposal | None,
    state: BranchState,
    why_nothing: str,
    status_text: str,
    auto_merge: bool = False,
) -> Steps:
    """What to do on one branch. ``why_nothing`` says why there is nothing to change."""
    pull = state.pull_request
    if state.foreign:
        return _leave_to_person(branch, proposal=proposal, state=state)
    if proposal is None:
        if pull is None:
            return Steps(branch=branch, summary=f"{branch}: nothing to change")
        return Steps(
            branch=branch,
            summary=f"{branch}: nothing to change; close #{pull.number}",
            comments=(f"Closing: {why_nothing}",),
            close=True,
            statuses=(
                StatusUpdate(pull.head_sha, "failure", f"plan no longer stands: {why_nothing}"),
            ),
        )
    refused = declined(state, proposal)
    if refused is not None:
        assert state.closed_by is not None
        note = declined_note(refused, state.closed_by)
        return Steps(branch=branch, summary=f"{branch}: {note}", note=note)
    push = not state.up_to_date
    if pull is None:
        return Steps(
            branch=branch,
            summary=f"{branch}: open a pull request: {proposal.title}",
            push=push,
            open=True,
            statuses=(StatusUpdate(None if push else state.remote_sha, "success", status_text),),
            auto_merge=auto_merge and proposal.rollback,
        )
    title = proposal.title if proposal.title != pull.title else None
    body = proposal.body if proposal.fingerprint != state.body_fingerprint else None
    add_labels = tuple(label for label in proposal.labels if label not in pull.labels)
    statuses: list[StatusUpdate] = []
    if push:
        statuses.append(
            StatusUpdate(
                pull.head_sha,
                "failure",
                "superseded: the plan changed; rampbot pushed a new commit",
            )
        )
        statuses.append(StatusUpdate(None, "success", status_text))
    else:
        statuses.append(StatusUpdate(pull.head_sha, "success", status_text, only_if_changed=True))
    changed = push or title is not None or body is not None or add_labels
    return Steps(
        branch=branch,
        summary=(
            f"{branch}: update #{pull.number}: {proposal.title}"
            if changed
            else f"{branch}: #{pull.number} is up to date"
        ),
        push=push,
        title=title,
        body=body,
        add_labels=add_labels,
        statuses=tuple(statuses),
    )


def _leave_to_person(branch: str, *, proposal: Proposal | None, state: BranchState) -> Steps:
    pull = state.pull_request
    who = "; ".join(state.foreign)
    if pull is None:
        return Steps(
            branch=branch,
            summary=(
                f"{branch}: left alone: it has commits not made by rampbot ({who}) and no open "
                "pull request; delete the branch to let rampbot use it again"
            ),
        )
    plan_now = f"the plan now: {proposal.title}" if proposal else "the plan now changes nothing"
    comment = (
        f"rampbot stopped updating this branch: it has commits not made by rampbot ({who}). "
        f"It will not overwrite them. {plan_now.capitalize()}. Merge or close this pull request "
        "yourself; once it is closed and the branch deleted, rampbot opens a fresh one."
    )
    return Steps(
        branch=branch,
        summary=f"{branch}: left #{pull.number} alone: commits by someone else ({who})",
        statuses=(
            StatusUpdate(
                pull.head_sha,
                "failure",
                "rampbot left this branch alone: it has commits not made by rampbot",
                only_if_changed=True,
                comment=comment,
            ),
        ),
    )


def branch_revisions(base: int, parts: Mapping[str, Plan | None]) -> dict[str, int]:
    """The flags ``revision`` each branch carries: one above the base's, two for the ramp
    branch when a rollback is proposed too.

    Two branches at the same revision would both merge cleanly (their revision lines change
    alike) and leave a revision published twice with different content, which rampbot publish
    refuses. Distinct revisions make the second merge conflict until a run rebuilds it.
    """
    both = parts.get(ROLLBACK_BRANCH) is not None and parts.get(RAMP_BRANCH) is not None
    return {ROLLBACK_BRANCH: base + 1, RAMP_BRANCH: base + (2 if both else 1)}


def build_proposal(
    branch: str,
    part: Plan,
    *,
    flags: Flags,
    extra_labels: tuple[str, ...],
    base_sha: str,
    revision: int,
) -> Proposal:
    """The pull request for one branch: title, body, labels, and the flags file it carries."""
    changed = apply_changes(flags, part.flag_changes()).text  # schema-checked
    new_text = set_revision(changed, revision)
    body = pull_request_body(part, base_commit=base_sha)
    return Proposal(
        branch=branch,
        plan=part,
        title=pull_request_title(part),
        body=body,
        fingerprint=body_fingerprint(body),
        labels=labels_for(branch, extra_labels),
        new_text=new_text,
        changes_fingerprint=changes_fingerprint(part),
    )
