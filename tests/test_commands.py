"""The layout of the shell: each command module is a leaf, and secrets are named in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot
from bot.commands import COMMANDS
from bot.commands.secret_variables import SECRET_URL_VARIABLES, SECRET_VARIABLES, secret

PACKAGE = Path(bot.__file__).parent
COMMAND_MODULES = {
    Path(str(command.__file__)).stem  # type: ignore[attr-defined]
    for command in COMMANDS.values()
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, as dotted names, ``from bot.commands import x`` as its x."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_a_command_module_imports_no_other_command(name: str) -> None:
    imported = imported_modules(PACKAGE / "commands" / f"{name}.py")
    others = {f"bot.commands.{other}" for other in COMMAND_MODULES - {name}}
    assert imported & others == set()


def test_the_shared_shell_modules_import_no_command() -> None:
    commands = {f"bot.commands.{name}" for name in COMMAND_MODULES}
    for path in (PACKAGE / "commands").glob("*.py"):
        if path.stem in COMMAND_MODULES or path.stem == "__init__":
            continue
        assert imported_modules(path) & commands == set(), path.name


def test_a_secret_variable_is_named_only_in_its_module() -> None:
    named_in = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in SECRET_VARIABLES + SECRET_URL_VARIABLES
    }
    assert named_in == {"commands/secret_variables.py"}


def test_a_secret_is_read_only_when_listed() -> None:
    environ = {"GITHUB_TOKEN": "t0ken", "RAMPBOT_PROMETHEUS_TOKEN": "", "HOME": "/home/x"}
    assert secret(environ, "GITHUB_TOKEN") == "t0ken"
    assert secret(environ, "RAMPBOT_PROMETHEUS_TOKEN") is None
    assert secret(environ, "RAMPBOT_REDIS_URL") is None
    with pytest.raises(ValueError, match="HOME is not in SECRET_VARIABLES"):
        secret(environ, "HOME")
