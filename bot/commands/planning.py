"""Deciding from the inputs and health: the plan at a moment, with each tenant's bake time from
the flags file's git history (plan, apply, run), and printing or writing it (plan, apply)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bot import outbound
from bot.change_log import Change
from bot.commands.health_source import read_health
from bot.commands.options import add_health_options, add_input_options
from bot.decide import LastChange, Plan, decide, flags_tenants
from bot.errors import InputError
from bot.files import write_atomically
from bot.flags import apply_changes
from bot.health import Health
from bot.inputs import Inputs, load_inputs
from bot.last_change import FlagsVersion, last_changed
from bot.plan_text import plan_to_text
from bot.since_change import ChangeTimes
from bot.steer import history_needed, steer
from bot.terminal import EscapingStream, printable_json

if TYPE_CHECKING:  # bot/git.py is imported where used: GitPython is slow to import
    from bot.git import Repository


class FlagsLocation(NamedTuple):
    """Where the flags file's history is read: a repository, a ref in it, the file's path."""

    repo: Repository
    ref: str
    path: str


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of rampbot plan and rampbot apply."""
    add_input_options(parser)
    add_health_options(parser)
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a terminal (default), markdown as in the job summary, json for scripts",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="with text: list every decision, not only the changes",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also write the planned flags file (what `rampbot apply` does)",
    )


def print_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Plan from the files here, print the plan, and write it with --write."""
    inputs = load_inputs(policy_path=args.policy, flags_path=args.flags)
    history = history_here(inputs)
    modified_at = _modified_at(inputs.flags_path)
    since = None
    if args.health is None:  # a snapshot carries its own counts
        since = comparison_since(inputs, history, at=args.now, modified_at=modified_at)
    health = read_health(
        args, inputs.policy, policy_path=inputs.policy_path, environ=environ, since=since
    )
    plan = make_plan(inputs, health, now=args.now, history=history, modified_at=modified_at)
    if args.format == "json":
        from bot.render import plan_json_pieces  # imported where used: see bot/commands

        # Every string in the pieces is cleaned (clean_data's way, once per distinct string):
        # they skip the stream that cleans whole lines again, whose scan of a 100 MB document
        # takes minutes. The escaping stream below it is skipped too, for printable_json,
        # which escapes json.dumps' text as it would, in a fraction of the time (issue 14).
        stream: Any = sys.stdout
        if isinstance(stream, outbound.RedactingStream):
            stream.flush()
            stream = stream.stream
        escape: Callable[[str], str] = str
        if isinstance(stream, EscapingStream):
            stream.flush()
            stream, escape = stream.stream, printable_json
        for piece in plan_json_pieces(plan, clean=outbound.clean):
            stream.write(escape(piece))
        stream.write("\n")
    elif args.format == "markdown":
        from bot.render import plan_to_markdown

        print(plan_to_markdown(plan), end="")
    else:
        # Colour for a person at a terminal, unless they said otherwise (https://no-color.org).
        colour = sys.stdout.isatty() and not environ.get("NO_COLOR")
        text = plan_to_text(plan, every=args.all, colour=colour)
        if colour:
            # plan_to_text makes every value printable itself; its colour codes must reach the
            # terminal, so the text is cleaned here and written past the streams that clean
            # and escape what is printed (bot/cli.py), which would escape the codes too.
            sys.stdout.flush()
            stream = sys.stdout
            while isinstance(stream, outbound.RedactingStream | EscapingStream):
                stream = stream.stream
            stream.write(outbound.clean(text))
        else:
            sys.stdout.write(text)
    if args.write:
        write_plan(inputs, plan)
    return 0


def make_plan(
    inputs: Inputs,
    health: Health,
    *,
    now: datetime | None,
    history: FlagsLocation | None,
    stopped: bool = False,
    resume: Collection[tuple[str, str]] = (),
    modified_at: datetime | None = None,
) -> Plan:
    """Decide at ``now``, else at the time the health was measured, else at the present.

    With ``history``, each tenant's last change on that ref's first-parent history dates its
    bake time, and counts its steps for the policy's limits; without it nothing counts as
    recently changed. ``modified_at`` is when the flags file on disk was last written: what
    differs from ``history`` changed then, and without history every tenant did.
    ``stopped``: the ramp dashboard's stop box is ticked; ``resume``: the (feature, tenant)
    pairs whose Resume box is ticked there.
    """
    moment = now or health.evaluated_at or datetime.now(UTC)
    policy = inputs.policy
    last_change: LastChange = {}
    every_change: datetime | None = None
    changes: list[Change] = []
    if history is not None:
        # Imported here: GitPython takes longer to import than a plan at 10 tenants takes.
        from bot import git as gitrepo
        from bot.change_log import ledger

        # From the window before the health was measured: a change after that is one the
        # health cannot have seen, whatever ``now`` says.
        measured_at = min(moment, health.evaluated_at or moment)
        baseline, recent = gitrepo.flags_versions(
            history.repo,
            history.path,
            ref=history.ref,
            since=measured_at - history_needed(policy),
        )
        recent = _with_working_version(inputs, baseline, recent, modified_at=modified_at)
        # Changes after ``moment`` count too: health from before a tenant's last change must
        # not move it up, so a replay holds the tenants that changed since (decide rule 6).
        tenants = set(policy.tenants or ()) | health.tenants | flags_tenants(inputs.flags)
        last_change = last_changed(baseline, recent, tenants=tenants)
        if policy.rings or policy.limits.steps_per_day or policy.limits.tenants_per_run:
            changes = ledger(recent, baseline=baseline)
    elif modified_at is not None:
        # No repository, no history: the file's last write is the only date of any change.
        every_change = modified_at
    plan = decide(
        policy,
        inputs.flags,
        health,
        now=moment,
        last_change=last_change,
        changed_at=every_change,
    )
    return steer(
        plan, policy, inputs.flags, now=moment, changes=changes, stopped=stopped, resume=resume
    )


def comparison_since(
    inputs: Inputs,
    history: FlagsLocation | None,
    *,
    at: datetime | None,
    modified_at: datetime | None = None,
) -> ChangeTimes | None:
    """Each tenant's last change within the comparisons' longest max_window, so that their
    counts accumulate from it (bot/since_change.py); None without comparisons or history."""
    policy = inputs.policy
    if not policy.comparisons or history is None:
        return None
    from bot import git as gitrepo  # imported where used: see make_plan

    moment = at or datetime.now(UTC)
    lookback = max(signal.max_window for signal in policy.comparisons)
    baseline, recent = gitrepo.flags_versions(
        history.repo, history.path, ref=history.ref, since=moment - lookback
    )
    recent = _with_working_version(inputs, baseline, recent, modified_at=modified_at)
    named = set(policy.tenants or ()) | flags_tenants(inputs.flags)
    # A tenant the flags file does not name follows each feature's pct, as OTHERS does.
    changed = last_changed(baseline, recent, tenants=named | {OTHERS})
    latest: dict[str, datetime] = {}
    for (feature, tenant), when in changed.items():
        # Any feature's change moves the tenant's arms: the variant label names no feature.
        if feature in policy.features and (tenant not in latest or when > latest[tenant]):
            latest[tenant] = when
    others = latest.pop(OTHERS, None)
    return ChangeTimes(tenants=latest, others=others)


# Not a tenant name (bot/flags.py's TENANT_NAME starts with a letter or digit): stands for every
# tenant the flags file does not name.
OTHERS = "(others)"


def _with_working_version(
    inputs: Inputs,
    baseline: FlagsVersion | None,
    recent: list[FlagsVersion],
    *,
    modified_at: datetime | None,
) -> list[FlagsVersion]:
    committed = recent[-1] if recent else baseline
    if modified_at is not None and inputs.flags.text != (committed and committed.text):
        # Uncommitted changes count from when the file was written: a second `apply`
        # before a commit must see the first one's step (issue 9).
        return [*recent, _working_version(inputs.flags.text, modified_at)]
    return recent


def _working_version(text: str, modified_at: datetime) -> FlagsVersion:
    return FlagsVersion(
        commit="(working tree)",
        committed_at=modified_at,
        author="",
        message="",
        text=text,
    )


def _modified_at(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def history_here(inputs: Inputs) -> FlagsLocation | None:
    """The committed history of the flags file, when it lies in a git repository."""
    here = Path.cwd().resolve()
    if not any((folder / ".git").exists() for folder in (here, *here.parents)):
        return None  # not in a repository: no need to import GitPython to learn it
    from bot import git as gitrepo

    repo = gitrepo.find_repository(here)
    if repo is None:
        return None
    try:
        return FlagsLocation(repo, "HEAD", gitrepo.relative_path(repo, inputs.flags_path))
    except InputError:  # the flags file lies outside the repository: no history to read
        return None


def write_plan(inputs: Inputs, plan: Plan) -> None:
    """Write the planned flags file; the edit is schema-checked before anything is written."""
    # On stderr: stdout holds the plan, which may be JSON for a script to read.
    if not plan.changed:
        print(f"{inputs.flags_path}: nothing to change", file=sys.stderr)
        return
    updated = apply_changes(inputs.flags, plan.flag_changes())
    write_atomically(inputs.flags_path, updated.text, expected=inputs.flags.text)
    print(f"wrote {inputs.flags_path} (revision {updated.revision})", file=sys.stderr)
