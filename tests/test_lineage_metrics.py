"""The two dashboard metrics: lineage completeness and PII blocks, from a real git history.

`rampbot run` opens a rollback whose alert carries personal data, the GitHub double merges it,
a person edits flags.json by hand, and `rampbot publish` on a clone of the result exports
`rampbot_lineage_complete_ratio` and `rampbot_redactions_total{kind}` to a textfile and a real
Pushgateway, beside the ramp gauges.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import git
from bot.change_log import By, Change, ledger, lineage_complete, lineage_complete_ratio
from bot.cli import main
from bot.commands.flags_history import read_history
from bot.trailers import commit_message, parse_trailers
from tests.fixtures.pushgateway import Pushgateway
from tests.flags_history import BOT_EMAIL as HISTORY_BOT_EMAIL
from tests.flags_history import Expected, random_history
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import BOT_EMAIL, HEALTHY, TENANTS, open_pulls, run_with
from tests.test_metrics import samples
from tests.test_trailers import change as trailer_change
from tests.test_trailers import plan as trailer_plan

SUMMARY = "Shadow reads disagree; paged jane.doe@example.com from 10.0.3.17 and 10.0.3.18"


def red_snapshot(path: Path) -> Path:
    tenants = {name: dict(HEALTHY) for name in TENANTS}
    alert = {"alertname": "Divergence", "severity": "critical", "tenant": "acme"}
    document = {"tenants": tenants, "alerts": [{**alert, "summary": SUMMARY}]}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def clone(origin: BareRepo, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", origin.url, str(where)], check=True)
    return where


def person_edit(work: Path) -> None:
    """Someone sets globex's receipts by hand: a change without a decision or pull request."""
    path = work / "flags.json"
    document = json.loads(path.read_text())
    document["features"]["receipts"]["tenants"]["globex"]["pct"] = 10
    document["revision"] += 1
    path.write_text(json.dumps(document, indent=2) + "\n")
    identity = ["-c", "user.name=Pat", "-c", "user.email=pat@example.com"]
    subprocess.run(
        ["git", "-C", str(work), *identity, "commit", "-qam", "globex by hand"], check=True
    )


def test_publish_exports_lineage_and_redactions_from_history(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    pushgateway: Pushgateway,
) -> None:
    assert run_with(github_env, red_snapshot(tmp_path / "red.json"))[0] == 0
    [rollback] = [p for p in open_pulls(github_double) if p.head == "rampbot/rollback"]
    github_double.merge(rollback.number)
    work = clone(github_origin, tmp_path / "published")
    person_edit(work)
    textfile = tmp_path / "rampbot.prom"
    flags = str(work / "flags.json")
    assert main(["publish", "--flags", flags, "--textfile", str(textfile)], {}) == 0
    assert main(["publish", "--flags", flags, "--pushgateway", pushgateway.url], {}) == 0

    baseline, versions, merged = read_history(git.open_repository(work), "flags.json", ref="HEAD")
    changes = ledger(versions, bot_email=BOT_EMAIL, merged=merged, baseline=baseline)
    moves = [c for c in changes if c.from_pct is not None]  # not the file's first version
    assert [(c.tenant, c.by, lineage_complete(c)) for c in moves] == [
        ("acme", By.BOT_ROLLBACK, True),  # receipts and attest, in the merged rollback
        ("acme", By.BOT_ROLLBACK, True),
        ("globex", By.PERSON, False),
    ]
    expected_ratio = 2 / 3
    group = (("instance", ""), ("job", "rampbot"), ("namespace", "flags:v1"))
    for text, labels in [(textfile.read_text(), ()), (pushgateway.metrics_text(), group)]:
        assert samples(text, "rampbot_lineage_complete_ratio") == {labels: expected_ratio}
        redactions = samples(text, "rampbot_redactions_total")
        assert redactions == {
            tuple(sorted((*labels, ("kind", "email")))): 1.0,
            tuple(sorted((*labels, ("kind", "ip")))): 2.0,
            tuple(sorted((*labels, ("kind", "phone")))): 0.0,
            tuple(sorted((*labels, ("kind", "redacted")))): 0.0,
        }
        assert samples(text, "rampbot_rollbacks_merged_total") == {
            tuple(sorted((*labels, ("feature", "attest")))): 1.0,
            tuple(sorted((*labels, ("feature", "receipts")))): 1.0,
        }
        # Beside the ramp gauges, in the same push.
        assert samples(text, "rampbot_ramp_pct")


def test_a_flags_file_outside_git_has_the_ramp_gauges_only(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_text((Path(__file__).parents[1] / "examples" / "demo" / "flags.json").read_text())
    textfile = tmp_path / "rampbot.prom"
    assert main(["publish", "--flags", str(flags), "--textfile", str(textfile)], {}) == 0
    text = textfile.read_text()
    assert samples(text, "rampbot_ramp_pct")
    assert "rampbot_lineage_complete_ratio" not in text
    assert "rampbot_redactions_total" not in text


def _complete(expected: Expected) -> bool:
    """Completeness from what the random history generator meant to write."""
    if expected.pr is None:
        return False
    if expected.by in (By.BOT_STEP, By.BOT_ROLLBACK):
        return expected.decision is not None
    return expected.by is By.REVERT and bool(expected.reverts)


@pytest.mark.parametrize("seed", range(12))
def test_the_ratio_agrees_with_the_history_that_was_made(tmp_path: Path, seed: int) -> None:
    repo = random_history(tmp_path, seed, steps=8)
    baseline, versions, merged = read_history(
        git.open_repository(repo.path), "flags.json", ref="main"
    )
    changes = ledger(versions, bot_email=HISTORY_BOT_EMAIL, merged=merged, baseline=baseline)
    made = [
        expected
        for commit in repo.expected
        for expected in commit
        if expected.from_pct is not None and expected.to_pct is not None
    ]
    assert made
    assert lineage_complete_ratio(changes) == sum(map(_complete, made)) / len(made)


def _change(**overrides: object) -> Change:
    fields: dict[str, object] = {
        "feature": "receipts",
        "tenant": "acme",
        "at": datetime(2026, 11, 26, tzinfo=UTC),
        "commit": "0" * 40,
        "from_pct": 10,
        "to_pct": 25,
        "by": By.BOT_STEP,
        "author": "rampbot",
        "pr": 12,
        "evidence": None,
        "decision": "3f9c0a1b2c4d",
        "parent": None,
    }
    return Change(**{**fields, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "complete"),
    [
        ({}, True),
        ({"pr": None}, False),  # pushed straight to main
        ({"chain_ok": False}, False),  # its parent is not the decision seen before
        ({"decision": None, "by": By.PERSON}, False),
        ({"decision": None, "by": By.REVERT, "reverts": ("3f9c0a1b2c4d",)}, True),
        ({"decision": None, "by": By.REVERT, "reverts": ()}, False),
    ],
)
def test_what_a_complete_chain_needs(overrides: dict[str, object], complete: bool) -> None:
    assert lineage_complete(_change(**overrides)) is complete


def test_no_change_no_ratio() -> None:
    assert lineage_complete_ratio([]) is None


def test_the_redaction_trailer_reads_back() -> None:
    plan = trailer_plan(trailer_change("acme", 10, 25))
    message = commit_message(plan, {}, redacted={"email": 2, "ip": 0, "phone": 1})
    assert "Rampbot-Redacted: email=2 phone=1\n" in message
    assert parse_trailers(message).redacted == {"email": 2, "phone": 1}
    assert "Rampbot-Redacted" not in commit_message(plan, {}, redacted={"ip": 0})
