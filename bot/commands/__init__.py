"""One module per command; each has HELP, add_arguments(parser) and run(args, environ) -> int."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from types import ModuleType
from typing import Protocol, cast

from bot.commands import apply, demo, health, history, plan, publish, revert, run, validate


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int: ...


def _command(module: ModuleType) -> Command:
    return cast(Command, module)


COMMANDS: dict[str, Command] = {
    "validate": _command(validate),
    "plan": _command(plan),
    "apply": _command(apply),
    "publish": _command(publish),
    "history": _command(history),
    "health": _command(health),
    "run": _command(run),
    "revert": _command(revert),
    "demo": _command(demo),
}
