"""The fault matrix: bad input and faults, each answered with its exit code and exact message.

Each table is one class of fault, run as a user would: input files through main() in a copy of
the demo repository; git, pushes and pull requests against a real origin and the GitHub double;
faults of the process itself (a closed pipe, Ctrl-C, kill) in a real subprocess. Every case
asserts the exit code, the whole of stderr, and that nothing was written (the working copy byte
for byte), pushed (the origin's refs) or opened (no write request reached the GitHub double).

Bad-input cases tested elsewhere, not repeated here, are listed in ELSEWHERE; a test checks
that each still exists.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CONFLICT,
    EXIT_INTERRUPTED,
    EXIT_SERVICE,
    EXIT_TERMINATED,
)
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import HEALTHY, open_pulls, rampbot, run_with, writes

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
        "policy-key-null",
        POLICY,
        replace("no_data: hold", "no_data: hold\n?"),
        ".github/rampbot.yml: (top level): key null is not text; write every key as a name "
        "(quote it if it looks like a number)\n",
    ),
    FileCase(
        "policy-key-a-number",
        POLICY,
        replace("no_data: hold", "no_data: hold\n1: x"),
        ".github/rampbot.yml: (top level): key 1 is not text; write every key as a name "
        "(quote it if it looks like a number)\n",
    ),
    FileCase(
        "policy-key-a-date-under-a-feature",
        POLICY,
        replace("max: 50", "max: 50\n    2026-01-01: x"),
        ".github/rampbot.yml: features.attest: key 2026-01-01 is not text; write every key as "
        "a name (quote it if it looks like a number)\n",
    ),
    FileCase(
        "snapshot-tenant-name-over-200-characters-in-the-policy",
        POLICY,
        replace("tenants: [acme,", f"tenants: [{LONG_NAME}, acme,"),
        f".github/rampbot.yml: tenants[0]: '{'t' * 40}'... is 201 characters long, more than "
        "the 200 allowed\n",
    ),
]


def alias_bomb() -> str:
    """Nine aliases deep, nine each: 387 million values once expanded, in 400 characters."""
    levels = ["&a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return f"[{', '.join(levels)}]"


def append(text: str) -> Callable[[str], str]:
    return lambda original: original + text


POLICY_DUPLICATE = ".github/rampbot.yml: (top level): key 'bake_time' appears 2 times"

INPUT_FILE_CASES += [
    FileCase(
        "repeated-tenant",
        FLAGS,
        replace('"globex": {"pct": 5},', '"globex": {"pct": 5},\n        "acme": {"pct": 50},'),
        "flags.json: features.receipts.tenants: key 'acme' appears 2 times (lines 8, 10); "
        "keep one\n",
    ),
    FileCase(
        "repeated-feature",
        FLAGS,
        replace('  "features": {\n', '  "features": {\n    "attest": {"pct": 50},\n'),
        "flags.json: features: key 'attest' appears 2 times (lines 4, 14); keep one\n",
    ),
    FileCase(
        "repeated-pct",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": 10, "pct": 50}'),
        "flags.json: features.receipts.tenants.acme: key 'pct' appears 2 times (lines 8, 8); "
        "keep one\n",
    ),
    FileCase(
        "repeated-bake-time",
        POLICY,
        append("bake_time: 1m\n"),
        f"{POLICY_DUPLICATE} (lines 5, 39); keep one\n",
    ),
    FileCase(
        "repeated-key-in-a-signal",
        POLICY,
        replace("    aggregate: min\n", '    aggregate: min\n    healthy: ">= 0"\n'),
        ".github/rampbot.yml: signals[0]: key 'healthy' appears 2 times (lines 12, 14); keep one\n",
    ),
    FileCase(
        "flags-nested-1000-deep",
        FLAGS,
        whole("[" * 1000 + "]" * 1000),
        "flags.json:1: nested more than 64 levels deep, more than rampbot reads\n",
    ),
    FileCase(
        "flags-nested-deep-in-an-extension",
        FLAGS,
        replace(
            '"version": "flags-v1",',
            '"version": "flags-v1", "x-n": ' + '{"a": ' * 200 + "1" + "}" * 200 + ",",
        ),
        "flags.json:2: nested more than 64 levels deep, more than rampbot reads\n",
    ),
    FileCase(
        "flags-brackets-in-a-string-are-not-nesting",
        FLAGS,
        replace(
            '"acme": {"pct": 10}', '"acme": {"pct": 10, "note": "' + "[" * 200 + '", "pct": 1}'
        ),
        "flags.json: features.receipts.tenants.acme: key 'pct' appears 2 times (lines 8, 8); "
        "keep one\n",
    ),
    FileCase(
        "flags-integer-of-5000-digits",
        FLAGS,
        replace('"acme": {"pct": 10}', '"acme": {"pct": ' + "9" * 5000 + "}"),
        "flags.json:8: a number of more than 4,300 digits, more than rampbot reads\n",
    ),
    FileCase(
        "policy-nested-1000-deep",
        POLICY,
        append("x-deep: " + "[" * 1000 + "]" * 1000 + "\n"),
        ".github/rampbot.yml: nested more than 64 levels deep, more than rampbot reads\n",
    ),
    FileCase(
        "policy-block-nesting-100-deep",
        POLICY,
        append("".join("  " * level + "a:\n" for level in range(100))),
        ".github/rampbot.yml:103: nested more than 64 levels deep, more than rampbot reads\n",
    ),
    FileCase(
        "policy-integer-of-5000-digits",
        POLICY,
        append("prometheus: {retries: " + "9" * 5000 + "}\n"),
        ".github/rampbot.yml:39: a value of 5,000 characters with more than 100 digits in a row; "
        "rampbot reads numbers of at most 100 digits (quote it if it is text)\n",
    ),
    FileCase(
        "alias-bomb-in-pull-request-labels",
        POLICY,
        replace("  labels: [flags]", f"  labels: {alias_bomb()}"),
        ".github/rampbot.yml:38: expands to more than 100,000 values through aliases (*name), "
        "more than rampbot reads; write the values out\n",
    ),
    FileCase(
        "alias-bomb-in-tenants",
        POLICY,
        replace("tenants: [acme, globex, initech, umbrella]", f"tenants: {alias_bomb()}"),
        ".github/rampbot.yml:4: expands to more than 100,000 values through aliases (*name), "
        "more than rampbot reads; write the values out\n",
    ),
    FileCase(
        "an-alias-inside-itself",
        POLICY,
        append("x-loop: &loop [*loop]\n"),
        ".github/rampbot.yml:39: an alias refers to the value that contains it; rampbot reads "
        "no self-referring values\n",
    ),
    FileCase(
        "policy-over-a-mebibyte",
        POLICY,
        append("# " + "x" * (1024 * 1024) + "\n"),
        f".github/rampbot.yml: {1024 * 1024 + 821:,} characters, more than the 1,048,576 "
        "rampbot reads in a policy\n",
    ),
]


@pytest.mark.timeout(10)  # the alias bomb took 55 s and gigabytes before (issue 9)
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


HEALTH_FILE_CASES = [
    FileCase(
        "repeated-signal-in-a-snapshot",
        HEALTH,
        replace('"coverage": 97.2,', '"coverage": 97.2, "coverage": 12,'),
        "health.json: tenants.acme: key 'coverage' appears 2 times (lines 4, 4); keep one\n",
    ),
    FileCase(
        "repeated-tenant-in-a-snapshot",
        HEALTH,
        replace('"globex": {', '"acme": {"coverage": 1},\n    "globex": {'),
        "health.json: tenants: key 'acme' appears 2 times (lines 4, 5); keep one\n",
    ),
    FileCase(
        "snapshot-nested-1000-deep",
        HEALTH,
        whole('{"tenants": ' + "[" * 1000 + "]" * 1000 + "}"),
        "health.json:1: nested more than 64 levels deep, more than rampbot reads\n",
    ),
    FileCase(
        "snapshot-integer-of-5000-digits",
        HEALTH,
        replace('"divergence": 4', '"divergence": ' + "4" * 5000),
        "health.json:6: a number of more than 4,300 digits, more than rampbot reads\n",
    ),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", HEALTH_FILE_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("command", ["plan", "apply", "health"])
def test_bad_health_file(tmp_path, capsys, case: FileCase, command: str):
    repo = demo(tmp_path)
    path = repo / case.file
    path.write_text(case.edit(path.read_text()))
    before = files_of(repo)
    assert main(["-C", str(repo), command, "--health", HEALTH], environ={}) == case.exit_code
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


ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"
TESTS = Path(__file__).resolve().parent

# Bad input answered elsewhere in the suite with an exact message and exit code.
ELSEWHERE = {
    "a flags value out of range, several problems one per line": (
        "test_cli.py",
        "test_validate_reports_every_problem_one_per_line",
    ),
    "an annotation per problem in GitHub Actions": (
        "test_cli.py",
        "test_validate_annotates_errors_in_github_actions",
    ),
    "an edit that keeps the revision (validate --base)": (
        "test_cli.py",
        "test_validate_base_refuses_an_edit_that_keeps_the_revision",
    ),
    "missing files and usage errors": ("test_cli.py", "test_missing_files_and_usage_errors"),
    "a missing health file": (
        "test_cli.py",
        "test_a_missing_health_file_is_an_error_not_a_step_down",
    ),
    "an unknown signal in a health file": ("test_cli.py", "test_unknown_signal_in_health_file"),
    "malformed health JSON": ("test_cli.py", "test_malformed_health_json"),
    "secrets never printed": ("test_cli.py", "test_secrets_never_reach_the_output"),
    "a malformed evaluation time": (
        "test_cli.py",
        "test_a_malformed_evaluation_time_in_a_snapshot_is_an_input_error",
    ),
    "thousands of problems, quickly": (
        "test_cli.py",
        "test_thousands_of_problems_are_reported_quickly",
    ),
    "a malformed Redis URL": (
        "test_publish.py",
        "test_a_malformed_redis_url_is_an_input_error_naming_its_source",
    ),
    "a malformed Redis option": (
        "test_publish.py",
        "test_a_malformed_redis_option_is_named_as_the_option",
    ),
    "an unreachable or silent Prometheus": (
        "test_run_scenarios.py",
        "test_an_unreachable_prometheus_changes_nothing",
    ),
    "a branch moved twice": (
        "test_run_scenarios.py",
        "test_a_branch_moved_twice_stops_with_a_conflict_and_touches_no_pull_request",
    ),
    "an open pull request reverted": (
        "test_revert.py",
        "test_an_open_pull_request_cannot_be_reverted",
    ),
}


def test_the_cases_tested_elsewhere_still_exist() -> None:
    for where, name in ELSEWHERE.values():
        tree = ast.parse((TESTS / where).read_text(encoding="utf-8"))
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in names, f"{where}::{name} is gone: move its case into this module"


# --- Messages and escapes: a copy of the demo folder, in a git repository. -------------------


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    shutil.copytree(DEMO, folder)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "--all")
    git(folder, "commit", "-q", "-m", "start")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, .git included: what "nothing was written" compares."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


@dataclass(frozen=True)
class Case:
    """A bad input: how to make it in the demo repository, the command, and the answer."""

    name: str
    make: Callable[[Path], None]
    argv: tuple[str, ...]
    exit_code: int
    stderr: str
    environ: tuple[tuple[str, str], ...] = ()
    stdout: str = ""


def _append_policy(text: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        policy = folder / ".github" / "rampbot.yml"
        original = policy.read_text(encoding="utf-8").replace("flags_file: flags.json\n", "")
        policy.write_text(original + text, encoding="utf-8")

    return make


def _rename_tenant(name: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        flags = folder / "flags.json"
        flags.write_text(
            flags.read_text(encoding="utf-8").replace('"acme"', json.dumps(name)), encoding="utf-8"
        )

    return make


def _damage_history(folder: Path) -> None:
    """Remove the object of the first commit: git log cannot walk the history any more."""
    commit = git(folder, "rev-parse", "HEAD").strip()
    (folder / "flags.json").write_text(
        (folder / "flags.json").read_text(encoding="utf-8").replace('"pct": 10', '"pct": 25', 1)
    )
    git(folder, "commit", "-q", "-am", "a step by hand")
    (folder / ".git" / "objects" / commit[:2] / commit[2:]).unlink()


INJECTED = "nofile\n::error title=PWNED::x\x1b]0;owned\x07\u202e"
INJECTED_SHOWN = "nofile\\n::error title=PWNED::x\\x1b]0;owned\\x07\\u202e"

CASES = [
    Case(
        name="a policy value that would be a workflow command",
        make=_append_policy(f"flags_file: {json.dumps(INJECTED)}\n"),
        argv=("validate",),
        exit_code=1,
        stderr=(
            f"{INJECTED_SHOWN}: no such flags file; pass --flags PATH or set flags_file in the "
            "policy\n"
        ),
    ),
    Case(
        name="the same in GitHub Actions: one annotation, its text escaped",
        make=_append_policy(f"flags_file: {json.dumps(INJECTED)}\n"),
        argv=("validate",),
        environ=(("GITHUB_ACTIONS", "true"),),
        exit_code=1,
        stderr=(
            f"{INJECTED_SHOWN}: no such flags file; pass --flags PATH or set flags_file in the "
            "policy\n"
            "::error file=nofile\\n%3A%3Aerror title=PWNED%3A%3Ax\\x1b]0;owned\\x07\\u202e::"
            f"{INJECTED_SHOWN}: no such flags file; pass --flags PATH or set flags_file in the "
            "policy\n"
        ),
    ),
    Case(
        name="a flags path that starts like a workflow command",
        make=lambda folder: None,
        argv=("validate", "--flags", "::error::x"),
        exit_code=1,
        stderr="\\x3a:error::x: no such flags file; pass --flags PATH or set flags_file in the policy\n",
    ),
    Case(
        name="a token without GITHUB_REPOSITORY",
        make=lambda folder: None,
        argv=("run", "--dry-run", "--health", "health.json"),
        environ=(("GITHUB_TOKEN", "ghp_t0ken-value"),),
        exit_code=1,
        stderr=(
            "GITHUB_REPOSITORY is not set: set it to OWNER/NAME of the repository "
            "(GitHub Actions sets it)\n"
        ),
    ),
    Case(
        name="git cannot read the history",
        make=_damage_history,
        argv=("history",),
        exit_code=EXIT_SERVICE,
        stderr="",  # git's own words vary by version: checked by prefix in the test below
    ),
]


def _stderr_prefix(case: Case) -> str | None:
    return (
        "git log failed: error: Could not read "
        if case.name == "git cannot read the history"
        else None
    )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case.make(repo)
    before = snapshot(repo)
    code = main(["-C", str(repo), *case.argv], environ=dict(case.environ))
    captured = capsys.readouterr()
    assert code == case.exit_code, captured.err
    prefix = _stderr_prefix(case)
    if prefix is None:
        assert captured.err == case.stderr
    else:
        assert captured.err.startswith(prefix), captured.err
        assert captured.err.endswith(
            "; check the repository (git status, git fsck) and run rampbot again\n"
        )
        assert captured.err.count("\n") == 1
    assert captured.out == case.stdout
    assert snapshot(repo) == before


def test_no_human_line_starts_a_workflow_command(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In Actions, the only line that starts with `::` is rampbot's own annotation."""
    _append_policy(f"flags_file: {json.dumps(INJECTED)}\n")(repo)
    for environ in ({}, {"GITHUB_ACTIONS": "true"}):
        assert main(["-C", str(repo), "validate"], environ=environ) == 1
        lines = capsys.readouterr().err.splitlines()
        commands = [line for line in lines if line.lstrip().startswith("::")]
        assert len(commands) == (1 if environ else 0)
        assert all(line.startswith("::error file=") for line in commands)
        assert all("\x1b" not in line and "\u202e" not in line for line in lines)


EVIL_TENANT = "ev\x1b]0;x\x07il\n::error::y\u202e"
EVIL_TENANT_SHOWN = "ev\\x1b]0;x\\x07il\\n::error::y\\u202e"


def test_the_health_table_escapes_tenant_names(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append_policy("flags_file: flags.json\n")(repo)
    policy = repo / ".github" / "rampbot.yml"
    policy.write_text(
        "".join(
            line
            for line in policy.read_text(encoding="utf-8").splitlines(keepends=True)
            if not line.startswith("tenants:")
        )
    )
    health = {"tenants": {EVIL_TENANT: {"coverage": 99}}, "alerts": []}
    (repo / "evil.json").write_text(json.dumps(health), encoding="utf-8")
    assert main(["-C", str(repo), "health", "--health", "evil.json"], environ={}) == 0
    lines = capsys.readouterr().out.splitlines()
    [row] = [line for line in lines if line.startswith("ev")]
    assert row.split()[:2] == [EVIL_TENANT_SHOWN, "99"]
    header = lines[1]
    assert row.index("99") == header.index("coverage")  # the columns still line up


def test_history_escapes_author_names(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = repo / "flags.json"
    flags.write_text(flags.read_text(encoding="utf-8").replace('"pct": 10', '"pct": 25', 1))
    name = "Mal\x1b[2J\x1b]8;;http://x\x07\u202elory"
    subprocess.run(
        ["git", "commit", "-q", "-am", "by hand"],
        cwd=repo,
        check=True,
        env={**os.environ, "GIT_AUTHOR_NAME": name},
    )
    assert main(["-C", str(repo), "history"], environ={}) == 0
    out = capsys.readouterr().out
    assert "Mal\\x1b[2J\\x1b]8;;http://x\\x07\\u202elory" in out
    assert not any(char in out for char in "\x1b\x07\u202e")


def test_a_redis_url_without_a_password_is_shown_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "flags.json").write_text((DEMO / "flags.json").read_text(encoding="utf-8"))
    url = "redis://127.0.0.1:9/0"  # nobody listens on the discard port
    environ = {"RAMPBOT_REDIS_URL": url}
    code = main(["-C", str(tmp_path), "publish"], environ=environ)
    err = capsys.readouterr().err
    assert code == EXIT_SERVICE
    assert err.startswith(f"Redis at {url}: ")
    assert "***" not in err
    with_password = "redis://:pw-s3cret@127.0.0.1:9/0"
    code = main(["-C", str(tmp_path), "publish"], environ={"RAMPBOT_REDIS_URL": with_password})
    err = capsys.readouterr().err
    assert err.startswith("Redis at redis://127.0.0.1:9/0: ")
    assert "pw-s3cret" not in err


def test_git_missing_from_path_is_a_message(repo: Path) -> None:
    python = Path(sys.executable)
    environ = {**os.environ, "PATH": str(python.parent)}
    if shutil.which("git", path=environ["PATH"]):
        pytest.skip("git lives next to python here")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "-C", str(repo), "history"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        EXIT_SERVICE,
        "git: command not found; install git and make sure it is on PATH\n",
    )


# --- Faults of the process: a reader that goes away, Ctrl-C, kill. ---


def _interruptible() -> None:
    """Ctrl-C as at a terminal: a suite started in the background inherits SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _rampbot_process(*args: str, cwd: Path, **options: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "bot", *args], cwd=cwd, preexec_fn=_interruptible, **options
    )


@pytest.mark.parametrize(
    "args",
    [("demo",), ("history",), ("plan", "--health", "health.json"), ("validate",)],
    ids=["demo", "history", "plan", "validate"],
)
def test_a_reader_that_went_away_gets_quiet(args: tuple[str, ...], repo: Path) -> None:
    """`rampbot demo | head -3`: no internal error, no traceback, the shell's code for SIGPIPE."""
    cwd = ROOT if args == ("demo",) else repo
    process = _rampbot_process(*args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stderr is not None
    # The reader closes before rampbot writes: its first line finds the pipe closed, whatever
    # the timing (a reader closing after some lines races with rampbot finishing first).
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert (process.wait(timeout=60), stderr) == (EXIT_BROKEN_PIPE, "")


@pytest.fixture
def silent_prometheus() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(60)
    return listener


@pytest.mark.parametrize(
    ("sent", "exit_code"),
    [(signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED)],
    ids=["ctrl-c", "kill"],
)
def test_a_signal_stops_rampbot_without_a_traceback(
    sent: signal.Signals, exit_code: int, repo: Path, silent_prometheus: socket.socket
) -> None:
    url = f"http://127.0.0.1:{silent_prometheus.getsockname()[1]}"
    before = snapshot(repo)
    process = _rampbot_process(
        "apply", "--prometheus-url", url, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    connection, _ = silent_prometheus.accept()  # rampbot is waiting for Prometheus now
    try:
        process.send_signal(sent)
        out, err = process.communicate(timeout=60)
    finally:
        connection.close()
        silent_prometheus.close()
    assert (process.returncode, err.decode(), out.decode()) == (exit_code, "", "")
    assert snapshot(repo) == before


# --- Commands that push and open pull requests: the origin and the GitHub double. ---


def move_revert_branch_on_push(clone: Path, origin: BareRepo, branch: str, sha: str) -> None:
    """A pre-push hook that points ``branch`` on the origin at ``sha`` first: another push won."""
    hook = clone / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"""#!{sys.executable}
import os, subprocess
env = {{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}}
subprocess.run(
    ["git", "--git-dir", {str(origin.path)!r}, "update-ref", "refs/heads/{branch}", {sha!r}],
    check=True, env=env,
)
"""
    )
    hook.chmod(0o755)


def test_a_revert_whose_branch_moved_is_a_conflict_not_an_internal_error(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot_file = tmp_path / "acme.json"
    snapshot_file.write_text(json.dumps({"tenants": {"acme": HEALTHY}, "alerts": []}))
    assert run_with(github_env, snapshot_file)[0] == 0
    [pull] = open_pulls(github_double)
    merge = github_double.merge(pull.number)
    branch = f"rampbot/revert-{pull.number}"
    move_revert_branch_on_push(github_clone, github_origin, branch, merge)
    requests_before = len(writes(github_double))
    capsys.readouterr()

    code, out = rampbot(github_env, "revert", str(pull.number), capsys=capsys)

    assert code == EXIT_CONFLICT, out
    assert out.startswith(f"{branch} moved on origin: ")
    assert out.endswith(
        f"; someone else pushed {branch} since rampbot fetched it; nothing was opened. Run "
        f"rampbot revert {pull.number} again\n"
    )
    assert out.count("\n") == 1
    assert github_origin.resolve(f"refs/heads/{branch}") == merge  # the other push stands
    assert len(writes(github_double)) == requests_before
    assert open_pulls(github_double) == []


def test_github_failing_after_the_push_says_what_was_pushed_and_the_next_run_reuses_it(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot_file = tmp_path / "acme.json"
    snapshot_file.write_text(json.dumps({"tenants": {"acme": HEALTHY}, "alerts": []}))
    fault = github_double.fail_next("POST", "/repos/acme/flags/pulls", 500, times=None)

    code, out = run_with(github_env, snapshot_file, capsys=capsys)

    pushed = github_origin.resolve("refs/heads/rampbot/ramp")
    assert code == EXIT_SERVICE
    assert pushed is not None
    error = out.splitlines()[-1]
    assert error.startswith("GitHub: could not open a pull request")
    assert error.endswith(
        f". rampbot/ramp was pushed ({pushed[:12]}) but its pull request was not opened or "
        "updated; the next run reuses the branch and finishes the pull request"
    )
    assert open_pulls(github_double) == []

    with github_double.lock:
        github_double.faults.remove(fault)
    code, out = run_with(github_env, snapshot_file, capsys=capsys)
    assert code == 0, out
    [pull] = open_pulls(github_double)
    assert pull.head == "rampbot/ramp"
    assert github_origin.resolve("refs/heads/rampbot/ramp") == pushed  # reused, not pushed again


def test_json_output_stays_json_around_a_workflow_command(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The runner obeys `##[command]` anywhere in a line; its escape must still be JSON.
    summary = "see ##[error]x, ::warning::y \u0085 \u202e"
    health = json.loads((repo / "health.json").read_text(encoding="utf-8"))
    health["alerts"] = [
        {"alertname": "Bad##[group]", "severity": "critical", "tenant": "acme", "summary": summary}
    ]
    (repo / "health.json").write_text(json.dumps(health), encoding="utf-8")
    for argv in (["plan", "--health", "health.json"], ["health", "--health", "health.json"]):
        assert main(["-C", str(repo), *argv, "--format", "json"], environ={}) == 0
        out = capsys.readouterr().out
        assert "##[" not in out
        assert summary in json.dumps(json.loads(out), ensure_ascii=False), argv[0]

    flags = repo / "flags.json"
    flags.write_text(flags.read_text(encoding="utf-8").replace('"pct": 10', '"pct": 25', 1))
    subprocess.run(
        ["git", "commit", "-q", "-am", "by hand"],
        cwd=repo,
        check=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "Mal ##[error]lory"},
    )
    assert main(["-C", str(repo), "history", "--format", "json"], environ={}) == 0
    out = capsys.readouterr().out
    assert "##[" not in out
    assert "Mal ##[error]lory <[email]>" in {c["author"] for c in json.loads(out)["changes"]}
