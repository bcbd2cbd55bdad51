"""rampbot revert PR_NUMBER: open a pull request that reverts a merged ramp pull request.

A real ``git revert -m 1`` of the merge commit, on the branch ``rampbot/revert-<n>``, labelled
``rollback``. No hold marker is added, so the diff is the exact inverse of the original except
for ``revision``, which goes up to the base's plus one so that rampbot publish writes the rollback;
the revert's own merge restarts the tenants' bake time, which keeps them from stepping straight
back.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import git as gitrepo
from bot.commands.context import add_git_options, make_context
from bot.commands.options import add_policy_option
from bot.errors import ConflictError, InputError
from bot.inputs import load_policy
from bot.last_change import effective_percentages
from bot.ramp_pr import LABEL, ROLLBACK_LABEL, PullRequest
from bot.trailers import DecisionTrailer, parse_trailers, revert_trailer_lines
from bot.urls import without_credentials

HELP = "open a pull request reverting the merge of a merged rampbot pull request"

BODY = """\
Reverts #{number} ({title}): a `git revert -m 1` of its merge commit {merge}.

Decisions undone:

{undone}

Merging this pull request restores the percentages above. rampbot will not step these tenants
up again until they have been healthy for the bake time after this revert reaches {base}.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=int, metavar="PR_NUMBER", help="the merged pull request")
    add_policy_option(parser)
    add_git_options(parser)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    context = make_context(args, environ, dry_run=False)
    github = context.github
    assert github is not None
    assert context.remote is not None
    repo = context.repo
    original = github.get_pull_request(args.number)
    _check_revertible(original, repository=github.repository)
    assert original.merge_commit_sha is not None
    branch = f"rampbot/revert-{original.number}"
    existing = next(
        (
            p
            for p in github.open_pull_requests(base=original.base_ref)
            if p.from_branch(branch, repository=github.repository)
        ),
        None,
    )
    if existing is not None:
        print(f"#{existing.number} already reverts #{original.number}: {existing.url}")
        return 0
    gitrepo.fetch(repo, remote=context.remote, base=original.base_ref)
    base_sha = gitrepo.resolve(repo, f"{context.remote}/{original.base_ref}")
    merge = original.merge_commit_sha
    if base_sha is None or gitrepo.resolve(repo, merge) is None:
        raise InputError(
            f"#{original.number}: its merge commit {merge[:12]} is not in the fetched history of "
            f"{original.base_ref}; fetch it (actions/checkout with fetch-depth: 0)"
        )
    flags_path = load_policy(Path(str(repo.working_tree_dir)) / args.policy).flags_file
    undone = _undone(repo, merge)
    message = (
        "\n".join(
            [
                f"Revert #{original.number}: {original.title}",
                "",
                f"This reverts merge commit {merge} of #{original.number}.",
                "",
                *revert_trailer_lines(undone),
            ]
        ).rstrip("\n")
        + "\n"
    )
    commit = gitrepo.revert_merge(
        repo,
        onto=base_sha,
        merge=merge,
        message=message,
        identity=context.identity,
        flags_path=flags_path,
    )
    try:
        gitrepo.push(
            repo,
            remote=context.remote,
            commit=commit,
            branch=branch,
            expected=gitrepo.resolve(repo, f"{context.remote}/{branch}"),
        )
    except gitrepo.PushRejected as rejected:
        raise ConflictError(
            f"{without_credentials(str(rejected))}; someone else pushed {branch} since rampbot "
            f"fetched it; nothing was opened. Run rampbot revert {original.number} again"
        ) from None
    opened = github.open_pull_request(
        head=branch,
        base=original.base_ref,
        title=f"Revert #{original.number}: {original.title}",
        body=BODY.format(
            number=original.number,
            title=original.title,
            merge=merge,
            undone=_quote(undone, _percentage_changes(repo, merge, flags_path=flags_path)),
            base=original.base_ref,
        ),
        labels=[LABEL, ROLLBACK_LABEL],
    )
    print(f"opened #{opened.number} reverting #{original.number}: {opened.url}")
    return 0


def _check_revertible(pull: PullRequest, *, repository: str) -> None:
    if not pull.merged or not pull.merge_commit_sha:
        raise InputError(
            f"#{pull.number} is not merged ({pull.state}); only a merged pull request can be "
            "reverted. To drop an open one, close it"
        )
    if not pull.head_ref.startswith("rampbot/") or pull.head_repo != repository:
        where = (
            pull.head_ref
            if pull.head_repo == repository
            else f"{pull.head_repo or 'a deleted fork'}:{pull.head_ref}"
        )
        raise InputError(
            f"#{pull.number} came from {where!r}, not a rampbot/ branch of {repository}; revert "
            "a person's change with GitHub's Revert button or git revert"
        )


def _undone(repo: Any, merge: str) -> list[DecisionTrailer]:
    """The bot decisions the merge brought in, from the trailers of its commits."""
    parents = gitrepo.parents_of(repo, merge)
    base = parents[0] if parents else None
    commits = gitrepo.commits_between(repo, base, merge) if base else []
    undone: list[DecisionTrailer] = []
    for commit in commits:
        undone.extend(parse_trailers(commit.message).decisions)
    return undone


def _percentage_changes(repo: Any, merge: str, *, flags_path: str) -> list[str]:
    parents = gitrepo.parents_of(repo, merge)
    before = effective_percentages(
        gitrepo.read_file(repo, parents[0], flags_path) if parents else None, ()
    )
    after = effective_percentages(gitrepo.read_file(repo, merge, flags_path), ())
    if before is None or after is None:
        return []
    return [
        f"{feature} for {tenant}: {after[feature, tenant]}% back to "
        f"{before.get((feature, tenant), 'unset')}%"
        for feature, tenant in sorted(after)
        if before.get((feature, tenant)) != after[feature, tenant]
    ]


def _quote(undone: list[DecisionTrailer], changes: list[str]) -> str:
    lines = [f"- {change}" for change in changes] or ["- (no percentage changed in flags file)"]
    if undone:
        lines.append("")
        lines.extend(
            f"> decision `{d.id}`: {d.action or 'change'} {d.feature} for {d.tenant}, "
            f"{d.from_pct}% -> {d.to_pct}%"
            for d in undone
        )
    return "\n".join(lines)
