"""rampbot plan: decide every tenant and feature, print the plan; with --write, apply it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from bot.commands.planning import add_plan_arguments, print_plan

HELP = "print what rampbot would change in the flags file, and why"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_plan_arguments(parser)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return print_plan(args, environ)
