"""One module per command; each has HELP, add_arguments(parser) and run(args, environ) -> int."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from types import ModuleType
from typing import Protocol, cast

from bot.commands import (
    apply,
    demo,
    health,
    history,
    plan,
    publish,
    revert,
    run,
    serve,
    validate,
)


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int: ...


def _command(module: ModuleType) -> Command:
    return cast(Command, module)


# In the order of a ramp's life: check, decide, propose, undo, publish, explain.
COMMANDS: dict[str, Command] = {
    "validate": _command(validate),
    "health": _command(health),
    "plan": _command(plan),
    "apply": _command(apply),
    "run": _command(run),
    "serve": _command(serve),
    "demo": _command(demo),
    "revert": _command(revert),
    "publish": _command(publish),
    "history": _command(history),
}
