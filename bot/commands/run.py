"""rampbot run: plan from the latest base branch and propose it as one pull request per branch."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from bot.commands.main_job import add_run_arguments, run_main_job

HELP = "open or update the ramp pull request (and a rollback one) from the latest base branch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return run_main_job(args, environ)
