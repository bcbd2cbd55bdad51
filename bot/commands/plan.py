"""rampbot plan: decide every tenant and feature, print the plan; with --write, apply it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import git as gitrepo
from bot.commands.health import read_source
from bot.commands.options import add_health_options, add_input_options
from bot.decide import LastChange, Plan, decide
from bot.files import write_atomically
from bot.flags import apply_changes
from bot.health import Health
from bot.history import last_changed
from bot.inputs import Inputs, load_inputs
from bot.render import plan_to_json, plan_to_markdown

HELP = "print what rampbot would change in the flags file, and why"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    add_health_options(parser)
    parser.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown for people (default), json for scripts",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also write the planned flags file (what `rampbot apply` does)",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    inputs = load_inputs(policy_path=args.policy, flags_path=args.flags)
    health = read_health(args, inputs, environ)
    # Inside a git repository the bake time comes from the flags file's committed history.
    repo = gitrepo.find_repository(Path.cwd())
    flags_in_repo = _inside(repo, inputs.flags_path) if repo is not None else None
    plan = make_plan(
        inputs,
        health,
        now=args.now,
        history=(repo, "HEAD", flags_in_repo) if flags_in_repo else None,
    )
    if args.format == "json":
        print(json.dumps(plan_to_json(plan), indent=2))
    else:
        print(plan_to_markdown(plan), end="")
    if args.write:
        write_plan(inputs, plan)
    return 0


def read_health(args: argparse.Namespace, inputs: Inputs, environ: Mapping[str, str]) -> Health:
    """Health from --health FILE, else Prometheus; secrets come from ``environ``."""
    return read_source(args, inputs.policy, policy_path=inputs.policy_path, environ=environ)


def make_plan(
    inputs: Inputs,
    health: Health,
    *,
    now: datetime | None,
    history: tuple[Any, str, str] | None,
) -> Plan:
    """Decide at ``now``, else at the time the health was measured, else at the present.

    ``history`` is (repository, ref, flags file path in it): each tenant's last change on that
    ref's first-parent history dates its bake time. Without it nothing counts as recently changed.
    """
    moment = now or health.evaluated_at or datetime.now(UTC)
    last_change: LastChange = {}
    if history is not None:
        repo, ref, flags_path = history
        baseline, recent = gitrepo.flags_versions(
            repo, flags_path, ref=ref, since=moment - inputs.policy.bake_time
        )
        tenants = set(inputs.policy.tenants or ()) | set(health.readings)
        for feature in inputs.flags.features.values():
            tenants |= set(feature.tenants or ())
        last_change = last_changed(baseline, recent, tenants=tenants)
    return decide(inputs.policy, inputs.flags, health, now=moment, last_change=last_change)


def _inside(repo: Any, path: Path) -> str | None:
    """``path`` relative to the repository's root, or None when it lies outside."""
    try:
        return Path(path).resolve().relative_to(Path(repo.working_tree_dir).resolve()).as_posix()
    except ValueError:
        return None


def write_plan(inputs: Inputs, plan: Plan) -> None:
    """Write the planned flags file; the edit is schema-checked before anything is written."""
    if not plan.changed:
        print(f"{inputs.flags_path}: nothing to change")
        return
    updated = apply_changes(inputs.flags, plan.flag_changes())
    write_atomically(inputs.flags_path, updated.text)
    print(f"wrote {inputs.flags_path} (revision {updated.revision})")
