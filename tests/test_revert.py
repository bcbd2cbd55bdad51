"""`rampbot revert` end to end: a real merge on the GitHub double, reverted with git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.flags import FlagChange, apply_changes, parse_flags, revision_of, set_revision
from bot.trailers import parse_trailers
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import HEALTHY, open_pulls, rampbot, run_with, writes
from tests.test_run import health  # noqa: F401 (a fixture)


def flags_text(origin: BareRepo, ref: str) -> str:
    text = origin.show_file(ref, "flags.json")
    assert text is not None
    return text


def merge_acme_step(env: dict[str, str], double: GitHubDouble, tmp_path: Path) -> tuple[int, str]:
    """Run with health for acme alone (the others hold: no data) and merge the ramp PR."""
    snapshot = tmp_path / "acme.json"
    snapshot.write_text(json.dumps({"tenants": {"acme": HEALTHY}, "alerts": []}), encoding="utf-8")
    assert run_with(env, snapshot)[0] == 0
    [pull] = open_pulls(double)
    return pull.number, double.merge(pull.number)


def later_bot_commit(origin: BareRepo, *changes: FlagChange) -> str:
    """A later change on main as the bot writes one: the tenants' lines and revision + 1."""
    flags = parse_flags(flags_text(origin, "refs/heads/main"), source="flags.json")
    text = apply_changes(flags, changes).text
    return origin.commit_files("main", {"flags.json": text}, message="Ramp later\n")


def test_revert_opens_a_pull_request_with_the_exact_inverse(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    health: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    merge = github_double.merge(pull.number)
    code, out = rampbot(github_env, "revert", str(pull.number), capsys=capsys)
    assert code == 0, out
    [revert] = open_pulls(github_double)
    assert revert.head == f"rampbot/revert-{pull.number}"
    assert "rollback" in revert.labels
    assert f"#{pull.number}" in (revert.body or "")
    assert "receipts for acme: 25% back to 10%" in (revert.body or "")
    # The exact inverse, except that revision goes up (1 -> 2), not back (1 -> absent), so
    # that rampbot publish writes the rollback.
    forward = github_origin.git("diff", f"{merge}^1", merge)
    assert '+  "revision": 1,' in forward
    reverted = flags_text(github_origin, f"refs/heads/{revert.head}")
    assert reverted == set_revision(flags_text(github_origin, f"{merge}^1"), 2)
    assert revision_of(reverted) == revision_of(flags_text(github_origin, merge)) + 1
    backward = github_origin.git("diff", "--stat", f"{merge}^1", f"refs/heads/{revert.head}")
    assert backward.splitlines()[-1].strip() == "1 file changed, 1 insertion(+)"
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
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    code, out = rampbot(github_env, "revert", str(pull.number), capsys=capsys)
    assert code == 1
    assert f"#{pull.number} is not merged (open)" in out


def test_an_older_pull_request_reverts_after_later_bot_changes(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number, merge = merge_acme_step(github_env, github_double, tmp_path)
    assert revision_of(flags_text(github_origin, merge)) == 1
    # The later change raised revision (1 -> 2) and stepped initech, two lines below acme.
    later_bot_commit(github_origin, FlagChange("receipts", "initech", 50))

    code, out = rampbot(github_env, "revert", str(number), capsys=capsys)

    assert code == 0, out
    [revert] = open_pulls(github_double)
    reverted = flags_text(github_origin, f"refs/heads/{revert.head}")
    # acme's step is undone, initech's later step is kept, and revision goes on to 3.
    before = parse_flags(flags_text(github_origin, f"{merge}^1"), source="flags.json")
    expected = apply_changes(before, [FlagChange("receipts", "initech", 50)]).text
    assert reverted == set_revision(expected, 3)
    assert github_origin.git("diff", "--stat", f"{merge}^1", f"refs/heads/{revert.head}")


def test_a_later_change_to_the_same_tenant_line_is_a_conflict(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number, _ = merge_acme_step(github_env, github_double, tmp_path)
    later_bot_commit(github_origin, FlagChange("receipts", "acme", 50))
    capsys.readouterr()

    code, out = rampbot(github_env, "revert", str(number), capsys=capsys)

    assert code == 4
    assert out.startswith("flags.json: cannot revert ")
    assert "later changes touch the same tenant lines; revert it by hand" in out
    assert open_pulls(github_double) == []
    assert github_origin.resolve(f"refs/heads/rampbot/revert-{number}") is None


@pytest.mark.parametrize("token", [True, False], ids=["asks-github", "from-git-history"])
def test_a_dry_run_prints_the_revert_and_pushes_and_opens_nothing(
    token: bool,
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number, merge = merge_acme_step(github_env, github_double, tmp_path)
    capsys.readouterr()
    refs = github_origin.refs("refs/heads/")
    requests = len(writes(github_double))
    env = (
        dict(github_env) if token else {k: v for k, v in github_env.items() if k != "GITHUB_TOKEN"}
    )

    code, out = rampbot(env, "revert", str(number), "--dry-run", capsys=capsys)

    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"would open a pull request from rampbot/revert-{number} into main:"
    assert lines[1].startswith(f"title: Revert #{number}: ")
    assert lines[2] == "labels: rampbot, rollback"
    assert "- receipts for acme: 25% back to 10%" in lines
    assert f"a `git revert -m 1` of its merge commit {merge}." in out
    assert '-        "acme": {"pct": 25},' in lines
    assert '+        "acme": {"pct": 10},' in lines
    assert '+  "revision": 2,' in lines
    assert lines[-1] == "dry run: nothing was pushed, opened or changed"
    assert github_origin.refs("refs/heads/") == refs
    assert len(writes(github_double)) == requests
    assert open_pulls(github_double) == []


def test_revert_without_a_token_suggests_the_dry_run_that_works_without_one(
    github_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {k: v for k, v in github_env.items() if k != "GITHUB_TOKEN"}
    code, out = rampbot(env, "revert", "1", capsys=capsys)
    assert code == 1
    assert out.endswith("use --dry-run to see what it would do without one\n")
