"""One module per command; each has HELP, add_arguments(parser) and run(args, environ) -> int."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping
from typing import Protocol, cast


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int: ...


# In the order of a ramp's life: check, decide, propose, undo, publish, explain. A command's
# module is imported when it runs, not before: PyGithub, GitPython, redis and requests take a
# tenth of a second or more each to import, and `rampbot plan --health FILE` needs none (issue 14).
COMMAND_MODULES: dict[str, str] = {
    name: f"bot.commands.{name}"
    for name in (
        "validate",
        "health",
        "plan",
        "apply",
        "run",
        "serve",
        "demo",
        "revert",
        "publish",
        "history",
    )
}


def load(name: str) -> Command:
    """The command named ``name``, its module imported now."""
    return cast(Command, importlib.import_module(COMMAND_MODULES[name]))
