"""The git adapter: the only module that imports GitPython."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import git

from bot.errors import InputError
from bot.history import FlagsVersion

_FIELD = "\x1f"
_RECORD = "\x1e"


def open_repository(path: Path) -> git.Repo:
    """Open the git repository containing ``path``."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{path}: not inside a git repository") from None


def flags_versions(
    repo: git.Repo, path: str, *, ref: str, since: datetime | None = None
) -> tuple[FlagsVersion | None, list[FlagsVersion]]:
    """The versions of ``path`` on ``ref``'s first-parent history, oldest first.

    First-parent history dates a change by when it reached the branch (the merge), not when
    it was authored on a PR branch. With ``since``, returns the versions committed since then
    and, as the baseline, the newest version before it (None if the file did not exist).
    """
    output = repo.git.log(
        "--first-parent",
        f"--format={_RECORD}%H{_FIELD}%ct{_FIELD}%an <%ae>{_FIELD}%B",
        ref,
        "--",
        path,
    )
    records = [record for record in output.split(_RECORD) if record.strip()]
    versions: list[FlagsVersion] = []
    baseline: FlagsVersion | None = None
    for record in records:  # newest first
        commit, timestamp, author, message = record.split(_FIELD, 3)
        committed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
        version = FlagsVersion(
            commit=commit,
            committed_at=committed_at,
            author=author,
            message=message.strip(),
            text=_file_at(repo, commit, path),
        )
        if since is not None and committed_at < since:
            baseline = version
            break
        versions.append(version)
    versions.reverse()
    return baseline, versions


def _file_at(repo: git.Repo, commit: str, path: str) -> str | None:
    try:
        return str(repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False))
    except git.GitCommandError:
        return None  # deleted in this commit
