"""bot/change_log.py: every change of each tenant's percentage, rebuilt from real git histories."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bot import git
from bot.change_log import By, Change, ledger, select
from bot.commands.flags_history import read_history
from bot.last_change import FlagsVersion
from tests.flags_history import BOT_EMAIL, Expected, FlagsRepo, random_history

SEEDS = range(50)


def chains(changes: list[Change]) -> dict[tuple[str, str], list[str]]:
    """Per pair, the ids of its bot decisions in the order they reached the base branch."""
    result: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        if change.decision:
            result.setdefault(change.pair, []).append(change.decision)
    return result


def reconstruct(repo: FlagsRepo) -> list[Change]:
    baseline, versions, merged = read_history(
        git.open_repository(repo.path), "flags.json", ref="main"
    )
    return ledger(versions, bot_email=BOT_EMAIL, merged=merged, baseline=baseline)


def as_expected(change: Change) -> Expected:
    return Expected(
        change.feature,
        change.tenant,
        change.from_pct,
        change.to_pct,
        change.by,
        change.decision,
        change.parent,
        change.pr,
        change.reverts,
        change.evidence,
    )


def check_history(directory: Path, seed: int) -> tuple[list[str], set[tuple[By, bool]]]:
    """Build one random history, rebuild it; the mismatches found, and the kinds of change made."""
    repo = random_history(directory, seed, steps=8)
    changes = reconstruct(repo)
    expected = [expected for commit in repo.expected for expected in commit]
    problems = []
    if [as_expected(change) for change in changes] != expected:
        problems.append(f"seed {seed}: {[as_expected(c) for c in changes]} != {expected}")
    if not all(change.chain_ok for change in changes):
        problems.append(f"seed {seed}: a decision's parent is not the previous decision")
    # The chain of each pair is every bot decision that reached main, in order, each naming
    # the one before it as its parent.
    for pair, ids in chains(changes).items():
        decided = [c for c in changes if c.pair == pair and c.decision]
        if [c.parent for c in decided] != [None, *ids[:-1]]:
            problems.append(f"seed {seed}: chain of {pair} broken: {decided}")
    kinds = {(e.by, e.pr is not None) for e in expected}
    return problems, kinds


def test_generated_histories_are_reconstructed_exactly(tmp_path: Path) -> None:
    """50 random histories of bot steps, rollbacks, reverts, people's edits and other commits.

    Git is the slow part, and it runs in subprocesses, so the histories are built in threads.
    """
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda seed: check_history(tmp_path / str(seed), seed), SEEDS))
    problems = [problem for found, _ in results for problem in found]
    assert problems == []
    kinds = set().union(*(made for _, made in results))
    # Every kind of change happened, and reverts both by hand and through a pull request.
    assert {by for by, _ in kinds} == set(By)
    assert {(By.REVERT, True), (By.REVERT, False)} <= kinds


PERSON = "Pat Person <pat@example.com>"
BOT = f"rampbot <{BOT_EMAIL}>"


def version(
    commit: str, text: str | None, message: str, minute: int = 0, *, author: str = PERSON
) -> FlagsVersion:
    return FlagsVersion(
        commit=commit,
        committed_at=datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
        author=author,
        message=message,
        text=text,
    )


def flags(acme: int, default: int = 0) -> str:
    document = {
        "version": "flags-v1",
        "features": {
            "receipts": {"pct": default, "tenants": {"acme": {"pct": acme}}},
            "attest": {"pct": 5},
        },
    }
    return json.dumps(document)


def test_a_feature_default_change_moves_every_tenant_without_its_own_pct() -> None:
    changes = ledger(
        bot_email=BOT_EMAIL,
        versions=[
            version("a" * 40, flags(10), "Add flags"),
            version("b" * 40, flags(10).replace('"pct": 5', '"pct": 25'), "Raise attest (#4)", 1),
        ],
    )
    assert [(c.feature, c.tenant, c.from_pct, c.to_pct, c.pr) for c in changes] == [
        ("attest", "acme", None, 5, None),
        ("receipts", "acme", None, 10, None),
        ("attest", "acme", 5, 25, 4),
    ]
    assert changes[-1].by is By.PERSON
    assert changes[-1].author == "Pat Person <pat@example.com>"


def test_a_version_that_is_not_json_is_skipped() -> None:
    changes = ledger(
        bot_email=BOT_EMAIL,
        versions=[
            version("a" * 40, flags(10), "Add flags"),
            version("b" * 40, "{ broken", "oops", 1),
            version("c" * 40, flags(25), "Merge pull request #9 from example/fix", 2),
        ],
    )
    last = changes[-1]
    assert (last.from_pct, last.to_pct, last.pr, last.commit) == (10, 25, 9, "c" * 40)


def test_a_parent_that_is_not_the_previous_decision_is_flagged() -> None:
    def bot(decision: str, parent: str | None, before: int, after: int) -> str:
        lines = [f"rampbot: receipts acme {before}->{after}%", ""]
        lines.append(f"Rampbot-Decision: {decision} receipts/acme {before}->{after} up")
        if parent:
            lines.append(f"Rampbot-Parent: receipts/acme={parent}")
        return "\n".join(lines)

    changes = select(
        ledger(
            bot_email=BOT_EMAIL,
            versions=[
                version("a" * 40, flags(0), "Add flags"),
                version("b" * 40, flags(1), bot("111111111111", None, 0, 1), 1, author=BOT),
                version(
                    "c" * 40, flags(5), bot("222222222222", "999999999999", 1, 5), 2, author=BOT
                ),
            ],
        ),
        tenant="acme",
        feature="receipts",
    )
    assert [(c.decision, c.chain_ok) for c in changes] == [
        (None, True),
        ("111111111111", True),
        ("222222222222", False),
    ]


def test_a_rampbot_revert_names_the_pull_request_it_undid() -> None:
    merge = "c" * 40
    changes = ledger(
        bot_email=BOT_EMAIL,
        versions=[
            version("a" * 40, flags(10), "Add flags"),
            version(merge, flags(25), "Merge pull request #7 from acme/rampbot/ramp", 1),
            version(
                "d" * 40,
                flags(10),
                f"Revert #7: Ramp receipts to 25% for acme\n\nThis reverts merge commit {merge} of #7.",
                2,
            ),
        ],
    )
    last = changes[-1]
    assert (last.from_pct, last.to_pct, last.by, last.reverted_pr) == (25, 10, By.REVERT, 7)
