"""The errors rampbot reports to its user, each with its exit code."""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_CONFLICT = 4
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in rampbot, not in the input
# What a shell reports for a program stopped by a signal: 128 + the signal's number.
EXIT_INTERRUPTED = 130  # SIGINT, Ctrl-C
EXIT_BROKEN_PIPE = 141  # SIGPIPE: the reader of the output went away (`| head`)
EXIT_TERMINATED = 143  # SIGTERM: a cancelled job, kill


class RampbotError(Exception):
    """An error with a message meant for the person running rampbot."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line


class InputError(RampbotError):
    """A file or option is invalid: the user must fix it."""

    exit_code = EXIT_INVALID_INPUT


class InputErrors(InputError):
    """Several problems found in one pass, reported one per line."""

    def __init__(self, problems: list[InputError]) -> None:
        super().__init__("\n".join(problem.message for problem in problems))
        self.problems = problems


class ServiceError(RampbotError):
    """A service (Prometheus, GitHub, Redis) could not be reached or refused the request."""

    exit_code = EXIT_SERVICE


class GitHubError(ServiceError):
    """GitHub could not be reached or refused the request (``rampbot serve`` counts them apart)."""


class ConflictError(RampbotError):
    """Someone else changed what rampbot was about to change; it stopped without writing."""

    exit_code = EXIT_CONFLICT
