"""The fault matrix: bad input gets one clear line, a non-zero exit, and nothing written.

Each table is one class of fault, run through main() as a user would, in a copy of the demo
repository; every case asserts the exit code, the exact message, and that no file changed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"
POLICY = ".github/rampbot.yml"
FLAGS = "flags.json"
HEALTH = "health.json"


def demo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    return repo


def files_of(repo: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(repo)): path.read_bytes() for path in repo.rglob("*") if path.is_file()
    }


# --- Input files: what the policy, flags file or health snapshot may not be. -----------------


@dataclass(frozen=True)
class FileCase:
    """One bad input file: ``edit`` turns the demo's text of ``file`` into the bad one."""

    name: str
    file: str
    edit: Callable[[str], str]
    message: str  # the whole of stderr
    exit_code: int = 1


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def whole(text: str) -> Callable[[str], str]:
    return lambda _: text


LONG_NAME = "t" * 201

INPUT_FILE_CASES = [
    FileCase(
        "pct-written-as-a-float",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": 10.0}'),
        "flags.json: features.receipts.tenants.acme.pct: 10.0 is not an integer; write 10\n",
    ),
    FileCase(
        "feature-pct-written-as-a-float",
        FLAGS,
        replace('"pct": 5,', '"pct": 5.0,'),
        "flags.json: features.attest.pct: 5.0 is not an integer; write 5\n",
    ),
    FileCase(
        "revision-written-as-a-float",
        FLAGS,
        replace('"version": "flags-v1",', '"version": "flags-v1", "revision": 3.0,'),
        "flags.json: revision: 3.0 is not an integer; write 3\n",
    ),
    FileCase(
        "pct-written-as-a-string",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": "10"}'),
        "flags.json: features.receipts.tenants.acme.pct: '10' is not of type 'integer'\n",
    ),
    FileCase(
        "pct-not-a-number",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": NaN}'),
        "flags.json: features.receipts.tenants.acme.pct: NaN is not a finite number\n",
    ),
    FileCase(
        "pct-infinite",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": Infinity}'),
        "flags.json: features.receipts.tenants.acme.pct: Infinity is not a finite number\n",
    ),
    FileCase(
        "misspelt-top-level-key",
        FLAGS,
        replace('"version": "flags-v1",', '"version": "flags-v1", "revison": 3,'),
        "flags.json: (top level): unknown key 'revison'; expected one of: $schema, features, "
        "revision, version (or a key starting with x-)\n",
    ),
    FileCase(
        "tenant-name-over-200-characters",
        FLAGS,
        replace('"acme": {"pct": 10}', f'"{LONG_NAME}": {{"pct": 10}}'),
        f"flags.json: features.receipts.tenants: '{'t' * 40}'... is 201 characters long, "
        "more than the 200 allowed\n",
    ),
    FileCase(
        "bake-time-zero",
        POLICY,
        replace("bake_time: 30m", "bake_time: 0s"),
        ".github/rampbot.yml: bake_time: '0s' is not longer than zero; give a duration such "
        "as 30m\n",
    ),
    FileCase(
        "bake-time-zero-in-two-units",
        POLICY,
        replace("bake_time: 30m", "bake_time: 0h0m"),
        ".github/rampbot.yml: bake_time: '0h0m' is not longer than zero; give a duration such "
        "as 30m\n",
    ),
    FileCase(
        "prometheus-timeout-and-step-zero",
        POLICY,
        replace("no_data: hold", "no_data: hold\nprometheus: {timeout: 0s, step: 0m}"),
        ".github/rampbot.yml: prometheus.timeout: '0s' is not longer than zero; give a duration "
        "such as 30m\n"
        ".github/rampbot.yml: prometheus.step: '0m' is not longer than zero; give a duration "
        "such as 30m\n",
    ),
    FileCase(
        "step-written-as-a-float",
        POLICY,
        replace("steps: [1, 5, 10, 25, 50, 100]", "steps: [1, 5, 10.0, 25, 50, 100]"),
        ".github/rampbot.yml: defaults.steps[2]: 10.0 is not an integer; write 10\n",
    ),
    FileCase(
        "max-written-as-a-float",
        POLICY,
        replace("max: 50", "max: 50.0"),
        ".github/rampbot.yml: features.attest.max: 50.0 is not an integer; write 50\n",
    ),
    FileCase(
        "snapshot-tenant-name-over-200-characters-in-the-policy",
        POLICY,
        replace("tenants: [acme,", f"tenants: [{LONG_NAME}, acme,"),
        f".github/rampbot.yml: tenants[0]: '{'t' * 40}'... is 201 characters long, more than "
        "the 200 allowed\n",
    ),
]


@pytest.mark.parametrize("case", INPUT_FILE_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("command", ["validate", "apply"])
def test_bad_input_file(tmp_path, capsys, case: FileCase, command: str):
    repo = demo(tmp_path)
    path = repo / case.file
    path.write_text(case.edit(path.read_text()))
    before = files_of(repo)
    extra = ["--health", HEALTH] if command == "apply" else []
    assert main(["-C", str(repo), command, *extra], environ={}) == case.exit_code
    captured = capsys.readouterr()
    assert captured.err == case.message
    assert captured.out == ""
    assert files_of(repo) == before


def test_the_demo_itself_is_valid_input(tmp_path, capsys):
    # The baseline every case above edits: without the edit, both commands succeed.
    repo = demo(tmp_path)
    assert main(["-C", str(repo), "validate"], environ={}) == 0
    assert main(["-C", str(repo), "plan", "--health", HEALTH], environ={}) == 0
    assert json.loads((repo / FLAGS).read_text())["features"]["receipts"]["pct"] == 0
