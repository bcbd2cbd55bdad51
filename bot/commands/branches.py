"""One bot branch and its pull request: reading what they look like now, and carrying out the
steps bot/ramp_pr.py decided for them (push, open or edit, comment, merge, status, close), or
showing them in a dry run. Nothing here chooses what to do."""

from __future__ import annotations

import difflib
from dataclasses import replace

from bot import git as gitrepo
from bot.commands.context import Context
from bot.errors import ServiceError
from bot.github import PullRequestAlreadyExists, PullRequests
from bot.inputs import Inputs
from bot.metadata import body_changes_fingerprint
from bot.ramp_pr import (
    BranchState,
    Done,
    Merge,
    Proposal,
    PullRequest,
    Steps,
    edit_for,
    merge_method,
)
from bot.trailers import Pair, latest_decisions, read_trailers


def own_pull_requests(github: PullRequests, *, base: str) -> list[PullRequest]:
    """The open pull requests into ``base`` from this repository's own branches: a fork may
    name a branch rampbot/ramp too, and rampbot must neither update nor close it."""
    return [p for p in github.open_pull_requests(base=base) if p.head_repo == github.repository]


def parent_decisions(repo: gitrepo.Repository, *, ref: str, path: str) -> dict[Pair, str]:
    """The latest bot decision per feature and tenant in ``path``'s history at ``ref``: the
    parents the next commit's trailers name."""
    return latest_decisions(map(read_trailers, gitrepo.trailer_blocks(repo, ref=ref, path=path)))


def branch_state(
    context: Context,
    branch: str,
    *,
    base: str,
    base_sha: str,
    flags_rel: str,
    proposal: Proposal | None,
    pulls: list[PullRequest],
    github: PullRequests | None,
) -> BranchState:
    """What the remote branch and its open pull request (of this repository) look like now."""
    repo = context.repo
    remote_sha = gitrepo.resolve(repo, f"{context.remote}/{branch}") if context.remote else None
    pull = next((p for p in pulls if p.head_ref == branch), None)
    last_closed = closed_by = closed_fingerprint = None
    if pull is None and proposal is not None and github is not None:
        # A pull request a person closed is a "no" to its proposal (issue 12): one request to
        # find the branch's latest closed one, and one more for who closed it only when it
        # proposed the very same changes.
        last_closed = github.last_closed_pull_request(head=branch, base=base)
        if last_closed is not None and not last_closed.merged:
            closed_fingerprint = body_changes_fingerprint(last_closed.body)
            if closed_fingerprint == proposal.changes_fingerprint:
                closed_by = github.closed_by(last_closed.number)
    state = BranchState(
        pull_request=pull,
        remote_sha=remote_sha,
        last_closed=last_closed,
        closed_by=closed_by,
        closed_fingerprint=closed_fingerprint,
        head_status=github.commit_status(pull.head_sha) if github and pull else None,
    )
    if remote_sha is None:
        return state
    parents = tuple(gitrepo.parents_of(repo, remote_sha))
    return replace(
        state,
        parents=parents,
        flags_text=gitrepo.read_file(repo, remote_sha, flags_rel),
        parent_flags_text=gitrepo.read_file(repo, parents[0], flags_rel) if parents else None,
        foreign=tuple(
            f"{commit.sha[:7]} by {commit.author}"
            for commit in gitrepo.foreign_commits(
                repo, base=base_sha, head=remote_sha, identity=context.identity
            )
        ),
    )


def carry_out(context: Context, github: PullRequests, steps: Steps) -> Done:
    """Do the steps: push first, so a rejected push leaves GitHub untouched."""
    print(steps.summary)
    head = None
    if steps.push:
        assert context.remote is not None
        commit = steps.push
        head = gitrepo.commit_file(
            context.repo,
            parent=commit.parent,
            path=commit.path,
            text=commit.text,
            message=commit.message,
            identity=context.identity,
        )
        gitrepo.push(
            context.repo,
            remote=context.remote,
            commit=head,
            branch=steps.branch,
            expected=commit.replaces,
        )
    try:
        return _on_github(github, steps, head=head)
    except ServiceError as error:
        if not steps.push:
            raise
        # The branch is on the remote already: say so, as "nothing was pushed" would be untrue.
        # The next run finds it holding the same commit's content and reuses it. The same
        # class: rampbot serve counts GitHub's failures apart from git's.
        raise type(error)(
            f"{error.message}. {steps.branch} was pushed ({(head or '')[:12]}) but its pull "
            "request was not opened or updated; the next run reuses the branch and finishes "
            "the pull request"
        ) from None


def _on_github(github: PullRequests, steps: Steps, *, head: str | None) -> Done:
    """The GitHub part of the steps, after the push."""
    number = steps.number
    edit = steps.edit
    if steps.open:
        new = steps.open
        try:
            number = github.open_pull_request(
                head=steps.branch,
                base=new.base,
                title=new.title,
                body=new.body,
                labels=new.labels,
                reviewers=new.reviewers,
                team_reviewers=new.team_reviewers,
            ).number
        except PullRequestAlreadyExists:
            # Another run opened it between our listing and our request: use theirs.
            existing = next(
                (
                    p
                    for p in github.open_pull_requests(base=new.base)
                    if p.from_branch(steps.branch, repository=github.repository)
                ),
                None,
            )
            if existing is None:
                raise
            number = existing.number
            print(f"{steps.branch}: #{number} was opened meanwhile; updating it instead")
            edit = edit_for(new, existing)
    if number is not None and edit.changes:
        github.update_pull_request(
            number, title=edit.title, body=edit.body, add_labels=edit.add_labels
        )
    for comment in steps.comments:
        assert number is not None
        github.comment(number, comment)
    merged = False
    if steps.merge and number is not None and not steps.close:
        merged = _merge(github, steps.branch, number)
    for status in steps.statuses:
        sha = status.sha or head
        assert sha is not None
        github.set_commit_status(sha, state=status.state, description=status.description)
        if status.comment and number is not None:
            github.comment(number, status.comment)
    if steps.close and number is not None:
        github.close_pull_request(number)
        return Done(None)
    return Done(number, merged=merged)


def _merge(github: PullRequests, branch: str, number: int) -> bool:
    """Merge now or enable auto-merge, as the state GitHub reports allows; whether it merged."""
    method = merge_method(github.mergeable_state(number))
    try:
        if method is Merge.NOW:
            github.merge(number)
        else:
            github.enable_auto_merge(number)
    except ServiceError as error:  # auto-merge is a convenience, not the job
        print(f"{branch}: auto-merge not enabled on #{number}: {error.message}")
        return False
    print(f"{branch}: #{number} {method.value}")
    return method is Merge.NOW


def show(
    steps: Steps, *, proposal: Proposal | None, inputs: Inputs, github_contacted: bool
) -> None:
    """Print what a real run would do on one branch: title, labels, body and diff."""
    print(f"== {steps.summary}")
    if proposal is None or not (steps.open or steps.push or steps.edit.title or steps.edit.body):
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
