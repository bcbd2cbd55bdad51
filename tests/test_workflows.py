"""The workflows, the composite action and the pre-commit hook keep the promises README.md makes.

The linters in .ci/run (actionlint, check-jsonschema, zizmor) check the syntax and the security
rules; these tests check what rampbot's users rely on: triggers, permissions, inputs, outputs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from tests.test_actions import read_outputs

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
EXAMPLE = ROOT / "examples" / "demo"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return document


def uses_lines(path: Path) -> list[str]:
    return [
        line.strip().removeprefix("- ").removeprefix("uses: ")
        for line in path.read_text().splitlines()
        if re.match(r"\s*(- )?uses: ", line)
    ]


def run_scripts(document: dict[str, Any]) -> list[str]:
    steps = [step for job in document.get("jobs", {}).values() for step in job["steps"]]
    steps += document.get("runs", {}).get("steps", [])
    return [step["run"] for step in steps if "run" in step]


ALL_FILES = [*sorted(WORKFLOWS.glob("*.yml")), ROOT / "action.yml"]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_third_party_actions_are_pinned_to_a_commit_with_its_version(path: Path) -> None:
    for uses in uses_lines(path):
        if not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}: {uses!r} is not pinned as owner/repo@SHA # vX"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_no_expression_is_pasted_into_a_script(path: Path) -> None:
    # Values reach scripts through env:, so no input or event field can become shell code.
    for script in run_scripts(load(path)):
        assert "${{" not in script, f"{path.name}: move the expression into env: {script!r}"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_workflows_grant_nothing_by_default(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job
        assert "write-all" not in str(job["permissions"])


def test_ramp_runs_on_schedule_by_hand_and_on_alert() -> None:
    workflow = load(WORKFLOWS / "ramp.yml")
    assert workflow["on"]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert workflow["on"]["workflow_dispatch"]["inputs"]["dry-run"]["type"] == "boolean"
    assert workflow["on"]["repository_dispatch"] == {"types": ["rampbot-evaluate"]}
    # "Evaluate now" on the dashboard: an edit of the dashboard issue, and of no other.
    assert workflow["on"]["issues"] == {"types": ["edited"]}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert "contains(github.event.issue.labels.*.name, 'rampbot-dashboard')" in job["if"]
    assert job["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
        "issues": "write",
    }
    checkout, rampbot = job["steps"]
    assert checkout["with"]["fetch-depth"] == 0
    assert rampbot["uses"] == "./"


def test_validate_and_publish_only_read_the_repository() -> None:
    for name in ("validate.yml", "publish.yml", "ci.yml"):
        (job,) = load(WORKFLOWS / name)["jobs"].values()
        assert job["permissions"] == {"contents": "read"}, name
        assert job["steps"][0]["with"]["persist-credentials"] is False, name


def test_validate_runs_when_the_flags_or_the_policy_change() -> None:
    paths = load(WORKFLOWS / "validate.yml")["on"]["pull_request"]["paths"]
    assert {"flags.json", ".github/rampbot.yml"} <= set(paths)


def test_validate_compares_the_flags_with_the_pull_request_s_base() -> None:
    (job,) = load(WORKFLOWS / "validate.yml")["jobs"].values()
    checkout, *_, validate = job["steps"]
    assert checkout["with"]["fetch-depth"] == 0  # the base branch must be there to compare
    assert validate["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert validate["run"].endswith('--base "origin/$BASE_REF"')


def test_publish_runs_after_a_merge_to_main_with_the_redis_secret() -> None:
    workflow = load(WORKFLOWS / "publish.yml")
    assert workflow["on"]["push"] == {"branches": ["main"], "paths": ["flags.json"]}
    (job,) = workflow["jobs"].values()
    publish = job["steps"][-1]
    assert publish["run"].startswith("rampbot publish")
    assert publish["env"] == {"RAMPBOT_REDIS_URL": "${{ secrets.RAMPBOT_REDIS_URL }}"}


def test_action_inputs_reach_rampbot_and_outputs_come_from_its_step() -> None:
    action = load(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "policy",
        "dry-run",
        "prometheus-url",
        "github-token",
        "python-version",
    }
    assert action["inputs"]["policy"]["default"] == ".github/rampbot.yml"
    assert action["inputs"]["dry-run"]["default"] == "false"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    text = (ROOT / "action.yml").read_text()
    for name in action["inputs"]:
        assert f"${{{{ inputs.{name} }}}}" in text.split("runs:")[1], f"input {name} is unused"
    assert action["outputs"]["pr-number"]["value"] == "${{ steps.run.outputs.pr-number }}"
    assert action["outputs"]["changed"]["value"] == "${{ steps.run.outputs.changed }}"
    assert any(step.get("id") == "run" for step in action["runs"]["steps"])


def run_step(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the action's "Run rampbot" script with bash, as the runner would."""
    action = load(ROOT / "action.yml")
    (step,) = [step for step in action["runs"]["steps"] if step.get("id") == "run"]
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={"PATH": os.environ["PATH"], "RUNNER_TEMP": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_action_refuses_a_dry_run_that_is_neither_true_nor_false(tmp_path: Path) -> None:
    result = run_step(tmp_path, {"INPUT_POLICY": ".github/rampbot.yml", "INPUT_DRY_RUN": "yes"})
    assert result.returncode == 2
    assert result.stdout == "::error::the dry-run input must be 'true' or 'false'\n"


def test_the_hook_manifest_is_valid_for_pre_commit() -> None:
    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "rampbot-validate"
    assert hook["entry"] == "rampbot validate"
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for name in ("flags.json", "config/flags.json", ".github/rampbot.yml"):
        assert pattern.search(name), name
    for name in ("README.md", "myflags.json", "schemas/flags.schema.json"):
        assert not pattern.search(name), name


def git(repository: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repository), *args], check=True, capture_output=True)


@pytest.fixture
def flags_repository(tmp_path: Path) -> Path:
    """A repository like a user's: the demo policy and flags.json, committed."""
    repository = tmp_path / "flags-repo"
    shutil.copytree(EXAMPLE, repository)
    git(repository, "init", "--quiet", "--initial-branch=main")
    git(repository, "add", ".")
    git(repository, "commit", "--quiet", "-m", "flags")
    return repository


# pre-commit builds the hook's virtualenv with `pip install .` from the checkout. Nothing comes
# from a package index: rampbot is built from the working tree with the hatchling installed here,
# and its dependencies are the ones this interpreter runs the tests with (PYTHONPATH; the hook's
# own environment still holds the rampbot just built, since an editable install's .pth files are
# not read from PYTHONPATH).
OFFLINE_PIP = {
    "PIP_NO_INDEX": "1",
    "PIP_NO_DEPS": "1",
    "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted flag: 0 turns build isolation off
    "PYTHONPATH": os.pathsep.join(
        dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    ),
}


def pre_commit(repository: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repository,
        env={**os.environ, **OFFLINE_PIP, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_the_hook_installed_by_pre_commit_rejects_a_bad_flags_file(
    flags_repository: Path, tmp_path: Path
) -> None:
    # pre-commit builds the hook's own virtualenv from this repository, as a user's would.
    # try-repo on the checkout itself: with uncommitted changes it installs them too (a shadow
    # commit of the working tree), so the test sees the code under test, not HEAD.
    flags = flags_repository / "flags.json"
    flags.write_text(flags.read_text().replace('"pct": 5,', '"pct": 140,', 1))
    git(flags_repository, "add", "flags.json")

    result = pre_commit(flags_repository, tmp_path, "try-repo", str(ROOT), "rampbot-validate")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "rampbot validate" in result.stdout
    assert "Failed" in result.stdout
    assert "flags.json: features.attest.pct: 140 is greater than the maximum of 100" in (
        result.stdout
    )


def test_the_hook_skips_commits_that_touch_neither_file(
    flags_repository: Path, tmp_path: Path
) -> None:
    # The manifest's hook as a local hook run by the rampbot on PATH: what pre-commit selects
    # and runs, without building a virtualenv.
    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    local = {key: hook[key] for key in ("id", "name", "entry", "files", "pass_filenames")}
    config = {"repos": [{"repo": "local", "hooks": [{**local, "language": "system"}]}]}
    (flags_repository / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (flags_repository / "README.md").write_text("notes\n")
    git(flags_repository, "add", "README.md", ".pre-commit-config.yaml")

    skipped = pre_commit(flags_repository, tmp_path, "run")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "(no files to check)Skipped" in skipped.stdout

    policy = flags_repository / ".github" / "rampbot.yml"
    policy.write_text(policy.read_text().replace("bake_time: 30m", "bake_time: soon"))
    git(flags_repository, "add", ".github/rampbot.yml")
    failed = pre_commit(flags_repository, tmp_path, "run")
    assert failed.returncode == 1
    assert "Failed" in failed.stdout
    assert ".github/rampbot.yml" in failed.stdout


# A policy reading the "now" series of the test Prometheus (tests/fixtures/prometheus.py):
# now_green is healthy, now_alerted has a firing critical alert, so it rolls back whatever
# its bake time, and the run opens one rollback pull request.
NOW_POLICY = """\
flags_file: flags.json
base_branch: main
tenants: [now_green, now_alerted]
bake_time: 30m
prometheus:
  timeout: 5s
  retries: 1
signals:
  - name: coverage
    query: avg by (tenant) (shadow_coverage_pct{case="now"})
    healthy: ">= 95"
    aggregate: min
alerts:
  rollback_severities: [critical]
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""

NOW_FLAGS = """\
{
  "version": "flags-v1",
  "revision": 1,
  "features": {
    "receipts": {
      "pct": 0,
      "tenants": {
        "now_green": {"pct": 5},
        "now_alerted": {"pct": 10}
      }
    }
  }
}
"""


class TestTheActionRunsRampbot:
    """The action's run step, run by bash against the GitHub double and a real Prometheus."""

    @pytest.fixture
    def github_files(self) -> dict[str, str]:
        return {"flags.json": NOW_FLAGS, ".github/rampbot.yml": NOW_POLICY}

    @pytest.fixture
    def action_env(self, tmp_path: Path, github_env: dict[str, str]) -> dict[str, str]:
        # The action installs rampbot into $RUNNER_TEMP/rampbot-venv; here that venv's rampbot
        # is the one under test, run by this interpreter.
        runner_temp = tmp_path / "runner-temp"
        bin_dir = runner_temp / "rampbot-venv" / "bin"
        bin_dir.mkdir(parents=True)
        rampbot = bin_dir / "rampbot"
        rampbot.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bot "$@"\n')
        rampbot.chmod(0o755)
        (tmp_path / "output").touch()
        (tmp_path / "summary.md").touch()
        return {
            **github_env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "HOME": os.environ["HOME"],
            "RUNNER_TEMP": str(runner_temp),
            "INPUT_POLICY": ".github/rampbot.yml",
        }

    def run(self, workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        action = load(ROOT / "action.yml")
        (step,) = [step for step in action["runs"]["steps"] if step.get("id") == "run"]
        # The runner starts composite steps in the workspace, with the job's git identity.
        git_identity = {k: v for k, v in os.environ.items() if k.startswith("GIT_")}
        return subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=workspace,
            env={"PATH": os.environ["PATH"], **git_identity, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def test_outputs_the_pull_request_it_opened(
        self,
        tmp_path: Path,
        action_env: dict[str, str],
        github_clone: Path,
        github_double: Any,
        prometheus: Any,
    ) -> None:
        env = {**action_env, "INPUT_DRY_RUN": "false", "INPUT_PROMETHEUS_URL": prometheus.url}

        result = self.run(github_clone, env)

        assert result.returncode == 0, result.stdout + result.stderr
        (pull,) = github_double.pulls("open")
        assert action_env["GITHUB_TOKEN"] not in result.stdout + result.stderr
        outputs = read_outputs(tmp_path / "output")
        assert outputs == {"pr-number": str(pull.number), "changed": "true"}
        summary = (tmp_path / "summary.md").read_text()
        # The decision table, in markdown (where "_" is escaped).
        title = summary.splitlines()[0]
        assert title.startswith("## Rollback")
        assert "now\\_alerted" in title

    def test_a_dry_run_opens_nothing_and_says_what_would_change(
        self,
        tmp_path: Path,
        action_env: dict[str, str],
        github_clone: Path,
        github_double: Any,
        prometheus: Any,
    ) -> None:
        env = {**action_env, "INPUT_DRY_RUN": "true", "INPUT_PROMETHEUS_URL": prometheus.url}

        result = self.run(github_clone, env)

        assert result.returncode == 0, result.stdout + result.stderr
        assert github_double.pulls() == []
        outputs = read_outputs(tmp_path / "output")
        assert outputs == {"pr-number": "", "changed": "true"}
