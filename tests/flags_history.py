"""Builds real git histories of flags.json: bot PRs (merged or squashed), reverts, people's edits.

Each operation also returns the changes it is expected to make, so a test can compare what
`rampbot history` reconstructs with what was done.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.change_log import By
from bot.decide import Action, Decision, Kind, Plan
from bot.flags import apply_changes, parse_flags
from bot.trailers import DecisionTrailer, Pair, commit_message, decision_trailer
from bot.trailers import revert_trailer_lines as reverts_lines
from tests.builders import healthy_evidence

SCHEDULE = (0, 1, 5, 10, 25, 50, 100)
TENANTS = ("acme", "globex", "initech", "umbrella")
FEATURES = ("receipts", "attest")
START = 1_767_225_600  # 2026-01-01T00:00:00Z

INITIAL_FLAGS = """\
{
  "version": "flags-v1",
  "revision": 0,
  "features": {
    "receipts": {
      "pct": 0,
      "cohorts": ["A", "B", "C"],
      "tenants": {
        "acme": {"pct": 10},
        "globex": {"pct": 5},
        "initech": {"pct": 25}
      }
    },
    "attest": {
      "pct": 5,
      "tenants": {
        "umbrella": {"pct": 0}
      }
    }
  }
}
"""

BOT_EMAIL = "rampbot@example.invalid"


@dataclass(frozen=True)
class Expected:
    """A change a test expects `rampbot history` to report."""

    feature: str
    tenant: str
    from_pct: int | None
    to_pct: int | None
    by: By
    decision: str | None = None
    parent: str | None = None
    pr: int | None = None
    reverts: tuple[str, ...] = ()
    evidence: str | None = None


@dataclass
class BotCommit:
    """A bot change that reached main: the commit to revert and the decisions it carries."""

    commit: str
    merge: bool
    pr: int
    decisions: tuple[DecisionTrailer, ...]
    subject: str


@dataclass
class FlagsRepo:
    path: Path
    clock: int = START
    next_pr: int = 1
    last_decision: dict[Pair, str] = field(default_factory=dict)
    # The newest commit on main that changed flags.json, if a bot's: the one a revert may undo.
    revertible: BotCommit | None = None
    expected: list[list[Expected]] = field(default_factory=list)  # one list per flags commit

    @classmethod
    def create(cls, path: Path) -> FlagsRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", "main")
        (path / "flags.json").write_text(INITIAL_FLAGS, encoding="utf-8")
        (path / "README.md").write_text("service\n", encoding="utf-8")
        repo.git("add", "flags.json", "README.md")
        repo.commit("Add flags.json")
        repo.expected.append(
            [
                Expected(feature, tenant, None, pct, By.PERSON)
                for (feature, tenant), pct in sorted(effective(json.loads(INITIAL_FLAGS)).items())
            ]
        )
        return repo

    # --- plumbing ---

    def git(self, *args: str, author: str | None = None) -> str:
        self.clock += 60
        env = {
            **os.environ,
            "GIT_AUTHOR_DATE": f"@{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        }
        if author:
            # The bot's commits carry the bot's e-mail: `history` trusts trailers only there.
            email = BOT_EMAIL if author == "rampbot" else "person@example.com"
            env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = author
            env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = email
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {result.stderr}")
        return result.stdout.strip()

    def commit(self, message: str, *, author: str | None = None, all: bool = False) -> str:
        draft = self.path / ".git" / "MESSAGE_DRAFT"
        draft.write_text(message, encoding="utf-8")
        options = ["-a"] if all else []
        self.git("commit", "-q", *options, "--cleanup=verbatim", "-F", str(draft), author=author)
        return self.git("rev-parse", "HEAD")

    def commit_tree(
        self, tree: str, parents: list[str], message: str, *, author: str | None = None
    ) -> str:
        draft = self.path / ".git" / "MESSAGE_DRAFT"
        draft.write_text(message, encoding="utf-8")
        parent_options = [option for parent in parents for option in ("-p", parent)]
        return self.git("commit-tree", tree, *parent_options, "-F", str(draft), author=author)

    def flags_text(self) -> str:
        return (self.path / "flags.json").read_text(encoding="utf-8")

    def flags(self) -> dict[str, Any]:
        return dict(json.loads(self.flags_text()))

    # --- operations ---

    def bot_change(self, rng: random.Random, *, rollback: bool) -> None:
        """A bot PR changing one or two tenants, merged with a merge commit or squashed."""
        current = effective(self.flags())
        pairs = rng.sample(sorted(current), rng.choice((1, 1, 2)))
        evaluated_at = datetime.fromtimestamp(self.clock, tz=UTC)
        decisions = []
        for feature, tenant in pairs:
            before = current[feature, tenant]
            index = SCHEDULE.index(before) if before in SCHEDULE else 0
            if rollback and before > 0:
                after, action = SCHEDULE[max(0, index - 2)], Action.ROLLBACK
            elif index + 1 < len(SCHEDULE) and rng.random() < 0.75:
                after, action = SCHEDULE[index + 1], Action.UP
            elif before > 0:
                after, action = SCHEDULE[max(0, index - 1)], Action.DOWN
            else:
                after, action = SCHEDULE[1], Action.UP
            evidence = (
                healthy_evidence("coverage", 90 + rng.randrange(10)),
                healthy_evidence("divergence", 0, "<= 0"),
            )
            decisions.append(
                Decision(tenant, feature, before, after, action, Kind.HEALTHY, evidence)
            )
        plan = Plan(decisions=tuple(decisions), evaluated_at=evaluated_at, window="30m")
        message = commit_message(plan, self.last_decision)
        flags = parse_flags(self.flags_text(), source="flags.json")
        text = apply_changes(flags, plan.flag_changes()).text
        pr = self.take_pr()
        subject = message.splitlines()[0]
        merge = rng.random() < 0.6
        if merge:
            # Made with plumbing (the same commits as a branch and a --no-ff merge, without
            # checking anything out): git is most of this test's time.
            branch = f"rampbot/{'rollback' if rollback else 'ramp'}-{pr}"
            (self.path / "flags.json").write_text(text, encoding="utf-8")
            self.git("add", "flags.json")
            tree = self.git("write-tree")
            head = self.git("rev-parse", "HEAD")
            bot = self.commit_tree(tree, [head], message, author="rampbot")
            merge_message = f"Merge pull request #{pr} from example/{branch}\n\n{subject}\n"
            commit = self.commit_tree(tree, [head, bot], merge_message)
            self.git("update-ref", "HEAD", commit)
        else:
            # GitHub's squash: the PR title with " (#N)", the commit's body below.
            (self.path / "flags.json").write_text(text, encoding="utf-8")
            body = message.split("\n", 1)[1]
            commit = self.commit(f"{subject} (#{pr})\n{body}", author="rampbot", all=True)
        trailers = tuple(decision_trailer(d, evaluated_at) for d in decisions)
        expected = []
        for decision, trailer in zip(decisions, trailers, strict=True):
            pair = (decision.feature, decision.tenant)
            by = By.BOT_ROLLBACK if decision.action is Action.ROLLBACK else By.BOT_STEP
            expected.append(
                Expected(
                    decision.feature,
                    decision.tenant,
                    decision.from_pct,
                    decision.to_pct,
                    by,
                    trailer.id,
                    self.last_decision.get(pair),
                    pr,
                    evidence="; ".join(decision.reasons),
                )
            )
        for trailer in trailers:
            self.last_decision[trailer.feature, trailer.tenant] = trailer.id
        self.expected.append(sorted(expected, key=lambda e: (e.feature, e.tenant)))
        self.revertible = BotCommit(commit, merge, pr, trailers, subject)

    def revert(self, rng: random.Random) -> bool:
        """Revert the newest flags change if it was the bot's: by a person, or through a PR."""
        undone = self.revertible
        if undone is None:
            return False
        mainline = ["-m", "1"] if undone.merge else []
        through_pr = rng.random() < 0.5
        pr = None
        if through_pr:
            pr = self.take_pr()
            branch = f"rampbot/revert-{undone.pr}"
            self.git("checkout", "-q", "-b", branch)
            self.git("revert", "--no-commit", *mainline, undone.commit)
            message = (
                f'Revert "{undone.subject}"\n\nThis reverts commit {undone.commit}.\n\n'
                + "\n".join(reverts_lines(undone.decisions))
                + "\n"
            )
            self.commit(message, author="rampbot")
            self.git("checkout", "-q", "main")
            self.git(
                "merge",
                "-q",
                "--no-ff",
                "-m",
                f"Merge pull request #{pr} from example/{branch}",
                branch,
            )
            self.git("branch", "-q", "-D", branch)
        else:
            self.git("revert", "--no-edit", *mainline, undone.commit, author="Pat Person")
        self.expected.append(
            sorted(
                (
                    Expected(
                        t.feature, t.tenant, t.to_pct, t.from_pct, By.REVERT, pr=pr, reverts=(t.id,)
                    )
                    for t in undone.decisions
                ),
                key=lambda e: (e.feature, e.tenant),
            )
        )
        self.revertible = None
        return True

    def person_edit(self, rng: random.Random) -> None:
        """A person sets one tenant's pct, or a feature's default, straight on main."""
        document = self.flags()
        before = effective(document)
        feature = rng.choice(FEATURES)
        if rng.random() < 0.3:
            document["features"][feature]["pct"] = rng.choice(
                [pct for pct in SCHEDULE if pct != document["features"][feature]["pct"]]
            )
        else:
            tenant = rng.choice(TENANTS)
            value = rng.choice([pct for pct in SCHEDULE if pct != before[feature, tenant]])
            tenants = document["features"][feature].setdefault("tenants", {})
            tenants.setdefault(tenant, {})["pct"] = value
        after = effective(document)
        changed = [pair for pair in sorted(after) if after[pair] != before[pair]]
        (self.path / "flags.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        pr = self.take_pr() if rng.random() < 0.5 else None
        subject = f"Set {feature} by hand" + (f" (#{pr})" if pr else "")
        self.commit(subject + "\n", author="Pat Person", all=True)
        self.expected.append(
            [Expected(f, t, before[f, t], after[f, t], By.PERSON, pr=pr) for f, t in changed]
        )
        self.revertible = None  # the file moved on: a revert could now conflict

    def unrelated(self, rng: random.Random) -> None:
        """A commit to another file: no change of any percentage."""
        with (self.path / "README.md").open("a", encoding="utf-8") as readme:
            readme.write(f"note {rng.randrange(1000)}\n")
        self.commit("Update README\n", author="Pat Person", all=True)

    def take_pr(self) -> int:
        self.next_pr += 1
        return self.next_pr - 1


def effective(document: dict[str, Any]) -> dict[Pair, int]:
    """Each tenant's percentage per feature: its own, else the feature's."""
    return {
        (feature, tenant): (entry.get("tenants") or {}).get(tenant, {}).get("pct", entry["pct"])
        for feature, entry in document["features"].items()
        for tenant in TENANTS
    }


def random_history(path: Path, seed: int, *, steps: int) -> FlagsRepo:
    """A history of ``steps`` random operations after the file's creation."""
    rng = random.Random(seed)
    repo = FlagsRepo.create(path)
    operations = ["step"] * 4 + ["rollback"] * 2 + ["revert"] * 2 + ["person"] * 2 + ["other"]
    for _ in range(steps):
        operation = rng.choice(operations)
        if operation == "revert" and repo.revert(rng):
            continue
        if operation in ("step", "revert"):
            repo.bot_change(rng, rollback=False)
        elif operation == "rollback":
            repo.bot_change(rng, rollback=True)
        elif operation == "person":
            repo.person_edit(rng)
        else:
            repo.unrelated(rng)
    return repo
