"""rampbot validate: check the policy and the flags file, alone and against each other."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from bot import git as gitrepo
from bot.commands.options import add_input_options
from bot.errors import InputError
from bot.flags import unpublishable_edit
from bot.inputs import load_inputs

HELP = "check the policy and the flags file against their schemas and each other"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument(
        "--base",
        metavar="REF",
        help="the git ref the change is made against (e.g. origin/main): if the flags file "
        "differs from its version there, its revision must be greater, or rampbot publish "
        "refuses it",
    )
    parser.add_argument(
        "files",
        nargs="*",
        help="ignored; lets pre-commit pass the changed file names",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    inputs = load_inputs(policy_path=args.policy, flags_path=args.flags)
    if args.base is not None:
        _check_revision_raised(inputs.flags_path, inputs.flags.text, base=args.base)
    print(f"{inputs.policy_path} and {inputs.flags_path} are valid")
    return 0


def _check_revision_raised(path: Path, text: str, *, base: str) -> None:
    repo = gitrepo.open_repository(path.resolve().parent)
    commit = gitrepo.resolve(repo, base)
    if commit is None:
        raise InputError(
            f"--base {base}: no such commit in this repository; fetch it first "
            "(actions/checkout with fetch-depth: 0)"
        )
    base_text = gitrepo.read_file(repo, commit, gitrepo.relative_path(repo, path))
    problem = unpublishable_edit(text, base_text, source=str(path), base=base)
    if problem is not None:
        raise problem
