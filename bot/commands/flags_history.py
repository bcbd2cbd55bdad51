"""The flags file's history from git: its versions on a ref, and what each merge brought in.

Shared by ``rampbot history`` (the table of changes) and ``rampbot publish`` (lineage and
redaction metrics).
"""

from __future__ import annotations

from pathlib import Path

from bot import git
from bot.change_log import HistoryMetrics, MergedCommit, history_metrics
from bot.errors import InputError
from bot.last_change import FlagsVersion


def read_history(
    repo: git.Repository, path: str, *, ref: str
) -> tuple[FlagsVersion | None, list[FlagsVersion], dict[str, list[MergedCommit]]]:
    """The versions of the flags file on ``ref``, and what each merge among them brought in."""
    baseline, versions = git.flags_versions(repo, path, ref=ref)
    merged: dict[str, list[MergedCommit]] = {}
    for version in versions:
        parents = git.parents_of(repo, version.commit)
        if len(parents) > 1:
            merged[version.commit] = [
                MergedCommit(
                    commit=commit.sha,
                    message=commit.message,
                    author_email=commit.author_email,
                    trailers=commit.trailers,
                )
                for commit in git.commits_between(repo, parents[0], version.commit)
                if commit.sha != version.commit
            ]
    return baseline, versions, merged


def metrics_of_history(flags_path: Path, *, bot_email: str) -> HistoryMetrics | None:
    """Lineage, redactions and rollbacks of the flags file's history on HEAD.

    Only commits by ``bot_email`` carry trailers that count (see bot/change_log.py).

    None when the file lies in no git repository (a copy published from elsewhere).
    """
    repo = git.find_repository(flags_path.resolve().parent)
    if repo is None:
        return None
    try:
        path = git.relative_path(repo, flags_path.resolve())
    except InputError:  # the file lies outside the repository
        return None
    if git.resolve(repo, "HEAD") is None:  # a repository without a commit yet
        return None
    baseline, versions, merged = read_history(repo, path, ref="HEAD")
    return history_metrics(versions, bot_email=bot_email, merged=merged, baseline=baseline)
