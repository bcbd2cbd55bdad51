"""rampbot apply: write the planned flags file (``rampbot plan --write``)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from bot.commands.planning import add_plan_arguments, print_plan

HELP = "write the planned flags file, checked against the schema (same as plan --write)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_plan_arguments(parser)
    parser.set_defaults(write=True)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    args.write = True
    return print_plan(args, environ)
