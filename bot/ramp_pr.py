"""What to do on GitHub with each bot branch and its pull request, from the plan and what the
branches and pull requests look like now.

Pure: the shell (bot/commands/main_job.py for a run, bot/commands/alert_worker.py for an alert)
reads the state first (branch heads, the flags file on them, the open pull requests, their
statuses) into ``BranchState`` values, ``next_steps`` returns the ``Steps`` for one branch, and
bot/commands/branches.py only carries them out. Two answers
GitHub gives on the way are judged here too: a pull request someone opened meanwhile
(``edit_for``) and whether a rollback merges now or once its checks pass (``merge_method``).

Two branches, so that a rollback never waits behind a step-up under review: ``rampbot/ramp``
carries steps up and down, ``rampbot/rollback`` rollbacks. A rollback wins: a tenant rolled back
is left out of the ramp branch, and an open ramp pull request whose step-up a rollback replaces
is told so.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.decide import Action, Kind, Plan
from bot.flags import Flags, apply_changes, set_revision
from bot.last_change import effective_percentages
from bot.metadata import body_fingerprint, changes_fingerprint
from bot.policy import PullRequestSettings
from bot.redact import markers_in, redactor_for
from bot.render import pull_request_body, pull_request_title, summary_line
from bot.trailers import Pair, commit_message

RAMP_BRANCH = "rampbot/ramp"
ROLLBACK_BRANCH = "rampbot/rollback"
LABEL = "rampbot"
ROLLBACK_LABEL = "rollback"
STATUS_DESCRIPTION_LIMIT = 140  # GitHub truncates nothing: a longer description is a 422

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
    """The pull request one branch should be: its plan, title, body, labels, and its commit."""

    branch: str
    plan: Plan
    title: str
    body: str
    labels: tuple[str, ...]
    new_text: str  # the flags file on the branch
    base: str  # the branch the pull request goes into
    base_sha: str  # the commit the branch's one commit sits on
    path: str  # the flags file, relative to the repository's root
    message: str  # of the branch's commit
    changes_fingerprint: str = ""  # the changes and their evidence (metadata.changes_fingerprint)
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    auto_merge: bool = False  # merge without review once nothing is left to wait for

    @property
    def rollback(self) -> bool:
        return self.branch == ROLLBACK_BRANCH


@dataclass(frozen=True)
class BranchState:
    """What git and GitHub say about one bot branch now, read before anything is decided."""

    pull_request: PullRequest | None  # the open one from this repository's branch
    remote_sha: str | None  # the branch's head on the remote; None: no such branch
    parents: tuple[str, ...] = ()  # of remote_sha
    flags_text: str | None = None  # the flags file at remote_sha
    parent_flags_text: str | None = None  # the flags file at remote_sha's first parent
    foreign: tuple[str, ...] = ()  # commits on the branch by someone else: "abc1234 by Name"
    # With no open pull request: the branch's latest closed one, who closed it, and the
    # changes_fingerprint its body stored (None when the shell did not need to ask).
    last_closed: PullRequest | None = None
    closed_by: str | None = None
    closed_fingerprint: str | None = None
    head_status: CommitStatus | None = None  # the rampbot status on the pull request's head


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
class Done:
    """What carrying out one branch's steps left: its pull request, and whether it merged."""

    number: int | None
    merged: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """Set the ``rampbot`` commit status; sha None means the commit rampbot is about to push."""

    sha: str | None
    state: str
    description: str
    comment: str | None = None  # posted with the status


@dataclass(frozen=True)
class NewCommit:
    """The branch's one commit: the flags file on ``parent``, pushed over ``replaces``."""

    parent: str
    path: str
    text: str
    message: str
    replaces: str | None  # the head the push expects to find; None: a new branch


@dataclass(frozen=True)
class NewPullRequest:
    base: str
    title: str
    body: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edit:
    """Changes to an open pull request; None and () leave a field as it is."""

    title: str | None = None
    body: str | None = None
    add_labels: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return self.title is not None or self.body is not None or bool(self.add_labels)


@dataclass(frozen=True)
class Steps:
    """What to do on one branch, in this order: push, open or edit, comment, merge, status,
    close."""

    branch: str
    summary: str  # what happens, in a line, for the log
    number: int | None = None  # the open pull request the steps act on, if there is one already
    push: NewCommit | None = None
    open: NewPullRequest | None = None
    edit: Edit = Edit()
    comments: tuple[str, ...] = ()
    merge: bool = False  # merge now or once the checks pass: ``merge_method`` picks which
    statuses: tuple[StatusUpdate, ...] = ()
    close: bool = False
    note: str | None = None  # for the job summary: why nothing was proposed


class Merge(enum.Enum):
    NOW = "merged (nothing to wait for)"
    AUTO = "will merge itself once its checks pass (auto-merge)"


# GitHub's mergeable_state for a pull request that can be merged at once: auto-merge is refused
# there ("clean status"), so rampbot merges it. Any other state (blocked on a required check,
# behind, still being computed) leaves something to wait for, which auto-merge does.
# https://docs.github.com/en/graphql/reference/enums#mergestatestatus
MERGEABLE_NOW = frozenset({"clean", "has_hooks", "unstable"})


def merge_method(mergeable_state: str) -> Merge:
    """Merge a pull request now, or enable auto-merge, from the mergeable state GitHub reports."""
    return Merge.NOW if mergeable_state.lower() in MERGEABLE_NOW else Merge.AUTO


def split(plan: Plan) -> dict[str, Plan | None]:
    """The part of the plan each branch carries; None where a branch has nothing to change.

    Each part keeps the decisions that change nothing, so its body still shows every tenant.
    A hold marker deleted by a ticked Resume box goes with the ramp branch: on the rollback
    branch that tenant is held as before.
    """
    parts: dict[str, Plan | None] = {}
    for branch, actions in _BRANCH_ACTIONS.items():
        decisions = tuple(
            decision
            for decision in plan.decisions
            if not decision.changed or decision.action in actions
        )
        if branch != RAMP_BRANCH and plan.resumed:
            decisions = tuple(
                d._replace(kind=Kind.HELD) if d.kind is Kind.RESUMED else d for d in decisions
            )
        part = replace(plan, decisions=decisions)
        parts[branch] = part if part.changed else None
    return parts


def labels_for(branch: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of a bot pull request: ``rampbot``, ``rollback`` for rollbacks, the policy's."""
    wanted = [LABEL, *([ROLLBACK_LABEL] if branch == ROLLBACK_BRANCH else []), *extra]
    return tuple(dict.fromkeys(wanted))


def status_description(text: str) -> str:
    """A commit status description GitHub accepts: at most 140 characters."""
    if len(text) <= STATUS_DESCRIPTION_LIMIT:
        return text
    return text[: STATUS_DESCRIPTION_LIMIT - 1] + "…"


def why_nothing(branch: str, plan: Plan) -> str:
    """Why a branch has nothing to change, for the comment that closes its pull request."""
    what = "rolls back no tenant" if branch == ROLLBACK_BRANCH else "steps no tenant up or down"
    return (
        f"the plan at {plan.evaluated_at.isoformat(timespec='seconds')} {what} "
        f"({summary_line(plan) or 'nothing to decide'})"
    )


def status_text(part: Plan | None) -> str:
    """The description of a standing plan's status; no time in it, so that an unchanged plan
    leaves an unchanged status alone."""
    return (
        f"plan stands: {summary_line(part) if part else 'nothing to change'}; "
        "flags file checked against the schema"
    )


def up_to_date(proposal: Proposal, state: BranchState) -> bool:
    """Whether the branch is already one commit on the latest base with the planned file."""
    return (
        state.remote_sha is not None
        and state.parents == (proposal.base_sha,)
        and state.flags_text == proposal.new_text
    )


def edit_for(wanted: NewPullRequest, pull: PullRequest) -> Edit:
    """What to change on an open pull request so that it is the one wanted."""
    return Edit(
        title=wanted.title if wanted.title != pull.title else None,
        body=wanted.body if body_fingerprint(wanted.body) != body_fingerprint(pull.body) else None,
        add_labels=tuple(label for label in wanted.labels if label not in pull.labels),
    )


def next_steps(
    branch: str,
    *,
    plan: Plan,
    proposal: Proposal | None,
    state: BranchState,
    rollback: Done | None = None,
) -> Steps:
    """What to do on one branch. For the ramp branch, ``rollback`` is what the rollback branch
    became in this run (it goes first)."""
    if branch == RAMP_BRANCH and proposal is not None and rollback and rollback.merged:
        # The ramp branch was planned on the old base, which it would now conflict with.
        # Planning again at once would judge the same health, read before the rollback
        # took effect, and roll back again: the next run plans it on the new base instead.
        return Steps(
            branch=branch,
            summary=(
                f"{RAMP_BRANCH}: left for the next run: #{rollback.number} merged into "
                f"{proposal.base} after this plan was made"
            ),
            number=state.pull_request.number if state.pull_request else None,
        )
    if state.foreign:
        return _leave_to_person(branch, proposal=proposal, state=state)
    steps = _steps(branch, plan=plan, proposal=proposal, state=state)
    return _note_superseded(
        steps, plan=plan, state=state, rollback_number=rollback.number if rollback else None
    )


def _steps(branch: str, *, plan: Plan, proposal: Proposal | None, state: BranchState) -> Steps:
    pull = state.pull_request
    number = pull.number if pull else None
    if proposal is None:
        if pull is None:
            return Steps(branch=branch, summary=f"{branch}: nothing to change")
        why = why_nothing(branch, plan)
        return Steps(
            branch=branch,
            summary=f"{branch}: nothing to change; close #{pull.number}",
            number=number,
            comments=(f"Closing: {why}",),
            close=True,
            statuses=(StatusUpdate(pull.head_sha, "failure", f"plan no longer stands: {why}"),),
        )
    refused = declined(state, proposal)
    if refused is not None:
        assert state.closed_by is not None
        note = declined_note(refused, state.closed_by)
        return Steps(branch=branch, summary=f"{branch}: {note}", note=note)
    stands = status_text(proposal.plan)
    push = (
        None
        if up_to_date(proposal, state)
        else NewCommit(
            parent=proposal.base_sha,
            path=proposal.path,
            text=proposal.new_text,
            message=proposal.message,
            replaces=state.remote_sha,
        )
    )
    wanted = NewPullRequest(
        base=proposal.base,
        title=proposal.title,
        body=proposal.body,
        labels=proposal.labels,
        reviewers=proposal.reviewers,
        team_reviewers=proposal.team_reviewers,
    )
    if pull is None:
        return Steps(
            branch=branch,
            summary=f"{branch}: open a pull request: {proposal.title}",
            push=push,
            open=wanted,
            # Before the status: GitHub refuses auto-merge on a pull request whose checks have
            # all passed, and merges it itself once the required status turns green.
            merge=proposal.auto_merge and proposal.rollback,
            statuses=(StatusUpdate(None if push else state.remote_sha, "success", stands),),
        )
    edit = edit_for(wanted, pull)
    if push:
        statuses: tuple[StatusUpdate, ...] = (
            StatusUpdate(
                pull.head_sha,
                "failure",
                "superseded: the plan changed; rampbot pushed a new commit",
            ),
            StatusUpdate(None, "success", stands),
        )
    else:
        statuses = _unless_set(StatusUpdate(pull.head_sha, "success", stands), state=state)
    return Steps(
        branch=branch,
        summary=(
            f"{branch}: update #{pull.number}: {proposal.title}"
            if push or edit.changes
            else f"{branch}: #{pull.number} is up to date"
        ),
        number=number,
        push=push,
        edit=edit,
        statuses=statuses,
    )


def _unless_set(status: StatusUpdate, *, state: BranchState) -> tuple[StatusUpdate, ...]:
    """The status, unless the pull request's head carries it already (then its comment too)."""
    current = state.head_status
    if current is not None and (current.state, current.description) == (
        status.state,
        status_description(status.description),
    ):
        return ()
    return (status,)


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
        number=pull.number,
        statuses=_unless_set(
            StatusUpdate(
                pull.head_sha,
                "failure",
                "rampbot left this branch alone: it has commits not made by rampbot",
                comment=comment,
            ),
            state=state,
        ),
    )


def _note_superseded(
    steps: Steps, *, plan: Plan, state: BranchState, rollback_number: int | None
) -> Steps:
    """Rollback wins: say so on a ramp pull request whose step-up a rollback replaces."""
    rollback = split(plan)[ROLLBACK_BRANCH]
    if (
        steps.branch != RAMP_BRANCH
        or rollback is None
        or state.pull_request is None
        or state.remote_sha is None
    ):
        return steps
    before = effective_percentages(state.parent_flags_text, ())
    after = effective_percentages(state.flags_text, ())
    if before is None or after is None:
        return steps
    stepped_up = {pair for pair, pct in after.items() if pct > before.get(pair, pct)}
    superseded = [
        f"{d.feature} for {d.tenant}"
        for d in rollback.changes
        if (d.feature, d.tenant) in stepped_up
    ]
    if not superseded:
        return steps
    where = f" in #{rollback_number}" if rollback_number else ""
    note = (
        f"Superseded by a rollback{where}: {', '.join(superseded)} rolls back instead of "
        "stepping up, so this pull request no longer steps it up."
    )
    return replace(steps, comments=(*steps.comments, note))


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
    settings: PullRequestSettings,
    base: str,
    base_sha: str,
    path: str,
    revision: int,
    parents: Mapping[Pair, str],
) -> Proposal:
    """The pull request for one branch: title, body, labels, and the commit it carries.

    ``parents`` are the latest decision ids on the base, which the commit's trailers continue.
    """
    changed = apply_changes(flags, part.flag_changes()).text  # schema-checked
    new_text = set_revision(changed, revision)
    # Redacted here as bot.outbound will on the way to GitHub, with the same settings, so that
    # the title compares equal to the one GitHub keeps and the commit can count what was taken.
    redactor = redactor_for(part.redact)
    title = redactor.redact(pull_request_title(part)).text
    body = redactor.redact(pull_request_body(part, base_commit=base_sha)).text
    redacted = markers_in(title + "\n" + body)
    return Proposal(
        branch=branch,
        plan=part,
        title=title,
        body=body,
        labels=labels_for(branch, settings.labels),
        new_text=new_text,
        changes_fingerprint=changes_fingerprint(part),
        base=base,
        base_sha=base_sha,
        path=path,
        message=commit_message(
            part, parents, redacted={kind.value: count for kind, count in redacted.items()}
        ),
        reviewers=settings.reviewers,
        team_reviewers=settings.team_reviewers,
        auto_merge=settings.auto_merge_rollback,
    )
