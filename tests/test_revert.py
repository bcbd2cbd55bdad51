"""`rampbot revert` end to end: a real merge on the GitHub double, reverted with git."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.trailers import parse_trailers
from tests.github_double import BareRepo, GitHubDouble
from tests.test_run import health, later, open_pulls, rampbot  # noqa: F401 (health is a fixture)


def test_revert_opens_a_pull_request_with_the_exact_inverse(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    health: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert rampbot(github_env, "run", "--health", str(health), "--now", later(hours=1))[0] == 0
    [pull] = open_pulls(github_double)
    merge = github_double.merge(pull.number)
    code, out = rampbot(github_env, "revert", str(pull.number), capsys=capsys)
    assert code == 0, out
    [revert] = open_pulls(github_double)
    assert revert.head == f"rampbot/revert-{pull.number}"
    assert "rollback" in revert.labels
    assert f"#{pull.number}" in (revert.body or "")
    assert "receipts for acme: 25% back to 10%" in (revert.body or "")
    forward = github_origin.git("diff", f"{merge}^1", merge)
    backward = github_origin.git("diff", merge, f"refs/heads/{revert.head}")
    inverse = github_origin.git("diff", merge, f"{merge}^1")
    assert backward == inverse
    assert forward
    message = github_origin.git("log", "-1", "--format=%B", f"refs/heads/{revert.head}")
    assert len(parse_trailers(message).reverts) == 7
    # Asked twice, it does not open a second one.
    assert rampbot(github_env, "revert", str(pull.number))[0] == 0
    assert len(open_pulls(github_double)) == 1


def test_an_open_pull_request_cannot_be_reverted(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    health: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert rampbot(github_env, "run", "--health", str(health), "--now", later(hours=1))[0] == 0
    [pull] = open_pulls(github_double)
    code, out = rampbot(github_env, "revert", str(pull.number), capsys=capsys)
    assert code == 1
    assert f"#{pull.number} is not merged (open)" in out
