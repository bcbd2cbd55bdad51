"""Every change of each tenant's percentage, rebuilt from the versions of the flags file.

Pure: bot/git.py reads the versions (first-parent history of the base branch) and the messages
of the commits each merge brought in, with their trailers as git's own parser reads them; this
module compares versions and reads the trailers: who made a change (a bot step, a bot rollback,
a revert, a person), its pull request, its evidence, and its decision id with the parent id
(bot/trailers.py). Of the message's sentences only git's own are read (a merge's subject,
"This reverts commit"), and a bot commit's change lines only when it is older than its
``Rampbot-Evidence`` trailers.

Anyone can write a `Rampbot-Decision:` trailer, so a trailer is the bot's only on a commit by
the bot's identity (its e-mail), and, when a pull request merge brought it in, only from a
`rampbot/` head branch. Any other is a claim: the change is the person's, shown as claiming a
decision, and never joins the chain of decisions.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.last_change import FlagsVersion, effective_percentages
from bot.trailers import DecisionTrailer, Pair, Trailers, old_evidence, read_trailers

# GitHub's merge commit subject, and the " (#12)" it appends to a squash merge's subject.
_MERGE_PR = re.compile(r"^Merge pull request #(\d+) from (?P<head>\S+)", re.MULTILINE)
_BOT_BRANCH = "rampbot/"
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$", re.MULTILINE)
# `git revert` writes "This reverts commit <sha>." (with -m: "..., reversing changes made to");
# `rampbot revert` writes "This reverts merge commit <sha> of #12."
_REVERTS_COMMIT = re.compile(r"This reverts (?:merge )?commit ([0-9a-f]{7,40})")


class By(enum.Enum):
    BOT_STEP = "bot step"
    BOT_ROLLBACK = "bot rollback"
    REVERT = "revert"
    PERSON = "person"


@dataclass(frozen=True)
class MergedCommit:
    """A commit a merge on the base branch brought in (where the bot's trailers are)."""

    commit: str
    message: str
    author_email: str = ""
    trailers: tuple[tuple[str, str], ...] = ()  # its trailer block, as git's parser reads it


@dataclass(frozen=True)
class _Commit:
    """A commit of one version (the version's own or one its merge brought in), trailers read."""

    commit: str
    message: str
    trailers: Trailers


@dataclass(frozen=True)
class Change:
    """One change of one tenant's percentage for one feature, as it reached the base branch."""

    feature: str
    tenant: str
    at: datetime
    commit: str
    from_pct: int | None  # None: the feature or file did not exist before
    to_pct: int | None  # None: removed
    by: By
    author: str
    pr: int | None
    evidence: str | None
    decision: str | None  # the bot decision's id
    parent: str | None  # the id its trailer names as the previous decision for this pair
    reverts: tuple[str, ...] = ()  # decision ids a revert undid
    reverted_pr: int | None = None
    chain_ok: bool = True  # False: the trailer's parent is not the previous decision seen
    claimed: str | None = None  # a decision id in a commit that is not the bot's

    @property
    def pair(self) -> Pair:
        return (self.feature, self.tenant)


def ledger(
    versions: Sequence[FlagsVersion],
    *,
    bot_email: str | None = None,
    merged: Mapping[str, Sequence[MergedCommit]] | None = None,
    baseline: FlagsVersion | None = None,
) -> list[Change]:
    """Every change of every (feature, tenant) percentage across ``versions``, oldest first.

    ``versions`` run oldest to newest on the base branch's first-parent history; ``merged`` maps
    a merge commit to the commits it brought in; ``baseline`` is the version before the first
    (None: start from no file); ``bot_email`` is the bot's commit e-mail, whose trailers count
    (None: none counts, for callers that read only the percentages and times).
    A version that is not valid JSON is skipped.
    """
    merged = merged or {}
    tenants = _all_tenants(([baseline] if baseline else []) + list(versions))
    commits_of = {
        version.commit: _commits(version, merged.get(version.commit, ())) for version in versions
    }
    bot_commits_of = {
        version.commit: _bot_commits(version, merged.get(version.commit, ()), bot_email)
        for version in versions
    }
    decisions_of = _decisions_by_commit(versions, bot_commits_of)
    pr_of = {version.commit: _pr_number(version.message) for version in versions}
    last_decision: dict[Pair, str] = {}
    changes: list[Change] = []
    before = effective_percentages(baseline.text if baseline else None, tenants) or {}
    for version in versions:
        after = effective_percentages(version.text, tenants)
        if after is None:
            continue
        commits = commits_of[version.commit]
        bot_commits = bot_commits_of[version.commit]
        bot_shas = {item.commit for item in bot_commits}
        trailers = [item.trailers for item in bot_commits]
        decisions = {(t.feature, t.tenant): t for item in trailers for t in item.decisions}
        parents = {pair: id for item in trailers for pair, id in item.parents.items()}
        claimed = {
            (t.feature, t.tenant): t.id
            for item in commits
            if item.commit not in bot_shas
            for t in item.trailers.decisions
        }
        undone = [t for item in trailers for t in item.reverts]
        reverted = [
            sha
            for item in commits
            for sha in _REVERTS_COMMIT.findall(item.message)
            if not decisions  # a bot commit quoting a revert is still the bot's
        ]
        for sha in reverted:
            undone.extend(_lookup(decisions_of, sha))
        evidence = _evidence(bot_commits)
        for pair in sorted(before.keys() | after.keys()):
            if before.get(pair) == after.get(pair):
                continue
            decision = decisions.get(pair)
            claim = claimed.get(pair) if decision is None else None
            reverts = tuple(dict.fromkeys(t.id for t in undone if (t.feature, t.tenant) == pair))
            if decision is not None:
                by = By.BOT_ROLLBACK if decision.action == "rollback" else By.BOT_STEP
            elif reverts or reverted:
                by = By.REVERT
            else:
                by = By.PERSON
            parent = parents.get(pair) if decision else None
            changes.append(
                Change(
                    feature=pair[0],
                    tenant=pair[1],
                    at=version.committed_at,
                    commit=version.commit,
                    from_pct=before.get(pair),
                    to_pct=after.get(pair),
                    by=by,
                    author=version.author,
                    pr=pr_of[version.commit],
                    evidence=evidence.get(pair),
                    decision=decision.id if decision else None,
                    parent=parent,
                    reverts=reverts,
                    reverted_pr=next(
                        (pr for sha in reverted if (pr := _lookup_pr(pr_of, sha))), None
                    ),
                    chain_ok=claim is None
                    and (decision is None or parent == last_decision.get(pair)),
                    claimed=claim,
                )
            )
        # Every decision that reached the base branch is a parent for the next, as in
        # trailers.latest_decisions, even one whose change a person had already made.
        for pair, trailer in decisions.items():
            last_decision[pair] = trailer.id
        before = after
    return changes


def _commits(version: FlagsVersion, merged: Sequence[MergedCommit]) -> list[_Commit]:
    """A version's own commit, then those its merge brought in, with their trailers read."""
    own = _Commit(version.commit, version.message, read_trailers(version.trailers))
    return [own] + [_Commit(i.commit, i.message, read_trailers(i.trailers)) for i in merged]


def _bot_commits(
    version: FlagsVersion, merged: Sequence[MergedCommit], bot_email: str | None
) -> list[_Commit]:
    """The commits among a version and what it merged that are the bot's.

    A commit is the bot's when its author e-mail is the bot's; one a pull request's merge
    brought in must also come from a ``rampbot/`` head branch, as a person's branch may hold a
    commit made with the bot's name.
    """
    if bot_email is None:
        return []
    own, *brought = _commits(version, merged)
    found = [own] if _email_of(version.author).lower() == bot_email.lower() else []
    match = _MERGE_PR.match(version.message.splitlines()[0] if version.message else "")
    from_bot_branch = match is None or match["head"].partition("/")[2].startswith(_BOT_BRANCH)
    for item, commit in zip(merged, brought, strict=True):
        if from_bot_branch and item.author_email.lower() == bot_email.lower():
            found.append(commit)
    return found


def _email_of(author: str) -> str:
    """The e-mail of "Name <email>"."""
    return author.rpartition("<")[2].rstrip(">").strip()


def select(
    changes: Iterable[Change], *, tenant: str | None = None, feature: str | None = None
) -> list[Change]:
    """The changes of one tenant and/or feature."""
    return [
        change
        for change in changes
        if (tenant is None or change.tenant == tenant)
        and (feature is None or change.feature == feature)
    ]


def _all_tenants(versions: Iterable[FlagsVersion]) -> set[str]:
    """Every tenant any version names, so a change of a feature's default shows for each."""
    names: set[str] = set()
    for version in versions:
        try:
            document: Any = json.loads(version.text or "{}")
            for entry in (document.get("features") or {}).values():
                names.update((entry.get("tenants") or {}).keys())
        except (ValueError, AttributeError):
            continue
    return names


def _decisions_by_commit(
    versions: Sequence[FlagsVersion], bot_commits_of: Mapping[str, Sequence[_Commit]]
) -> dict[str, list[DecisionTrailer]]:
    """The bot's decisions each commit carries; a merge also carries those of what it merged.

    A revert names the merge commit (``git revert -m 1``) or the bot's commit itself.
    """
    found: dict[str, list[DecisionTrailer]] = {}
    for version in versions:
        own: list[DecisionTrailer] = []
        for item in bot_commits_of[version.commit]:
            decisions = list(item.trailers.decisions)
            if item.commit != version.commit:
                found[item.commit] = decisions
            own.extend(decisions)
        found[version.commit] = own
    return found


def _lookup(decisions_of: Mapping[str, list[DecisionTrailer]], sha: str) -> list[DecisionTrailer]:
    for commit, decisions in decisions_of.items():
        if commit.startswith(sha):
            return decisions
    return []


def _lookup_pr(pr_of: Mapping[str, int | None], sha: str) -> int | None:
    return next((pr for commit, pr in pr_of.items() if commit.startswith(sha)), None)


def _pr_number(message: str) -> int | None:
    """The PR a base-branch commit came from: a merge commit's subject or a squash's ``(#12)``."""
    subject = message.splitlines()[0] if message else ""
    match = _MERGE_PR.match(subject) or _SQUASH_PR.search(subject)
    return int(match.group(1)) if match else None


def _evidence(commits: Iterable[_Commit]) -> dict[Pair, str]:
    """The reasons the bot's commits give for each pair they changed."""
    found: dict[Pair, str] = {}
    for item in commits:
        trailers = item.trailers
        if trailers.decisions and not trailers.evidence:  # made before Rampbot-Evidence
            for pair, why in old_evidence(item.message).items():
                found.setdefault(pair, why)
        for decision in trailers.decisions:
            reasons = trailers.evidence.get(decision.id)
            if reasons is not None:
                found.setdefault((decision.feature, decision.tenant), "; ".join(reasons))
    return found


def lineage_complete(change: Change) -> bool:
    """Whether a change's chain is complete: a decision, its parent, and its pull request.

    A bot change needs its decision trailer, the parent that trailer names being the decision
    seen before it for the pair (none for a first step), and the pull request it merged from; a
    revert needs the decisions it undoes and its pull request. A person's edit has no chain.
    """
    if change.pr is None:
        return False
    if change.decision is not None:
        return change.chain_ok
    return change.by is By.REVERT and bool(change.reverts)


def lineage_complete_ratio(changes: Sequence[Change]) -> float | None:
    """The share of percentage moves whose chain is complete; None without any move.

    A tenant or feature that appears or disappears (the file's first version, onboarding) is
    a change of configuration, not a step: only changes from one percentage to another count.
    """
    moves = [c for c in changes if c.from_pct is not None and c.to_pct is not None]
    if not moves:
        return None
    return sum(lineage_complete(change) for change in moves) / len(moves)


def redactions(
    versions: Sequence[FlagsVersion],
    *,
    bot_email: str | None,
    merged: Mapping[str, Sequence[MergedCommit]] | None = None,
) -> dict[str, int]:
    """Spans redacted by kind, summed over the ``Rampbot-Redacted`` trailers of bot commits."""
    totals: dict[str, int] = {}
    seen: set[str] = set()
    commits = [
        commit
        for version in versions
        for commit in _bot_commits(version, (merged or {}).get(version.commit, ()), bot_email)
    ]
    for commit in commits:
        if commit.commit in seen:
            continue
        seen.add(commit.commit)
        for kind, count in commit.trailers.redacted.items():
            totals[kind] = totals.get(kind, 0) + count
    return totals


@dataclass(frozen=True)
class HistoryMetrics:
    """What the dashboards show of the flags file's history."""

    lineage_complete_ratio: float | None  # None: no percentage ever moved
    redactions: Mapping[str, int]  # kind -> spans redacted from rampbot's pull requests
    rollbacks: Mapping[str, int]  # feature -> bot rollbacks that reached the base branch


def history_metrics(
    versions: Sequence[FlagsVersion],
    *,
    bot_email: str,
    merged: Mapping[str, Sequence[MergedCommit]] | None = None,
    baseline: FlagsVersion | None = None,
) -> HistoryMetrics:
    """Lineage completeness, redactions and rollbacks over ``versions`` (as for ``ledger``)."""
    changes = ledger(versions, bot_email=bot_email, merged=merged, baseline=baseline)
    rollbacks: dict[str, int] = {}
    for change in changes:
        if change.by is By.BOT_ROLLBACK:
            rollbacks[change.feature] = rollbacks.get(change.feature, 0) + 1
    return HistoryMetrics(
        lineage_complete_ratio=lineage_complete_ratio(changes),
        redactions=redactions(versions, bot_email=bot_email, merged=merged),
        rollbacks=rollbacks,
    )
