"""One bot branch and its pull request: what they look like now, and carrying out the steps
bot/ramp_pr.py decided for them (push, open or update, comment, status, close), or showing
them in a dry run."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot import git as gitrepo
from bot.commands.context import Context
from bot.decide import Plan
from bot.errors import ServiceError
from bot.github import MERGED_DIRECTLY, PullRequestAlreadyExists, PullRequests, status_description
from bot.inputs import Inputs
from bot.last_change import effective_percentages
from bot.metadata import body_changes_fingerprint, body_fingerprint
from bot.policy import PullRequestSettings
from bot.ramp_pr import RAMP_BRANCH, ROLLBACK_BRANCH, BranchState, Proposal, PullRequest, Steps
from bot.render import summary_line


def branch_state(
    context: Context,
    branch: str,
    *,
    base: str,
    base_sha: str,
    flags_rel: str,
    proposal: Proposal | None,
    pulls: list[PullRequest],
) -> BranchState:
    """What the remote branch and its open pull request (of this repository) look like now."""
    repo = context.repo
    remote_sha = gitrepo.resolve(repo, f"{context.remote}/{branch}") if context.remote else None
    pull = next((p for p in pulls if p.head_ref == branch), None)
    foreign: tuple[str, ...] = ()
    up_to_date = False
    if remote_sha is not None:
        foreign = tuple(
            f"{commit.sha[:7]} by {commit.author}"
            for commit in gitrepo.foreign_commits(
                repo, base=base_sha, head=remote_sha, identity=context.identity
            )
        )
        up_to_date = (
            proposal is not None
            and gitrepo.parents_of(repo, remote_sha) == [base_sha]
            and gitrepo.read_file(repo, remote_sha, flags_rel) == proposal.new_text
        )
    last_closed = closed_by = closed_fingerprint = None
    if pull is None and proposal is not None and context.github is not None:
        # A pull request a person closed is a "no" to its proposal (issue 12): one request to
        # find the branch's latest closed one, and one more for who closed it only when it
        # proposed the very same changes.
        last_closed = context.github.last_closed_pull_request(head=branch, base=base)
        if last_closed is not None and not last_closed.merged:
            closed_fingerprint = body_changes_fingerprint(last_closed.body)
            if closed_fingerprint == proposal.changes_fingerprint:
                closed_by = context.github.closed_by(last_closed.number)
    return BranchState(
        pull_request=pull,
        body_fingerprint=body_fingerprint(pull.body) if pull else None,
        remote_sha=remote_sha,
        up_to_date=up_to_date,
        foreign=foreign,
        last_closed=last_closed,
        closed_by=closed_by,
        closed_fingerprint=closed_fingerprint,
    )


@dataclass(frozen=True)
class Done:
    """What carrying out one branch's steps left: its pull request, and whether it merged."""

    number: int | None
    merged: bool = False


def carry_out(
    context: Context,
    github: PullRequests,
    *,
    steps: Steps,
    proposal: Proposal | None,
    state: BranchState,
    base_sha: str,
    flags_rel: str,
    message: str,
    base: str,
    settings: PullRequestSettings,
) -> Done:
    """Do the steps: push first, so a rejected push leaves GitHub untouched."""
    print(steps.summary)
    head = state.remote_sha
    if steps.push:
        assert proposal is not None
        assert context.remote is not None
        head = gitrepo.commit_file(
            context.repo,
            parent=base_sha,
            path=flags_rel,
            text=proposal.new_text,
            message=message,
            identity=context.identity,
        )
        gitrepo.push(
            context.repo,
            remote=context.remote,
            commit=head,
            branch=steps.branch,
            expected=state.remote_sha,
        )
    try:
        return _on_github(
            github,
            steps=steps,
            proposal=proposal,
            state=state,
            head=head,
            base=base,
            settings=settings,
        )
    except ServiceError as error:
        if not steps.push:
            raise
        # The branch is on the remote already: say so, as "nothing was pushed" would be untrue.
        # The next run finds it holding the same commit's content and reuses it.
        raise ServiceError(
            f"{error.message}. {steps.branch} was pushed ({(head or '')[:12]}) but its pull "
            "request was not opened or updated; the next run reuses the branch and finishes "
            "the pull request"
        ) from None


def _on_github(
    github: PullRequests,
    *,
    steps: Steps,
    proposal: Proposal | None,
    state: BranchState,
    head: str | None,
    base: str,
    settings: PullRequestSettings,
) -> Done:
    """The GitHub part of the steps, after the push."""
    pull = state.pull_request
    number = pull.number if pull else None
    if steps.open:
        assert proposal is not None
        try:
            opened = github.open_pull_request(
                head=steps.branch,
                base=base,
                title=proposal.title,
                body=proposal.body,
                labels=proposal.labels,
                reviewers=settings.reviewers,
                team_reviewers=settings.team_reviewers,
            )
            number = opened.number
        except PullRequestAlreadyExists:
            # Another run opened it between our listing and our request: use theirs.
            existing = next(
                (
                    p
                    for p in github.open_pull_requests(base=base)
                    if p.from_branch(steps.branch, repository=github.repository)
                ),
                None,
            )
            if existing is None:
                raise
            number = existing.number
            print(f"{steps.branch}: #{number} was opened meanwhile; updating it instead")
            github.update_pull_request(
                number,
                title=proposal.title if existing.title != proposal.title else None,
                body=(
                    proposal.body
                    if body_fingerprint(existing.body) != proposal.fingerprint
                    else None
                ),
                add_labels=[label for label in proposal.labels if label not in existing.labels],
            )
    elif number is not None and (steps.title or steps.body or steps.add_labels):
        github.update_pull_request(
            number, title=steps.title, body=steps.body, add_labels=steps.add_labels
        )
    for comment in steps.comments:
        assert number is not None
        github.comment(number, comment)
    # Before the status: GitHub refuses auto-merge on a pull request whose checks have all
    # passed ("clean status"), and merges it itself once the required status turns green.
    merged = False
    if steps.auto_merge and number is not None and not steps.close:
        try:
            result = github.enable_auto_merge(number)
            print(f"{steps.branch}: #{number} {result}")
            merged = result == MERGED_DIRECTLY
        except ServiceError as error:  # auto-merge is a convenience, not the job
            print(f"{steps.branch}: auto-merge not enabled on #{number}: {error.message}")
    for status in steps.statuses:
        sha = status.sha or head
        assert sha is not None
        if status.only_if_changed:
            current = github.commit_status(sha)
            if current and (current.state, current.description) == (
                status.state,
                status_description(status.description),
            ):
                continue
        github.set_commit_status(sha, state=status.state, description=status.description)
        if status.comment and number is not None:
            github.comment(number, status.comment)
    if steps.close and number is not None:
        github.close_pull_request(number)
        return Done(None)
    return Done(number, merged=merged)


def show(
    steps: Steps, *, proposal: Proposal | None, inputs: Inputs, github_contacted: bool
) -> None:
    """Print what a real run would do on one branch: title, labels, body and diff."""
    print(f"== {steps.summary}")
    if proposal is None or not (steps.open or steps.push or steps.title or steps.body):
        return
    print(f"title: {proposal.title}")
    print(f"labels: {', '.join(proposal.labels)}")
    print("body:")
    print(proposal.body.rstrip("\n"))
    print("diff:")
    path = str(inputs.flags_path)
    print(
        "".join(
            difflib.unified_diff(
                inputs.flags.text.splitlines(keepends=True),
                proposal.new_text.splitlines(keepends=True),
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
            )
        ),
        end="",
    )


def note_superseded(
    context: Context,
    steps: Steps,
    *,
    state: BranchState,
    parts: Mapping[str, Plan | None],
    numbers: Mapping[str, int | None],
    flags_rel: str,
) -> Steps:
    """Rollback wins: say so on a ramp pull request whose step-up a rollback replaces."""
    rollback = parts.get(ROLLBACK_BRANCH)
    if (
        steps.branch != RAMP_BRANCH
        or rollback is None
        or state.pull_request is None
        or state.remote_sha is None
        or state.foreign
    ):
        return steps
    repo = context.repo
    parents = gitrepo.parents_of(repo, state.remote_sha)
    parent = parents[0] if parents else None
    before = effective_percentages(
        gitrepo.read_file(repo, parent, flags_rel) if parent else None, ()
    )
    after = effective_percentages(gitrepo.read_file(repo, state.remote_sha, flags_rel), ())
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
    where = f" in #{numbers[ROLLBACK_BRANCH]}" if numbers.get(ROLLBACK_BRANCH) else ""
    note = (
        f"Superseded by a rollback{where}: {', '.join(superseded)} rolls back instead of "
        "stepping up, so this pull request no longer steps it up."
    )
    return replace(steps, comments=(*steps.comments, note))


def why_nothing(branch: str, plan: Plan) -> str:
    what = "rolls back no tenant" if branch == ROLLBACK_BRANCH else "steps no tenant up or down"
    return (
        f"the plan at {plan.evaluated_at.isoformat(timespec='seconds')} {what} "
        f"({summary_line(plan) or 'nothing to decide'})"
    )
