"""The command line: parse arguments, run one command, turn errors into messages and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from bot import __version__
from bot.actions import annotation
from bot.commands import COMMANDS
from bot.errors import EXIT_INTERNAL, EXIT_USAGE, InputErrors, RampbotError

DESCRIPTION = """\
rampbot ramps per-tenant feature flags in flags.json from health signals, and proposes each
change as a pull request. See README.md for the policy file and every option.
"""

EPILOG = """\
exit codes: 0 done (red health is a result, not an error), 1 invalid input,
2 usage error, 3 a service could not be reached, 4 someone else changed the branch
"""

# Environment variables whose values must never be printed, whatever the error says.
SECRET_VARIABLES = (
    "GITHUB_TOKEN",
    "RAMPBOT_PROMETHEUS_TOKEN",
    "RAMPBOT_PROMETHEUS_PASSWORD",
    "RAMPBOT_REDIS_URL",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rampbot",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rampbot {__version__}")
    parser.add_argument(
        "-C",
        dest="directory",
        type=Path,
        metavar="DIR",
        help="run as if started in DIR (the repository's root), like git -C",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(
            subcommands.add_parser(
                name,
                help=command.HELP,
                description=command.HELP,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run rampbot; return the exit code."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse has printed the usage message
        return int(exit.code or 0) and EXIT_USAGE
    errors = ErrorPrinter(sys.stderr, environ)
    if args.directory is not None:
        try:
            os.chdir(args.directory)
        except OSError as error:
            errors.line(f"rampbot: -C {args.directory}: {error.strerror}")
            return EXIT_USAGE
    try:
        return COMMANDS[args.command].run(args, environ)
    except RampbotError as error:
        errors.report(error)
        return error.exit_code
    except Exception as error:  # a bug: one line, not a traceback, and a distinct exit code
        errors.line(
            f"rampbot: internal error: {type(error).__name__}: {error} "
            "(please report it with the command you ran)"
        )
        return EXIT_INTERNAL


class ErrorPrinter:
    """Prints errors one per line, as GitHub annotations in Actions, never showing a secret."""

    def __init__(self, stream: TextIO, environ: Mapping[str, str]) -> None:
        self.stream = stream
        self.in_actions = environ.get("GITHUB_ACTIONS") == "true"
        self.secrets = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]

    def report(self, error: RampbotError) -> None:
        for problem in error.problems if isinstance(error, InputErrors) else [error]:
            self.line(problem.message)
            if self.in_actions:
                self.line(
                    annotation("error", problem.message, file=problem.file, line=problem.line)
                )

    def line(self, text: str) -> None:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        print(text, file=self.stream)
