"""The main job: plan from the latest base branch and propose it as one pull request per branch
(rampbot run; rampbot demo runs it on a copy of the example).

The shell of the job: it reads the environment (GITHUB_TOKEN, GITHUB_REPOSITORY,
GITHUB_API_URL, GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), wires git and GitHub to
the pure core, and does what bot/ramp_pr.py says.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot import git as gitrepo
from bot.commands.branches import (
    branch_state,
    carry_out,
    own_pull_requests,
    parent_decisions,
    show,
)
from bot.commands.context import Context, add_git_options, make_context
from bot.commands.dashboard_issue import notify, read_dashboard, refresh_dashboard
from bot.commands.health_source import read_health
from bot.commands.options import add_health_options, add_input_options
from bot.commands.planning import FlagsLocation, comparison_since, make_plan
from bot.commands.secret_variables import NOTIFY_WEBHOOK_URL, secret
from bot.dashboard import POLICY_SWITCH, STOP_BOX
from bot.decide import Plan
from bot.errors import ConflictError, InputError
from bot.flags import held_tenants
from bot.inputs import load_inputs_at, load_policy
from bot.ramp_pr import (
    RAMP_BRANCH,
    ROLLBACK_BRANCH,
    Done,
    branch_revisions,
    build_proposal,
    next_steps,
    split,
)
from bot.render import (
    job_summary,
    summary_line,
)
from bot.urls import without_credentials

NO_GITHUB = "did not contact GitHub (no GITHUB_TOKEN): nothing was pushed, opened or changed"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of rampbot run."""
    add_input_options(parser)
    add_health_options(parser)
    add_git_options(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the pull request(s) rampbot would open or update, with the diff; "
        "push nothing and change nothing on GitHub",
    )


def run_main_job(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Plan and propose; plan again once when someone pushed to a branch meanwhile."""
    context = make_context(args, environ, dry_run=args.dry_run)
    result: RunResult | None = None
    for attempt in (1, 2):
        try:
            result = run_once(args, environ, context=context)
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
    assert result is not None
    write_action_outputs(environ, result)
    return 0


def rejection_note(rejected: gitrepo.PushRejected) -> str:
    """The rejection as rampbot shows it: git's stderr may quote a URL with a token in it."""
    return without_credentials(str(rejected))


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    pull_request: int | None
    notes: tuple[str, ...] = ()  # for the job summary: proposals held back, and why


def run_once(
    args: argparse.Namespace, environ: Mapping[str, str], *, context: Context
) -> RunResult:
    """Plan once from the latest base and carry the plan out on both branches."""
    repo = context.repo
    root = repo.top
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
    history = FlagsLocation(repo, base_sha, flags_rel)
    # A snapshot carries its own counts: the history is read for Prometheus' windows only.
    since = comparison_since(inputs, history, at=args.now) if args.health is None else None
    health = read_health(
        args, inputs.policy, policy_path=inputs.policy_path, environ=environ, since=since
    )
    now = args.now or health.evaluated_at or datetime.now(UTC)
    github = context.github
    # The dashboard's "Stop all step-ups" box stops every step up, like paused: true.
    dashboard = read_dashboard(github) if github else None
    stopped = dashboard is not None and dashboard.switches.stop
    plan = make_plan(
        inputs,
        health,
        now=now,
        history=history,
        stopped=stopped,
        # Its Resume boxes: the ramp pull request deletes those tenants' hold markers.
        resume=dashboard.switches.resume if dashboard is not None else (),
    )
    parents = parent_decisions(repo, ref=base_sha, path=flags_rel)
    print(
        f"plan at {now.isoformat(timespec='seconds')} on {base_ref} ({base_sha[:12]}): "
        f"{summary_line(plan) or 'nothing to decide'}"
    )

    pulls = own_pull_requests(github, base=base) if github else []
    parts = split(plan)
    revisions = branch_revisions(inputs.flags.revision or 0, parts)
    done: dict[str, Done] = {}
    notes: list[str] = []
    # The rollback branch first: the ramp pull request's comment can then link it.
    for branch in (ROLLBACK_BRANCH, RAMP_BRANCH):
        part = parts[branch]
        proposal = (
            build_proposal(
                branch,
                part,
                flags=inputs.flags,
                settings=inputs.policy.pull_request,
                base=base,
                base_sha=base_sha,
                path=flags_rel,
                revision=revisions[branch],
                parents=parents,
            )
            if part
            else None
        )
        state = branch_state(
            context,
            branch,
            base=base,
            base_sha=base_sha,
            flags_rel=flags_rel,
            proposal=proposal,
            pulls=pulls,
            github=github,
        )
        steps = next_steps(
            branch, plan=plan, proposal=proposal, state=state, rollback=done.get(ROLLBACK_BRANCH)
        )
        if steps.note is not None:
            notes.append(f"{branch}: {steps.note}")
        if context.dry_run:
            show(steps, proposal=proposal, inputs=inputs, github_contacted=github is not None)
            done[branch] = Done(state.pull_request.number if state.pull_request else None)
            continue
        assert github is not None
        done[branch] = carry_out(context, github, steps)
    if context.dry_run and github is None:
        print(NO_GITHUB)
    if github is not None and dashboard is not None and not context.dry_run:
        open_now = tuple(
            (branch, result.number)
            for branch, result in done.items()
            if result.number is not None and not result.merged
        )
        rollback = done.get(ROLLBACK_BRANCH)
        notified, warnings = notify(
            secret(environ, NOTIFY_WEBHOOK_URL),
            dashboard,
            rollbacks=[rollback.number] if rollback and rollback.number else [],
            # Either stop switch: paused: true in the policy, or the dashboard's box.
            stopped=stopped or inputs.policy.paused,
            switch=POLICY_SWITCH if inputs.policy.paused else STOP_BOX,
        )
        for warning in warnings:
            print(f"warning: {warning}")
            notes.append(f"warning: {warning}")
        print(
            refresh_dashboard(
                github,
                dashboard,
                plan=plan,
                pulls=open_now,
                notified=notified,
                held=held_tenants(inputs.flags),
                repo=repo,
                ref=base_sha,
                path=flags_rel,
            )
        )
    number = done[ROLLBACK_BRANCH].number or done[RAMP_BRANCH].number
    return RunResult(plan=plan, pull_request=number, notes=tuple(notes))


def write_action_outputs(environ: Mapping[str, str], result: RunResult) -> None:
    """Step outputs and the job summary, when running in GitHub Actions."""
    from bot import actions, markdown

    if environ.get("GITHUB_OUTPUT"):
        actions.write_outputs(
            Path(environ["GITHUB_OUTPUT"]),
            {
                "pr-number": str(result.pull_request or ""),
                "changed": "true" if result.plan.changed else "false",
            },
        )
    if environ.get("GITHUB_STEP_SUMMARY"):
        held_back = "".join(f"- {markdown.escape(note)}\n" for note in result.notes)
        summary = job_summary(result.plan)
        if held_back:
            summary = f"### Notes\n\n{held_back}\n{summary}"
        actions.append_step_summary(Path(environ["GITHUB_STEP_SUMMARY"]), summary)


def _relative(repo: gitrepo.Repository, path: Path) -> str:
    # Relative paths are from the repository's root, as in the policy and in workflows.
    root = repo.top
    return gitrepo.relative_path(repo, path if path.is_absolute() else root / path)
