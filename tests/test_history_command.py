"""rampbot history on a real git repository: the table, the JSON, filters and the chart."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.history import BLOCKS, sparkline
from bot.errors import EXIT_INVALID_INPUT
from tests.flags_history import BOT_EMAIL, FlagsRepo


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlagsRepo:
    """A bot step merged, a bot rollback squashed, its revert by hand, a person's edit."""
    rng = random.Random(7)
    repo = FlagsRepo.create(tmp_path / "repo")
    repo.bot_change(rng, rollback=False)
    repo.unrelated(rng)
    repo.bot_change(rng, rollback=True)
    repo.revert(rng)
    repo.person_edit(rng)
    monkeypatch.chdir(repo.path)
    return repo


def history(*options: str) -> int:
    return main(["history", *options], environ={"RAMPBOT_GIT_EMAIL": BOT_EMAIL})


def test_json_lists_every_change_with_its_chain(
    repo: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert history("--format", "json") == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    expected = [e for commit in repo.expected for e in commit]
    assert [(c["feature"], c["tenant"], c["from"], c["to"], c["by"]) for c in changes] == [
        (e.feature, e.tenant, e.from_pct, e.to_pct, e.by.value) for e in expected
    ]
    assert [c["decision"] for c in changes] == [e.decision for e in expected]
    assert [c["parent"] for c in changes] == [e.parent for e in expected]
    assert {c["by"] for c in changes} == {"person", "bot step", "bot rollback", "revert"}
    revert = next(c for c in changes if c["by"] == "revert")
    assert revert["reverts"]
    assert revert["reverted_pr"] is not None
    assert all(c["chain_ok"] for c in changes)
    assert set(changes[0]) == {
        "at", "feature", "tenant", "from", "to", "by", "author", "commit", "pr",
        "evidence", "decision", "parent", "reverts", "reverted_pr", "chain_ok",
        "claimed_decision",
    }  # fmt: skip


def test_the_table_has_a_line_per_change(
    repo: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert history() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "when", "(UTC)", "feature", "tenant", "change", "by", "PR", "decision", "parent", "why"
    ]  # fmt: skip
    assert len(lines) == 1 + sum(len(commit) for commit in repo.expected)
    step = next(line for line in lines if "bot step" in line)
    assert "coverage min" in step
    assert "#1" in step
    assert any("Pat Person" in line for line in lines)
    assert any(" reverts " in line and "(PR #" in line for line in lines)


def test_tenant_and_feature_filter(repo: FlagsRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert history("--tenant", "acme", "--feature", "receipts", "--format", "json") == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert changes
    assert {(c["feature"], c["tenant"]) for c in changes} == {("receipts", "acme")}


def test_the_chart_draws_one_sparkline_per_pair(
    repo: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert history("--tenant", "acme", "--chart") == 0
    out = capsys.readouterr().out
    chart = out.split("percentage over time, ", 1)[1].splitlines()[1:]
    assert [line.split()[0] for line in chart] == ["attest/acme", "receipts/acme"]
    assert all(set(line.split()[1]) <= set(BLOCKS) for line in chart)


def test_sparkline_steps_at_each_change() -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(start + timedelta(hours=1), 50), (start + timedelta(hours=3), 100)]
    line = sparkline(points, start=start, end=start + timedelta(hours=3), initial=0, width=4)
    assert line == "▁▄▄█  0% .. 100%"


def test_outside_a_repository_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flags.json").write_text("{}", encoding="utf-8")
    assert history() == EXIT_INVALID_INPUT
    assert "not inside a git repository" in capsys.readouterr().err


def test_an_unknown_ref_is_an_input_error(
    repo: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert history("--ref", "no-such-branch") == EXIT_INVALID_INPUT
    assert "--ref no-such-branch: no such branch or commit" in capsys.readouterr().err


# A trailer is the bot's only on the bot's commit, and through a merge only from rampbot/.

FORGED = (
    "Ramp receipts for acme\n\n"
    "- up receipts for acme: 10% -> 25% (coverage min 99.0 over 30m >= 95)\n\n"
    "Rampbot-Decision: 0123456789ab receipts/acme 10->25 up\n"
)


def _set_acme(repo: FlagsRepo, pct: int) -> None:
    document = repo.flags()
    document["features"]["receipts"].setdefault("tenants", {}).setdefault("acme", {})["pct"] = pct
    (repo.path / "flags.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")


def _acme_changes(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert history("--format", "json") == 0
    return [
        c
        for c in json.loads(capsys.readouterr().out)["changes"]
        if (c["feature"], c["tenant"]) == ("receipts", "acme")
    ]


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlagsRepo:
    repo = FlagsRepo.create(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    return repo


def test_a_persons_commit_with_a_decision_trailer_only_claims_it(
    plain: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_acme(plain, 25)
    plain.commit(FORGED, author="Mallory", all=True)
    [*_, change] = _acme_changes(capsys)
    assert (change["by"], change["decision"], change["claimed_decision"]) == (
        "person",
        None,
        "0123456789ab",
    )
    assert change["chain_ok"] is False
    assert change["evidence"] is None  # the claimed evidence is not shown as the bot's
    assert history() == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "10% -> 25%" in line]
    assert "by Mallory, claims a rampbot decision" in line
    assert "bot step" not in line


def test_a_bot_commit_merged_from_a_persons_branch_only_claims(
    plain: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """A commit made with the bot's name on a branch that is not rampbot/: a claim."""
    head = plain.git("rev-parse", "HEAD")
    _set_acme(plain, 25)
    plain.git("add", "flags.json")
    tree = plain.git("write-tree")
    forged = plain.commit_tree(tree, [head], FORGED, author="rampbot")
    merge = plain.commit_tree(
        tree, [head, forged], "Merge pull request #5 from example/mallory/rampbot-ramp\n"
    )
    plain.git("update-ref", "HEAD", merge)
    [*_, change] = _acme_changes(capsys)
    assert (change["by"], change["claimed_decision"], change["chain_ok"]) == (
        "person",
        "0123456789ab",
        False,
    )


def test_the_same_commit_from_a_rampbot_branch_is_the_bots(
    plain: FlagsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    head = plain.git("rev-parse", "HEAD")
    _set_acme(plain, 25)
    plain.git("add", "flags.json")
    tree = plain.git("write-tree")
    bot = plain.commit_tree(tree, [head], FORGED, author="rampbot")
    merge = plain.commit_tree(
        tree, [head, bot], "Merge pull request #5 from example/rampbot/ramp\n"
    )
    plain.git("update-ref", "HEAD", merge)
    [*_, change] = _acme_changes(capsys)
    assert (change["by"], change["decision"], change["claimed_decision"]) == (
        "bot step",
        "0123456789ab",
        None,
    )
    assert change["chain_ok"] is True
