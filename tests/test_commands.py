"""The layout of the shell: each command module is a leaf, and secrets are named in one place."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from bot.commands import COMMAND_MODULES
from bot.commands.secret_variables import SECRET_URL_VARIABLES, SECRET_VARIABLES, secret

PACKAGE = Path(bot.__file__).parent
EXAMPLE = PACKAGE.parent / "examples" / "demo"
COMMAND_NAMES = {module.rpartition(".")[2] for module in COMMAND_MODULES.values()}


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


@pytest.mark.parametrize("name", sorted(COMMAND_NAMES))
def test_a_command_module_imports_no_other_command(name: str) -> None:
    imported = imported_modules(PACKAGE / "commands" / f"{name}.py")
    others = {f"bot.commands.{other}" for other in COMMAND_NAMES - {name}}
    assert imported & others == set()


def test_the_shared_shell_modules_import_no_command() -> None:
    commands = {f"bot.commands.{name}" for name in COMMAND_NAMES}
    for path in (PACKAGE / "commands").glob("*.py"):
        if path.stem in COMMAND_NAMES or path.stem == "__init__":
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


# What a command costs to start: its own libraries, not every command's (issue 14).
CLIENT_LIBRARIES = ("github", "git", "redis", "requests", "prometheus_client")
LOADED = """\
import contextlib, io, sys
with contextlib.redirect_stdout(io.StringIO()):
    {run}
print(*sorted(m for m in {names!r} if m in sys.modules))
"""


def loaded_after(code: str, *, cwd: Path, names: tuple[str, ...] = ()) -> set[str]:
    """Which of CLIENT_LIBRARIES and the command modules a fresh interpreter has after ``code``."""
    names = names or (*CLIENT_LIBRARIES, *COMMAND_MODULES.values())
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(run=code, names=names)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_importing_the_command_line_imports_no_command_and_no_client(tmp_path: Path) -> None:
    assert loaded_after("import bot.cli", cwd=tmp_path) == set()


def test_a_plan_from_a_snapshot_outside_git_imports_only_what_it_uses(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "demo")
    run = "from bot.cli import main; main(['plan', '--health', 'health.json'], environ={})"
    assert loaded_after(run, cwd=tmp_path / "demo") == {"bot.commands.plan"}


def test_valid_files_are_checked_without_importing_the_wording_validator(tmp_path: Path) -> None:
    # jsonschema words the errors; the compiled validator alone says a valid file is valid.
    shutil.copytree(EXAMPLE, tmp_path / "demo")
    run = "from bot.cli import main; main(['plan', '--health', 'health.json'], environ={})"
    assert loaded_after(run, cwd=tmp_path / "demo", names=("jsonschema",)) == set()
    policy = tmp_path / "demo" / ".github" / "rampbot.yml"
    policy.write_text(policy.read_text() + "bake_tme: 30m\n")
    assert loaded_after(run, cwd=tmp_path / "demo", names=("jsonschema",)) == {"jsonschema"}


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["--help"], environ={}) == 0
    listed = capsys.readouterr().out
    for name in COMMAND_MODULES:
        assert f"    {name}" in listed
