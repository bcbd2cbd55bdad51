"""rampbot revert PR_NUMBER: open a pull request that reverts a merged ramp pull request.

A real ``git revert -m 1`` of the merge commit, on the branch ``rampbot/revert-<n>``, labelled
``rollback``. No hold marker is added, so the diff is the exact inverse of the original except
for ``revision``, which goes up to the base's plus one so that rampbot publish writes the rollback;
the revert's own merge restarts the tenants' bake time, which keeps them from stepping straight
back.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping

from bot import git as gitrepo
from bot.commands.context import add_git_options, make_context
from bot.commands.options import add_policy_option
from bot.errors import ConflictError, InputError
from bot.inputs import load_policy
from bot.last_change import effective_percentages
from bot.ramp_pr import LABEL, ROLLBACK_LABEL, PullRequest
from bot.trailers import DecisionTrailer, read_trailers, revert_trailer_lines
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
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the revert pull request rampbot would open, with the diff; push nothing and "
        "change nothing on GitHub (without GITHUB_TOKEN the pull request is found in git's "
        "history)",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    context = make_context(args, environ, dry_run=args.dry_run)
    github = context.github
    repo = context.repo
    policy = load_policy(repo.top / args.policy)
    if github is not None:
        original = github.get_pull_request(args.number)
        _check_revertible(original, repository=github.repository)
    else:  # a dry run without a token: the merge as git's history records it
        original = _merged_in_history(
            repo, number=args.number, base=policy.base_branch, remote=context.remote
        )
    assert original.merge_commit_sha is not None
    branch = f"rampbot/revert-{original.number}"
    existing = next(
        (
            p
            for p in (github.open_pull_requests(base=original.base_ref) if github else [])
            if p.from_branch(branch, repository=github.repository if github else "")
        ),
        None,
    )
    if existing is not None:
        print(f"#{existing.number} already reverts #{original.number}: {existing.url}")
        return 0
    if context.remote is not None:
        gitrepo.fetch(repo, remote=context.remote, base=original.base_ref)
    base_ref = (
        f"{context.remote}/{original.base_ref}" if context.remote is not None else original.base_ref
    )
    base_sha = gitrepo.resolve(repo, base_ref)
    merge = original.merge_commit_sha
    if base_sha is None or gitrepo.resolve(repo, merge) is None:
        raise InputError(
            f"#{original.number}: its merge commit {merge[:12]} is not in the fetched history of "
            f"{original.base_ref}; fetch it (actions/checkout with fetch-depth: 0)"
        )
    flags_path = policy.flags_file
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
    # Made in a scratch worktree and left unreferenced: a dry run changes no branch either.
    commit = gitrepo.revert_merge(
        repo,
        onto=base_sha,
        merge=merge,
        message=message,
        identity=context.identity,
        flags_path=flags_path,
    )
    title = f"Revert #{original.number}: {original.title}"
    body = BODY.format(
        number=original.number,
        title=original.title,
        merge=merge,
        undone=_quote(undone, _percentage_changes(repo, merge, flags_path=flags_path)),
        base=original.base_ref,
    )
    if args.dry_run:
        print(f"would open a pull request from {branch} into {original.base_ref}:")
        print(f"title: {title}")
        print(f"labels: {LABEL}, {ROLLBACK_LABEL}")
        print("body:")
        print(body.rstrip("\n"))
        print("diff:")
        print(gitrepo.diff(repo, base_sha, commit, path=flags_path), end="")
        print("dry run: nothing was pushed, opened or changed")
        return 0
    assert github is not None
    assert context.remote is not None
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
        title=title,
        body=body,
        labels=[LABEL, ROLLBACK_LABEL],
    )
    print(f"opened #{opened.number} reverting #{original.number}: {opened.url}")
    return 0


def _merged_in_history(
    repo: gitrepo.Repository, *, number: int, base: str, remote: str | None
) -> PullRequest:
    """Pull request ``number`` as the base branch's first-parent history shows its merge.

    GitHub's merge commit says `Merge pull request #N from OWNER/BRANCH` (the title follows);
    a squash merge ends its subject with `(#N)` and names no branch, so it must carry the
    bot's decision trailers to count as a rampbot pull request.
    """
    if remote is not None:
        gitrepo.fetch(repo, remote=remote, base=base)
    ref = f"{remote}/{base}" if remote is not None else base
    if gitrepo.resolve(repo, ref) is None:
        raise InputError(f"no branch {ref} to find #{number} in; set base_branch in the policy")
    for commit in gitrepo.first_parent_commits(repo, ref=ref):
        subject, _, rest = commit.message.partition("\n")
        merge = re.match(rf"Merge pull request #{number} from (\S+)$", subject)
        squash = re.search(rf"^(?P<title>.*) \(#{number}\)$", subject)
        if merge:
            head_ref = merge.group(1).partition("/")[2]
            title = rest.strip().partition("\n")[0] or subject
        elif squash and read_trailers(commit.trailers).decisions:
            head_ref, title = "rampbot/", squash["title"]
        elif squash:
            head_ref, title = "", squash["title"]
        else:
            continue
        pull = PullRequest(
            number=number,
            title=title,
            body="",
            labels=(),
            head_ref=head_ref,
            head_sha="",
            base_ref=base,
            url="",
            state="closed",
            merged=True,
            merge_commit_sha=commit.sha,
            head_repo="(this repository)",
        )
        _check_revertible(pull, repository="(this repository)")
        return pull
    raise InputError(
        f"#{number}: no merge of it in the history of {ref}; check the number, or set "
        "GITHUB_TOKEN so that rampbot asks GitHub"
    )


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


def _undone(repo: gitrepo.Repository, merge: str) -> list[DecisionTrailer]:
    """The bot decisions the merge brought in, from the trailers of its commits."""
    parents = gitrepo.parents_of(repo, merge)
    base = parents[0] if parents else None
    commits = gitrepo.commits_between(repo, base, merge) if base else []
    undone: list[DecisionTrailer] = []
    for commit in commits:
        undone.extend(read_trailers(commit.trailers).decisions)
    return undone


def _percentage_changes(repo: gitrepo.Repository, merge: str, *, flags_path: str) -> list[str]:
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
