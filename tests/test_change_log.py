"""bot/change_log.py: every change of each tenant's percentage, rebuilt from real git histories."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import git
from bot.change_log import By, Change, ledger, select
from bot.commands.flags_history import read_history
from bot.decide import Action, Decision, Kind, Plan
from bot.last_change import FlagsVersion
from bot.trailers import commit_message, parse_trailers, trailer_block
from tests.builders import healthy_evidence
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
        trailers=trailer_block(message),  # as git's parser reads them (tests/test_trailers.py)
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


# --- What is read of a bot commit: its trailer block, by git's parser, whatever the wording. ---

NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def acme_step(from_pct: int, to_pct: int) -> Plan:
    evidence = (healthy_evidence("coverage", 97), healthy_evidence("divergence", 0, "<= 0"))
    decision = Decision("acme", "receipts", from_pct, to_pct, Action.UP, Kind.HEALTHY, evidence)
    return Plan(decisions=(decision,), evaluated_at=NOW, window="30m")


REASONS = acme_step(10, 25).decisions[0].reasons


def set_acme(repo: FlagsRepo, pct: int) -> str:
    """Set receipts/acme in the working tree; the tree to commit."""
    document = repo.flags()
    document["features"]["receipts"]["tenants"]["acme"]["pct"] = pct
    (repo.path / "flags.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    repo.git("add", "flags.json")
    return repo.git("write-tree")


def merge_pr(repo: FlagsRepo, message: str, pct: int, *, branch: str = "rampbot/ramp") -> None:
    """A commit by the bot's identity on ``branch``, merged into main as GitHub merges PR #7."""
    tree = set_acme(repo, pct)
    head = repo.git("rev-parse", "HEAD")
    bot = repo.commit_tree(tree, [head], message, author="rampbot")
    merge = repo.commit_tree(tree, [head, bot], f"Merge pull request #7 from example/{branch}\n")
    repo.git("update-ref", "HEAD", merge)


def acme_changes(repo: FlagsRepo) -> list[Change]:
    return select(reconstruct(repo), tenant="acme", feature="receipts")


def test_a_reworded_commit_message_is_still_read_from_its_trailers(tmp_path: Path) -> None:
    repo = FlagsRepo.create(tmp_path)
    message = commit_message(acme_step(10, 25), {})
    change_line = f"- up receipts for acme: 10% -> 25% ({'; '.join(REASONS)})"
    assert len(REASONS) == 2
    assert change_line in message
    # Any wording of the sentences: history reads only the trailers.
    reworded = message.replace(change_line, "Receipts go up for acme, from 10% to 25%.")
    merge_pr(repo, reworded, 25)
    [*_, change] = acme_changes(repo)
    [decision] = parse_trailers(message).decisions
    assert (change.by, change.decision, change.evidence, change.chain_ok) == (
        By.BOT_STEP,
        decision.id,
        "; ".join(REASONS),
        True,
    )


# A bot commit as rampbot wrote them before Rampbot-Evidence: its reasons are in the change line.
OLD_FORMAT = """\
rampbot: receipts acme 10->25%

- up receipts for acme: 10% -> 25% (coverage min 97.0 over 30m >= 95; divergence 0 <= 0)

Rampbot-Decision: 0123456789ab receipts/acme 10->25 up
"""


def test_a_commit_in_the_old_format_is_still_read(tmp_path: Path) -> None:
    repo = FlagsRepo.create(tmp_path)
    merge_pr(repo, OLD_FORMAT, 25)
    later = commit_message(acme_step(25, 50), {("receipts", "acme"): "0123456789ab"})
    merge_pr(repo, later, 50)
    *_, old, new = acme_changes(repo)
    assert (old.by, old.decision, old.evidence, old.chain_ok) == (
        By.BOT_STEP,
        "0123456789ab",
        "coverage min 97.0 over 30m >= 95; divergence 0 <= 0",
        True,
    )
    assert (new.parent, new.evidence, new.chain_ok) == ("0123456789ab", "; ".join(REASONS), True)


# A trailer-like line in the body, with prose after it: not in the trailer block.
IN_THE_BODY = """\
Ramp receipts for acme

Rampbot-Decision: 0123456789ab receipts/acme 10->25 up
Rampbot-Evidence: 0123456789ab ["coverage min 97.0 over 30m >= 95"]

As the dashboard showed, the rollout is healthy.
"""


def test_a_trailer_line_outside_the_trailer_block_is_not_read(tmp_path: Path) -> None:
    repo = FlagsRepo.create(tmp_path)
    merge_pr(repo, IN_THE_BODY, 25)
    [*_, change] = acme_changes(repo)
    assert (change.by, change.decision, change.evidence, change.claimed) == (
        By.PERSON,
        None,
        None,
        None,
    )


def test_a_persons_commit_with_the_line_in_its_body_claims_nothing(tmp_path: Path) -> None:
    repo = FlagsRepo.create(tmp_path)
    set_acme(repo, 25)
    repo.commit(IN_THE_BODY, author="Pat Person")
    [*_, change] = acme_changes(repo)
    assert (change.by, change.claimed, change.chain_ok) == (By.PERSON, None, True)


@pytest.mark.parametrize("branch", ["pat/ramp", "rampbot-ramp"])
def test_new_trailers_from_a_branch_not_rampbots_are_a_claim(tmp_path: Path, branch: str) -> None:
    repo = FlagsRepo.create(tmp_path)
    message = commit_message(acme_step(10, 25), {})
    merge_pr(repo, message, 25, branch=branch)
    [*_, change] = acme_changes(repo)
    [decision] = parse_trailers(message).decisions
    assert (change.by, change.decision, change.claimed, change.evidence, change.chain_ok) == (
        By.PERSON,
        None,
        decision.id,
        None,
        False,
    )
