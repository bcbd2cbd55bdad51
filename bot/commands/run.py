"""rampbot run: plan from the latest base branch and propose it as one pull request per branch.

The shell of the main job: it reads the environment (GITHUB_TOKEN, GITHUB_REPOSITORY,
GITHUB_API_URL, GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), wires git and GitHub to
the pure core, and does what bot/ramp_pr.py says.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import git as gitrepo
from bot.commands.options import add_health_options, add_input_options
from bot.commands.plan import FlagsHistory, make_plan, read_health
from bot.decide import Plan
from bot.errors import ConflictError, InputError, ServiceError
from bot.flags import apply_changes, parse_flags, set_revision
from bot.github import (
    MERGED_DIRECTLY,
    GitHubRepository,
    PullRequestAlreadyExists,
    PullRequests,
    status_description,
)
from bot.history import effective_percentages
from bot.inputs import Inputs, checked_together, load_policy
from bot.policy import Policy, PullRequestSettings, parse_policy
from bot.ramp_pr import (
    RAMP_BRANCH,
    ROLLBACK_BRANCH,
    BranchState,
    Proposal,
    PullRequest,
    Steps,
    labels_for,
    next_steps,
    split,
)
from bot.render import (
    body_fingerprint,
    job_summary,
    pull_request_body,
    pull_request_title,
    summary_line,
)
from bot.trailers import commit_message, latest_decisions
from bot.urls import without_credentials

HELP = "open or update the ramp pull request (and a rollback one) from the latest base branch"

# GitHub's own identity for commits made with a workflow's GITHUB_TOKEN.
DEFAULT_GIT_NAME = "github-actions[bot]"
DEFAULT_GIT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
NO_GITHUB = "did not contact GitHub (no GITHUB_TOKEN): nothing was pushed, opened or changed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    add_health_options(parser)
    add_git_options(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the pull request(s) rampbot would open or update, with the diff; "
        "push nothing and change nothing on GitHub",
    )


def add_git_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote", default="origin", help="the git remote to fetch from and push to"
    )
    parser.add_argument(
        "--git-name",
        metavar="NAME",
        help=f"author of rampbot's commits (default: RAMPBOT_GIT_NAME, else {DEFAULT_GIT_NAME})",
    )
    parser.add_argument(
        "--git-email",
        metavar="EMAIL",
        help="e-mail of rampbot's commits (default: RAMPBOT_GIT_EMAIL, else GitHub Actions')",
    )


@dataclass(frozen=True)
class Context:
    """What one run works with, read once from the options and the environment."""

    repo: Any  # git.Repo; typed loosely so this module needs no GitPython import
    remote: str | None  # None: a local repository without that remote (dry runs only)
    identity: gitrepo.Identity
    github: PullRequests | None
    dry_run: bool


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    context = make_context(args, environ, dry_run=args.dry_run)
    outcome: Outcome | None = None
    for attempt in (1, 2):
        try:
            outcome = run_once(args, environ, context=context)
            break
        except gitrepo.PushRejected as rejected:
            # Someone moved the branch between our fetch and our push: plan again from what
            # they pushed, once; a second rejection means a race we should not fight.
            why = rejection_note(rejected)
            if attempt == 2:
                raise ConflictError(
                    f"{why}; stopped after planning again once. Run rampbot again, or "
                    "check who else pushes to the rampbot/ branches"
                ) from None
            print(f"{why}; planning again from the latest base")
    assert outcome is not None
    write_action_outputs(environ, outcome)
    return 0


def rejection_note(rejected: gitrepo.PushRejected) -> str:
    """The rejection as rampbot shows it: git's stderr may quote a URL with a token in it."""
    return without_credentials(str(rejected))


def make_context(args: argparse.Namespace, environ: Mapping[str, str], *, dry_run: bool) -> Context:
    workspace = Path(environ.get("GITHUB_WORKSPACE") or ".")
    repo = gitrepo.open_repository(workspace)
    identity = gitrepo.Identity(
        name=args.git_name or environ.get("RAMPBOT_GIT_NAME") or DEFAULT_GIT_NAME,
        email=args.git_email or environ.get("RAMPBOT_GIT_EMAIL") or DEFAULT_GIT_EMAIL,
    )
    remote = args.remote if gitrepo.has_remote(repo, args.remote) else None
    if remote is None and not dry_run:
        raise InputError(
            f"{repo.working_tree_dir}: no git remote {args.remote!r} to push to; add it, pass "
            "--remote NAME, or use --dry-run to see what rampbot would do"
        )
    return Context(
        repo=repo,
        remote=remote,
        identity=identity,
        github=connect_github(environ, required=not dry_run),
        dry_run=dry_run,
    )


def connect_github(environ: Mapping[str, str], *, required: bool) -> GitHubRepository | None:
    """The GitHub repository named by the environment, or None without a token."""
    token = environ.get("GITHUB_TOKEN")
    if not token:
        if required:
            raise InputError(
                "GITHUB_TOKEN is not set: rampbot needs a token to open pull requests "
                "(in a workflow: env: GITHUB_TOKEN: ${{ github.token }}); "
                "use --dry-run to see what it would do without one"
            )
        return None
    repository = environ.get("GITHUB_REPOSITORY")
    if not repository or repository.count("/") != 1:
        raise InputError(
            f"GITHUB_REPOSITORY is {repository!r}: set it to OWNER/NAME of the repository"
        )
    return GitHubRepository(
        token=token,
        repository=repository,
        api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
    )


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    pull_request: int | None


def run_once(args: argparse.Namespace, environ: Mapping[str, str], *, context: Context) -> Outcome:
    """Plan once from the latest base and carry the plan out on both branches."""
    repo = context.repo
    root = Path(repo.working_tree_dir)
    policy_rel = _relative(repo, args.policy)
    flags_rel_option = _relative(repo, args.flags) if args.flags is not None else None
    # The checkout's policy names the base branch; everything else is read from that branch.
    base = load_policy(root / policy_rel).base_branch
    if context.remote is not None:
        gitrepo.fetch(repo, remote=context.remote, base=base)
        base_ref = f"{context.remote}/{base}"
    else:
        base_ref = base
    base_sha = gitrepo.resolve(repo, base_ref)
    if base_sha is None:
        raise InputError(f"{root}: no branch {base_ref}; set base_branch in {policy_rel}")
    inputs = load_inputs_at(repo, base_sha, policy_rel=policy_rel, flags_rel=flags_rel_option)
    flags_rel = str(inputs.flags_path)
    health = read_health(args, inputs, environ)
    now = args.now or health.evaluated_at or datetime.now(UTC)
    plan = make_plan(inputs, health, now=now, history=FlagsHistory(repo, base_sha, flags_rel))
    parents = latest_decisions(gitrepo.messages(repo, ref=base_sha, path=flags_rel))
    print(
        f"plan at {now.isoformat(timespec='seconds')} on {base_ref} ({base_sha[:12]}): "
        f"{summary_line(plan) or 'nothing to decide'}"
    )

    github = context.github
    # Only pull requests from this repository's own branches: a fork may name a branch
    # rampbot/ramp too, and rampbot must neither update nor close it.
    pulls = (
        [p for p in github.open_pull_requests(base=base) if p.head_repo == github.repository]
        if github
        else []
    )
    parts = split(plan)
    revisions = branch_revisions(inputs.flags.revision or 0, parts)
    numbers: dict[str, int | None] = {}
    # The rollback branch first: the ramp pull request's comment can then link it.
    for branch in (ROLLBACK_BRANCH, RAMP_BRANCH):
        part = parts[branch]
        proposal = (
            build_proposal(
                branch, part, inputs=inputs, base_sha=base_sha, revision=revisions[branch]
            )
            if part
            else None
        )
        state = branch_state(
            context,
            branch,
            base_sha=base_sha,
            flags_rel=flags_rel,
            proposal=proposal,
            pulls=pulls,
        )
        steps = next_steps(
            branch,
            proposal=proposal,
            state=state,
            why_nothing=_why_nothing(branch, plan),
            # No time in it: an unchanged plan must leave an unchanged status alone.
            status_text=(
                f"plan stands: {summary_line(part) if part else 'nothing to change'}; "
                "flags file checked against the schema"
            ),
            auto_merge=inputs.policy.pull_request.auto_merge_rollback,
        )
        steps = _note_superseded(
            context, steps, state=state, parts=parts, numbers=numbers, flags_rel=flags_rel
        )
        if context.dry_run:
            show(steps, proposal=proposal, inputs=inputs, github_contacted=github is not None)
            numbers[branch] = state.pull_request.number if state.pull_request else None
            continue
        assert github is not None
        done = carry_out(
            context,
            github,
            steps=steps,
            proposal=proposal,
            state=state,
            base_sha=base_sha,
            flags_rel=flags_rel,
            message=commit_message(part, parents) if part else "",
            base=base,
            settings=inputs.policy.pull_request,
        )
        numbers[branch] = done.number
        if done.merged and branch == ROLLBACK_BRANCH and parts[RAMP_BRANCH] is not None:
            # The ramp branch was planned on the old base, which it would now conflict with.
            # Planning again at once would judge the same health, read before the rollback
            # took effect, and roll back again: the next run plans it on the new base instead.
            print(
                f"{RAMP_BRANCH}: left for the next run: #{done.number} merged into {base} "
                "after this plan was made"
            )
            break
    if context.dry_run and github is None:
        print(NO_GITHUB)
    number = numbers.get(ROLLBACK_BRANCH) or numbers.get(RAMP_BRANCH)
    return Outcome(plan=plan, pull_request=number)


def load_inputs_at(repo: Any, commit: str, *, policy_rel: str, flags_rel: str | None) -> Inputs:
    """The policy and flags file as the base commit has them, checked together."""
    policy_text = gitrepo.read_file(repo, commit, policy_rel)
    if policy_text is None:
        raise InputError(f"{policy_rel}: not on the base branch ({commit[:12]}); commit it first")
    policy: Policy = parse_policy(policy_text, source=policy_rel)
    flags_path = flags_rel if flags_rel is not None else policy.flags_file
    flags_text = gitrepo.read_file(repo, commit, flags_path)
    if flags_text is None:
        raise InputError(f"{flags_path}: not on the base branch ({commit[:12]}); commit it first")
    flags = parse_flags(flags_text, source=flags_path)
    return checked_together(
        policy, flags, policy_path=Path(policy_rel), flags_path=Path(flags_path)
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
    branch: str, part: Plan, *, inputs: Inputs, base_sha: str, revision: int
) -> Proposal:
    """The pull request for one branch: title, body, labels, and the flags file it carries."""
    changed = apply_changes(inputs.flags, part.flag_changes()).text  # schema-checked
    new_text = set_revision(changed, revision)
    body = pull_request_body(part, base_commit=base_sha)
    return Proposal(
        branch=branch,
        plan=part,
        title=pull_request_title(part),
        body=body,
        fingerprint=body_fingerprint(body),
        labels=labels_for(branch, inputs.policy.pull_request.labels),
        new_text=new_text,
    )


def branch_state(
    context: Context,
    branch: str,
    *,
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
    return BranchState(
        pull_request=pull,
        body_fingerprint=body_fingerprint(pull.body) if pull else None,
        remote_sha=remote_sha,
        up_to_date=up_to_date,
        foreign=foreign,
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


def write_action_outputs(environ: Mapping[str, str], outcome: Outcome) -> None:
    """Step outputs and the job summary, when running in GitHub Actions."""
    from bot import actions

    if environ.get("GITHUB_OUTPUT"):
        actions.write_outputs(
            Path(environ["GITHUB_OUTPUT"]),
            {
                "pr-number": str(outcome.pull_request or ""),
                "changed": "true" if outcome.plan.changed else "false",
            },
        )
    if environ.get("GITHUB_STEP_SUMMARY"):
        actions.append_step_summary(Path(environ["GITHUB_STEP_SUMMARY"]), job_summary(outcome.plan))


def _note_superseded(
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


def _why_nothing(branch: str, plan: Plan) -> str:
    what = "rolls back no tenant" if branch == ROLLBACK_BRANCH else "steps no tenant up or down"
    return (
        f"the plan at {plan.evaluated_at.isoformat(timespec='seconds')} {what} "
        f"({summary_line(plan) or 'nothing to decide'})"
    )


def _relative(repo: Any, path: Path) -> str:
    # Relative paths are from the repository's root, as in the policy and in workflows.
    root = Path(repo.working_tree_dir)
    return gitrepo.relative_path(repo, path if path.is_absolute() else root / path)
