"""The command line: parse arguments, run one command, turn errors into messages and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

from bot import __version__, outbound
from bot.actions import annotation
from bot.commands import COMMAND_MODULES, load
from bot.commands.secret_variables import SECRET_URL_VARIABLES, SECRET_VARIABLES
from bot.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    InputErrors,
    RampbotError,
)
from bot.terminal import EscapingStream, OutputClosed, printable

DESCRIPTION = """\
rampbot ramps per-tenant feature flags in flags.json from health signals, and proposes each
change as a pull request. See README.md for the policy file and every option.
"""

EPILOG = """\
exit codes: 0 done (red health is a result, not an error), 1 invalid input,
2 usage error, 3 a service could not be reached, 4 someone else changed the branch,
130 interrupted (Ctrl-C), 141 the reader of the output went away (| head)
"""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the options of the command ``argv`` names, or of every command."""
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
    chosen = _command_named(argv)
    for name in COMMAND_MODULES:
        if chosen is not None and name != chosen:
            # Not run, so not imported: its options are not needed to parse these arguments.
            subcommands.add_parser(name)
            continue
        command = load(name)
        command.add_arguments(
            subcommands.add_parser(
                name,
                help=command.HELP,
                description=command.HELP,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def _command_named(argv: Sequence[str] | None) -> str | None:
    """The command the arguments name, if they name one; None asks for every command (help)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    while arguments:
        argument = arguments.pop(0)
        if argument == "-C":  # the only option before the command that takes a value
            arguments[:1] = []
        elif not argument.startswith("-"):
            return argument if argument in COMMAND_MODULES else None
        elif argument in ("-h", "--help"):
            return None
    return None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run rampbot; return the exit code."""
    environ = os.environ if environ is None else environ
    stdout, stderr = sys.stdout, sys.stderr
    # Everything printed or logged has its personal data redacted (bot/outbound.py), then its
    # control characters escaped (EscapingStream); only ErrorPrinter's annotations, built by
    # bot/actions.py, are written to the real stderr, redacted by ErrorPrinter itself.
    outbound.begin()
    sys.stdout = outbound.RedactingStream(EscapingStream(stdout))
    sys.stderr = outbound.RedactingStream(EscapingStream(stderr))
    undo_log_cleaning = outbound.install_log_cleaning()
    # -C changes the process's folder; a caller of main() (a test, a script) gets its own back.
    try:
        started_in: str | None = os.getcwd()
    except OSError:
        started_in = None
    try:
        with _terminate_as_exception(), _fewer_collections():
            code = _run(argv, environ, errors=ErrorPrinter(stderr, environ))
        sys.stdout.flush()
        suggestions = outbound.suggestions()
        if suggestions:
            print(suggestions, file=sys.stderr)
        sys.stderr.flush()
        return code
    except KeyboardInterrupt:
        # Ctrl-C: stop like a Unix tool, with the shell's code for SIGINT and no traceback.
        # A file being written is cleaned up on the way (bot/files.py).
        return EXIT_INTERRUPTED
    except _Terminated:
        return EXIT_TERMINATED
    except OutputClosed:
        # The reader went away (`rampbot demo | head -3`): say nothing more, and keep Python
        # from complaining when it flushes stdout at exit
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        _silence(stdout)
        return EXIT_BROKEN_PIPE
    finally:
        undo_log_cleaning()
        sys.stdout, sys.stderr = stdout, stderr
        if started_in is not None:
            with contextlib.suppress(OSError):
                os.chdir(started_in)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    # Python starts a collection every 700 new container objects; reading a flags file of
    # 10,000 tenants builds 200,000 of them, none in a cycle, and each pass over the growing
    # heap found nothing: a fifth of `rampbot apply`'s CPU time (issue 14). Cycles are still
    # collected, only less often.
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _run(argv: Sequence[str] | None, environ: Mapping[str, str], *, errors: ErrorPrinter) -> int:
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse has printed the usage message
        return int(exit.code or 0) and EXIT_USAGE
    if args.directory is not None:
        try:
            os.chdir(args.directory)
        except OSError as error:
            errors.line(f"rampbot: -C {args.directory}: {error.strerror}")
            return EXIT_USAGE
    try:
        code = load(args.command).run(args, environ)
        sys.stdout.flush()  # a closed pipe is found here, not at exit
        return code
    except RampbotError as error:
        errors.report(error)
        return error.exit_code
    except OutputClosed:
        raise
    except Exception as error:  # a bug: one line, not a traceback, and a distinct exit code
        errors.line(
            f"rampbot: internal error: {type(error).__name__}: {error} "
            "(please report it with the command you ran)"
        )
        return EXIT_INTERNAL


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that files being written are cleaned up."""


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM (a cancelled CI job, kill) into an exception while a command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a signal handler
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence(stream: TextIO) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass  # not a real file (a test's capture): nothing will flush it at exit


class ErrorPrinter:
    """Prints errors one per line, as GitHub annotations in Actions, never showing a secret."""

    def __init__(self, stream: TextIO, environ: Mapping[str, str]) -> None:
        self.stream = stream
        self.in_actions = environ.get("GITHUB_ACTIONS") == "true"
        self.secrets = secrets_in(environ)

    def report(self, error: RampbotError) -> None:
        for problem in error.problems if isinstance(error, InputErrors) else [error]:
            self.line(problem.message)
            if self.in_actions:
                # The one workflow command rampbot prints; its text is escaped like any line.
                command = annotation(
                    "error",
                    printable(problem.message),
                    file=printable(problem.file) if problem.file else None,
                    line=problem.line,
                )
                self._write(command)

    def line(self, text: str) -> None:
        """One line for a person: control characters escaped, secrets hidden."""
        self._write(printable(text))

    def _write(self, text: str) -> None:
        text = outbound.clean(text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        try:
            print(text, file=self.stream)
        except BrokenPipeError:
            raise OutputClosed from None


def secrets_in(environ: Mapping[str, str]) -> list[str]:
    """The values never to print: secret variables whole, and the passwords in secret URLs."""
    found = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]
    for name in SECRET_URL_VARIABLES:
        password = _url_password(environ.get(name) or "")
        if password:
            found.append(password)
    return found


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # too broken to split; then the password is whatever precedes the "@"
        userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
        return userinfo.partition(":")[2] or None
