"""The validate, plan and apply commands, run through main() as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"


# A day before the demo snapshot was taken: outside git, the flags file's last write dates
# every tenant's last change, and health older than that cannot step anyone up.
BEFORE_THE_SNAPSHOT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC).timestamp()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "repo")
    os.utime(tmp_path / "repo" / "flags.json", (BEFORE_THE_SNAPSHOT, BEFORE_THE_SNAPSHOT))
    return tmp_path / "repo"


def run(repo: Path, *args: str, environ: dict[str, str] | None = None) -> int:
    return main(["-C", str(repo), *args], environ=environ or {})


def test_validate_accepts_the_example(repo, capsys):
    assert run(repo, "validate") == 0
    assert capsys.readouterr().out == ".github/rampbot.yml and flags.json are valid\n"


def test_validate_reports_every_problem_one_per_line(repo, capsys):
    flags = json.loads((repo / "flags.json").read_text())
    flags["features"]["receipts"]["tenants"]["acme"]["pct"] = 140
    flags["features"]["receipts"]["tenants"]["globex"]["pct"] = 7
    (repo / "flags.json").write_text(json.dumps(flags, indent=2))
    assert run(repo, "validate") == 1
    assert capsys.readouterr().err == (
        "flags.json: features.receipts.tenants.acme.pct: 140 is greater than the maximum of 100\n"
    )
    flags["features"]["receipts"]["tenants"]["acme"]["pct"] = 10
    del flags["features"]["attest"]
    (repo / "flags.json").write_text(json.dumps(flags, indent=2))
    assert run(repo, "validate") == 1
    assert capsys.readouterr().err == (
        "flags.json: features.receipts.tenants.globex.pct: 7 is not on the schedule of "
        "features.receipts in .github/rampbot.yml (0, 1, 5, 10, 25, 50, 100); "
        "use one of these or add 7 to its steps\n"
        "flags.json: features: no feature 'attest', which .github/rampbot.yml ramps; "
        "add it (with its pct) or remove it from the policy\n"
    )


def test_validate_annotates_errors_in_github_actions(repo, capsys):
    text = (repo / "flags.json").read_text().replace('"acme": {"pct": 10}', '"acme": {"pct": 101}')
    (repo / "flags.json").write_text(text)
    assert run(repo, "validate", environ={"GITHUB_ACTIONS": "true"}) == 1
    assert capsys.readouterr().err.splitlines() == [
        "flags.json: features.receipts.tenants.acme.pct: 101 is greater than the maximum of 100",
        "::error file=flags.json,line=8::flags.json: features.receipts.tenants.acme.pct: "
        "101 is greater than the maximum of 100",
    ]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return done.stdout.decode()


@pytest.fixture
def committed(repo: Path) -> Path:
    """The example as a git repository whose `main` holds flags.json at revision 7."""
    text = (repo / "flags.json").read_text()
    (repo / "flags.json").write_text(text.replace('"version": "flags-v1",', VERSION_AND_7))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "flags")
    git(repo, "checkout", "-qb", "edit")
    return repo


VERSION_AND_7 = '"version": "flags-v1",\n  "revision": 7,'


def edit_acme(repo: Path, pct: int, *, revision: int | None = 7) -> None:
    """Set acme's pct and the revision (None: no revision) in main's flags.json."""
    text = git(repo, "show", "main:flags.json")
    text = text.replace('"acme": {"pct": 10}', f'"acme": {{"pct": {pct}}}')
    if revision is None:
        text = text.replace('\n  "revision": 7,', "")
    else:
        text = text.replace('"revision": 7,', f'"revision": {revision},')
    (repo / "flags.json").write_text(text)


def test_validate_base_refuses_an_edit_that_keeps_the_revision(committed, capsys):
    edit_acme(committed, 25)
    assert run(committed, "validate", "--base", "main", environ={"GITHUB_ACTIONS": "true"}) == 1
    message = (
        "flags.json: revision: 7 is not greater than 7 at main, but the file changed; "
        "raise revision to 8 so that rampbot publish writes it"
    )
    assert capsys.readouterr().err.splitlines() == [
        message,
        f"::error file=flags.json,line=3::{message}",
    ]
    edit_acme(committed, 25, revision=None)
    assert run(committed, "validate", "--base", "main") == 1
    assert capsys.readouterr().err.startswith(
        "flags.json: revision: absent (0) is not greater than 7 at main"
    )
    # Committed or not, what counts is the file as it is now against the base.
    edit_acme(committed, 25, revision=8)
    git(committed, "commit", "-qam", "acme to 25")
    assert run(committed, "validate", "--base", "main") == 0
    assert capsys.readouterr().out == ".github/rampbot.yml and flags.json are valid\n"


def test_validate_base_passes_unchanged_new_or_unversioned_files(committed, capsys):
    assert run(committed, "validate", "--base", "main") == 0
    # Without --base nothing is compared: the pre-commit hook and today's callers.
    edit_acme(committed, 25)
    assert run(committed, "validate") == 0
    # A flags file that the base does not have yet is not checked.
    git(committed, "mv", "flags.json", "new-flags.json")
    assert run(committed, "validate", "--flags", "new-flags.json", "--base", "main") == 0
    capsys.readouterr()
    assert run(committed, "validate", "--flags", "new-flags.json", "--base", "nope") == 1
    assert capsys.readouterr().err == (
        "--base nope: no such commit in this repository; fetch it first "
        "(actions/checkout with fetch-depth: 0)\n"
    )


def test_validate_base_outside_a_git_repository(repo, capsys):
    assert run(repo, "validate", "--base", "main") == 1
    assert "not inside a git repository" in capsys.readouterr().err


def test_missing_files_and_usage_errors(repo, capsys):
    assert run(repo, "validate", "--flags", "nope.json") == 1
    assert capsys.readouterr().err == (
        "nope.json: no such flags file; pass --flags PATH or set flags_file in the policy\n"
    )
    assert run(repo, "plan", "--format", "yaml") == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
    assert run(repo, "plan", "--now", "yesterday") == 2
    assert "'yesterday' is not an ISO 8601 time" in capsys.readouterr().err
    assert run(repo, "plan") == 1
    assert capsys.readouterr().err.startswith("no health source: pass --health FILE")
    assert main(["-C", str(repo / "missing"), "validate"], environ={}) == 2


def test_plan_prints_json_for_scripts(repo, capsys):
    assert run(repo, "plan", "--health", "health.json", "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["changed"] is True
    rows = {
        (d["feature"], d["tenant"]): (d["from"], d["to"], d["action"]) for d in plan["decisions"]
    }
    assert rows[("receipts", "acme")] == (10, 25, "up")
    assert rows[("receipts", "globex")] == (5, 1, "down")
    assert rows[("receipts", "initech")] == (25, 10, "rollback")
    assert rows[("receipts", "umbrella")] == (0, 0, "hold")
    assert rows[("attest", "umbrella")] == (0, 0, "hold")
    initech = next(d for d in plan["decisions"] if d["tenant"] == "initech")
    assert initech["reasons"] == ["divergence max 4 over 30m > 0 (critical)"]


def test_plan_never_writes_and_apply_writes_a_valid_file(repo, capsys):
    before = (repo / "flags.json").read_text()
    assert run(repo, "plan", "--health", "health.json") == 0
    assert (repo / "flags.json").read_text() == before
    assert run(repo, "apply", "--health", "health.json") == 0
    assert capsys.readouterr().err == "wrote flags.json (revision 1)\n"
    after = json.loads((repo / "flags.json").read_text())
    assert after["revision"] == 1
    assert after["features"]["receipts"]["tenants"]["acme"] == {"pct": 25}
    assert after["features"]["receipts"]["tenants"]["initech"]["pct"] == 10
    assert after["features"]["receipts"]["tenants"]["initech"]["hold"] == (
        "rolled back from 25% (divergence > 0)"
    )
    assert run(repo, "validate") == 0


def test_todays_global_health_file_applies_to_every_tenant(repo, capsys):
    (repo / "global.json").write_text(
        '{"coverage": 99, "anchor_p95_ms": 22, "divergence": 0, "alerts": []}'
    )
    assert run(repo, "plan", "--health", "global.json", "--format", "json") == 0
    decisions = json.loads(capsys.readouterr().out)["decisions"]
    assert {(d["tenant"], d["action"]) for d in decisions if d["feature"] == "receipts"} == {
        ("acme", "up"),
        ("globex", "up"),
        ("initech", "up"),
        ("umbrella", "up"),
    }


def test_a_missing_health_file_is_an_error_not_a_step_down(repo, capsys):
    # Today's script steps everything down when its health file is missing.
    before = (repo / "flags.json").read_text()
    assert run(repo, "apply", "--health", "gone.json") == 1
    assert (
        capsys.readouterr().err == "gone.json: no such health snapshot; check the --health path\n"
    )
    assert (repo / "flags.json").read_text() == before


def test_unknown_signal_in_health_file(repo, capsys):
    (repo / "h.json").write_text('{\n  "tenants": {"acme": {"coverge": 97}}\n}\n')
    assert run(repo, "plan", "--health", "h.json") == 1
    assert capsys.readouterr().err == (
        "h.json: tenants.acme.coverge: unknown signal 'coverge'; "
        "the policy's signals are: anchor_p95_ms, coverage, divergence\n"
    )


def test_malformed_health_json(repo, capsys):
    (repo / "h.json").write_text('{"tenants": {"acme": {"coverage": 97,}}}')
    assert run(repo, "plan", "--health", "h.json") == 1
    assert capsys.readouterr().err == (
        "h.json:1:38: invalid JSON: Expecting property name enclosed in double quotes\n"
    )


def test_secrets_never_reach_the_output(repo, capsys):
    token = "ghp_s3cr3tvalue"
    assert run(repo, "validate", "--flags", token, environ={"GITHUB_TOKEN": token}) == 1
    assert token not in capsys.readouterr().err


def test_plan_in_a_git_repository_takes_bake_times_from_history(repo, capsys, monkeypatch):
    def commit(message: str, when: str) -> None:
        monkeypatch.setenv("GIT_AUTHOR_DATE", when)
        monkeypatch.setenv("GIT_COMMITTER_DATE", when)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", message], check=True)

    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True)
    commit("flags", "2026-11-25T09:00:00Z")
    text = (repo / "flags.json").read_text()
    (repo / "flags.json").write_text(text.replace('"acme": {"pct": 10}', '"acme": {"pct": 25}'))
    commit("acme to 25", "2026-11-26T09:18:00Z")  # 12 minutes before the snapshot
    assert run(repo, "plan", "--health", "health.json", "--format", "json") == 0
    decisions = json.loads(capsys.readouterr().out)["decisions"]
    acme = next(d for d in decisions if (d["feature"], d["tenant"]) == ("receipts", "acme"))
    assert (acme["action"], acme["reasons"][0]) == (
        "hold",
        "at 25% for 12m, less than the bake time of 30m",
    )
    attest = next(d for d in decisions if (d["feature"], d["tenant"]) == ("attest", "acme"))
    assert attest["action"] == "up"  # unchanged for a day: baked


@pytest.mark.parametrize(
    ("path", "edit", "message"),
    [
        (
            ".github/rampbot.yml",
            lambda text: text.replace("bake_time: 30m", 'bake_time: "30m\\n"'),
            '.github/rampbot.yml: bake_time: "30m\\n" does not match "^([0-9]+[smhdw])+$"',
        ),
        (
            "flags.json",
            lambda text: text.replace('"acme": {"pct": 10}', '"acme\\n": {"pct": 10}'),
            'flags.json: features.receipts.tenants: "acme\\n" does not match "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"',
        ),
    ],
)
def test_values_only_the_compiled_schema_check_catches_are_still_errors(
    repo, capsys, path, edit, message
):
    # Python's "$" matches before a final newline; JSON Schema's (ECMA 262) does not.
    (repo / path).write_text(edit((repo / path).read_text()))
    assert run(repo, "validate") == 1
    assert capsys.readouterr().err == message + "\n"


def test_a_malformed_evaluation_time_in_a_snapshot_is_an_input_error(repo, capsys):
    text = (repo / "health.json").read_text().replace("2026-11-26T09:30:00Z", "yesterday")
    (repo / "health.json").write_text(text)
    assert run(repo, "plan", "--health", "health.json") == 1
    assert (
        capsys.readouterr().err == "health.json: evaluated_at: 'yesterday' is not a 'date-time'\n"
    )


def test_thousands_of_problems_are_reported_quickly(repo, capsys):
    flags = json.loads((repo / "flags.json").read_text())
    flags["features"]["receipts"]["tenants"] = {f"t{i}": {"pct": 7} for i in range(3000)}
    (repo / "flags.json").write_text(json.dumps(flags, indent=2))
    assert run(repo, "validate") == 1
    assert len(capsys.readouterr().err.splitlines()) == 3000


def test_a_tenant_name_that_cannot_be_a_flags_key_is_held_not_fatal(repo, capsys):
    # Label values come from Prometheus and can be anything.
    (repo / ".github/rampbot.yml").write_text(
        (repo / ".github/rampbot.yml")
        .read_text()
        .replace("tenants: [acme, globex, initech, umbrella]\n", "")
    )
    health = json.loads((repo / "health.json").read_text())
    health["tenants"]["Acme Corp"] = health["tenants"]["acme"]
    (repo / "health.json").write_text(json.dumps(health))
    assert run(repo, "apply", "--health", "health.json", "--format", "json") == 0
    decisions = json.loads(capsys.readouterr().out)["decisions"]
    odd = next(d for d in decisions if d["tenant"] == "Acme Corp")
    assert (odd["action"], odd["from"], odd["to"]) == ("hold", 0, 0)
    assert odd["reasons"][0].startswith("tenant name 'Acme Corp' cannot be a key in flags.json")
    written = json.loads((repo / "flags.json").read_text())
    assert written["features"]["receipts"]["tenants"]["acme"]["pct"] == 25
    assert "Acme Corp" not in written["features"]["receipts"]["tenants"]


def test_health_older_than_the_flags_file_moves_no_tenant_up(repo, capsys, monkeypatch):
    # The snapshot says 09:30; the file was created by a commit at 11:00: the health was
    # measured before any of its percentages were set.
    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True)
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-26T11:00:00Z")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-11-26T11:00:00Z")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "flags"], check=True)
    assert run(repo, "plan", "--health", "health.json", "--format", "json") == 0
    decisions = json.loads(capsys.readouterr().out)["decisions"]
    acme = next(d for d in decisions if (d["feature"], d["tenant"]) == ("receipts", "acme"))
    assert (acme["action"], acme["to"]) == ("hold", 10)
    assert acme["reasons"][0] == (
        "health evaluated at 2026-11-26T09:30:00Z is older than the change to 10% at "
        "2026-11-26T11:00:00Z; a step up needs health measured after it"
    )


def test_main_gives_its_caller_the_folder_it_started_in(repo, capsys):
    # -C changes the process's folder while rampbot runs; a caller of main() keeps its own.
    before = Path.cwd()
    assert run(repo, "validate") == 0
    assert run(repo, "validate", "--flags", "missing.json") == 1
    assert Path.cwd() == before
