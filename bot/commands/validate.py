"""rampbot validate: check the policy and the flags file, alone and against each other."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from bot.commands.options import add_input_options
from bot.inputs import load_inputs

HELP = "check the policy and the flags file against their schemas and each other"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument(
        "files",
        nargs="*",
        help="ignored; lets pre-commit pass the changed file names",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    inputs = load_inputs(policy_path=args.policy, flags_path=args.flags)
    print(f"{inputs.policy_path} and {inputs.flags_path} are valid")
    return 0
