"""The git adapter: the only module that imports GitPython."""

from __future__ import annotations

import functools
import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

# GitPython looks for git when imported and, without it, fails the import with a traceback.
# Quiet, it fails at the first git command instead, which _git_failures turns into a message
# (https://gitpython.readthedocs.io/en/stable/intro.html#requirements).
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
import git

from bot import outbound
from bot.errors import ConflictError, InputError, ServiceError
from bot.flags import revision_after_revert, undo_in_flags
from bot.last_change import FlagsVersion
from bot.urls import without_credentials

_FIELD = "\x1f"
_RECORD = "\x1e"
# A message's trailer block as git's own parser reads it (git log's %(trailers)): continuation
# lines joined, lines that are not trailers left out; key and value split by \x1c, trailers by
# \x1d, so a value may hold any other character (https://git-scm.com/docs/pretty-formats).
_TRAILERS = "%(trailers:only,unfold,separator=%x1d,key_value_separator=%x1c)"

_P = ParamSpec("_P")
_R = TypeVar("_R")


class GitFailed(ServiceError):
    """A git command failed for a reason of the repository or the machine, not of the input."""


def _git_failures(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn any GitPython error escaping ``function`` into a GitFailed naming git's own words.

    Every public function of this module wears it, so no git failure (a damaged repository, a
    lock file left behind, git missing from PATH) ends as an internal error.
    """

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except git.GitCommandNotFound:
            raise GitFailed(
                "git: command not found; install git and make sure it is on PATH"
            ) from None
        except git.GitCommandError as error:
            if error.status in (-signal.SIGINT, 128 + signal.SIGINT):
                raise KeyboardInterrupt from None  # Ctrl-C reached git too: stop as for rampbot
            raise GitFailed(_failure_message(error)) from None
        except git.GitError as error:
            raise GitFailed(
                f"git: {without_credentials(str(error))}; check the repository (git status, "
                "git fsck)"
            ) from None

    return wrapper


def _failure_message(error: git.GitCommandError) -> str:
    command = error.command if isinstance(error.command, list | tuple) else [str(error.command)]
    words = [str(word) for word in command]
    # ['git', 'log', ...] or ['git', '-c', 'x=y', 'log', ...]: name the subcommand only, as the
    # arguments may be long (a format string) and say nothing to the person reading.
    subcommand = next((w for w in words[1:] if not w.startswith("-") and "=" not in w), "")
    name = f"git {subcommand}" if subcommand else "git"
    return (
        f"{name} failed: {_git_stderr(error)}; check the repository (git status, git fsck) "
        "and run rampbot again"
    )


@dataclass(frozen=True)
class Repository:
    """A git repository rampbot works in; every git operation on it is a function of this module.

    The rest of rampbot sees only ``top``: reading, committing and pushing go through the
    functions below, so GitPython stays inside this module.
    """

    top: Path  # the top directory of the working tree
    gitpython: git.Repo = field(repr=False, compare=False)  # for this module's functions only

    @property
    def git(self) -> git.cmd.Git:
        """Runs git commands in this repository (``repo.git.log(...)``)."""
        return self.gitpython.git


def _repository(handle: git.Repo) -> Repository:
    return Repository(top=Path(str(handle.working_tree_dir)), gitpython=handle)


@_git_failures
def open_repository(path: Path) -> Repository:
    """Open the git repository containing ``path``."""
    try:
        return _repository(git.Repo(path, search_parent_directories=True))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{path}: not inside a git repository") from None


@_git_failures
def find_repository(path: Path) -> Repository | None:
    """The git repository containing ``path`` and with at least one commit, else None."""
    try:
        handle = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    return _repository(handle) if handle.head.is_valid() else None


@_git_failures
def flags_versions(
    repo: Repository, path: str, *, ref: str, since: datetime | None = None
) -> tuple[FlagsVersion | None, list[FlagsVersion]]:
    """The versions of ``path`` on ``ref``'s first-parent history, oldest first.

    First-parent history dates a change by when it reached the branch (the merge), not when
    it was authored on a PR branch. With ``since``, returns the versions committed since then
    and, as the baseline, the newest version before it (None if the file did not exist).
    """
    output = repo.git.log(
        "--first-parent",
        f"--format={_RECORD}%H{_FIELD}%ct{_FIELD}%an <%ae>{_FIELD}{_TRAILERS}{_FIELD}%B",
        ref,
        "--",
        path,
    )
    records = [record for record in output.split(_RECORD) if record.strip()]
    versions: list[FlagsVersion] = []
    baseline: FlagsVersion | None = None
    for record in records:  # newest first
        commit, timestamp, author, block, message = record.split(_FIELD, 4)
        committed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
        version = FlagsVersion(
            commit=commit,
            committed_at=committed_at,
            author=author,
            message=message.strip(),
            text=_file_at(repo, commit, path),
            trailers=_trailer_lines(block),
        )
        if since is not None and committed_at < since:
            baseline = version
            break
        versions.append(version)
    versions.reverse()
    return baseline, versions


@_git_failures
def commits_of(
    repo: Repository, path: str, *, ref: str, since: datetime
) -> tuple[tuple[str, datetime] | None, list[tuple[str, datetime]]]:
    """The commits that changed ``path`` on ``ref``'s first-parent history since ``since``.

    Oldest first, with when each reached the branch; and the newest one before ``since`` (None
    if the file did not exist then). Only names and dates: ``read_blob`` reads each file, one
    at a time, so that 30 days of a 5 MB file need not be held at once.
    """
    output = repo.git.log("--first-parent", f"--format=%H{_FIELD}%ct", ref, "--", path)
    recent: list[tuple[str, datetime]] = []
    baseline: tuple[str, datetime] | None = None
    for line in output.splitlines():  # newest first
        commit, timestamp = line.split(_FIELD)
        committed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
        if committed_at < since:
            baseline = (commit, committed_at)
            break
        recent.append((commit, committed_at))
    recent.reverse()
    return baseline, recent


@_git_failures
def read_blob(repo: Repository, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``commit``, or None if absent there.

    Through GitPython's object database: one `git cat-file --batch` process serves every
    call, where `git show` would start a process per version.
    """
    try:
        blob = repo.gitpython.commit(commit).tree / path
    except KeyError:
        return None  # deleted in this commit, or not created yet
    data: bytes = blob.data_stream.read()
    return data


# What `git show COMMIT:PATH` says when PATH is not in COMMIT; any other failure (a missing
# object in a damaged repository) is an error, not an absent file.
_ABSENT = ("does not exist in", "exists on disk, but not in")


def _file_at(repo: Repository, commit: str, path: str) -> str | None:
    try:
        return str(repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False))
    except git.GitCommandError as error:
        if any(sign in str(error.stderr) for sign in _ABSENT):
            return None  # deleted in this commit, or not created yet
        raise


# --- Writing: branches, commits and pushes for `rampbot run` and `rampbot revert`. ---
# Commits are built with plumbing (a temporary index, commit-tree) or in a temporary worktree,
# so the person's checkout, index and HEAD are never touched.


@dataclass(frozen=True)
class Identity:
    """Who the bot's commits are by (author and committer)."""

    name: str
    email: str

    def environment(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str  # "Name <email>"
    author_email: str
    message: str
    trailers: tuple[tuple[str, str], ...] = ()  # its trailer block, as git's parser reads it


def _trailer_lines(text: str) -> tuple[tuple[str, str], ...]:
    """The (key, value) pairs of a %(trailers) field written with _TRAILERS's separators."""
    pairs = (item.partition("\x1c") for item in text.strip("\n").split("\x1d") if item)
    return tuple((key, value) for key, _, value in pairs)


class PushRejected(ConflictError):
    """The remote branch is not where we expected it: someone else moved it."""


@_git_failures
def has_remote(repo: Repository, remote: str) -> bool:
    """Whether the repository has a remote of that name."""
    return remote in [r.name for r in repo.gitpython.remotes]


@_git_failures
def fetch(repo: Repository, *, remote: str, base: str, prefix: str = "rampbot/") -> None:
    """Fetch the base branch and every bot branch, so plans start from the latest base."""
    try:
        repo.git.fetch(
            "--prune",
            "--no-tags",
            remote,
            f"+refs/heads/{base}:refs/remotes/{remote}/{base}",
            f"+refs/heads/{prefix}*:refs/remotes/{remote}/{prefix}*",
        )
    except git.GitCommandError as error:
        raise ServiceError(
            f"git fetch {remote} {base} failed: {_git_stderr(error)}; check that the remote "
            f"exists and that {base} is its base branch (base_branch in the policy)"
        ) from None


@_git_failures
def resolve(repo: Repository, ref: str) -> str | None:
    """The commit ``ref`` names, or None if it does not exist."""
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}"))
    except git.GitCommandError:
        return None


@_git_failures
def dated_trailers(
    repo: Repository, *, ref: str, path: str, since: datetime
) -> list[tuple[datetime, tuple[tuple[str, str], ...]]]:
    """Each commit in ``ref``'s history that changed ``path`` since ``since``: when, trailers.

    Not only first-parent: a merged bot branch carries its trailers on its own commit.
    """
    output = repo.git.log(
        f"--since={int(since.timestamp())}",
        f"--format={_RECORD}%ct{_FIELD}{_TRAILERS}",
        ref,
        "--",
        path,
    )
    found = []
    for record in output.split(_RECORD):
        if record.strip():
            timestamp, block = record.split(_FIELD, 1)
            found.append((datetime.fromtimestamp(int(timestamp), tz=UTC), _trailer_lines(block)))
    return found


@_git_failures
def read_file(repo: Repository, commit: str, path: str) -> str | None:
    """The text of ``path`` at ``commit``, or None if absent there."""
    return _file_at(repo, commit, path)


@_git_failures
def relative_path(repo: Repository, path: Path) -> str:
    """``path`` as git names it in ``repo``: relative to its top, with forward slashes."""
    top = repo.top.resolve()
    try:
        return path.resolve().relative_to(top).as_posix()
    except ValueError:
        raise InputError(f"{path}: not inside the git repository at {top}") from None


@_git_failures
def commit_file(
    repo: Repository,
    *,
    parent: str,
    path: str,
    text: str,
    message: str,
    identity: Identity,
) -> str:
    """Create (not check out) a commit on ``parent`` that sets ``path`` to ``text``."""
    with tempfile.TemporaryDirectory(prefix="rampbot-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), **identity.environment()}
        repo.git.read_tree(parent, env=env)
        content = Path(scratch) / "content"
        content.write_bytes(text.encode("utf-8"))
        blob = repo.git.hash_object("-w", "--no-filters", str(content))
        mode = _mode_of(repo, parent, path)
        repo.git.update_index("--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
        tree = repo.git.write_tree(env=env)
        message_file = Path(scratch) / "message"
        message_file.write_text(outbound.clean(message), encoding="utf-8")
        return str(repo.git.commit_tree(tree, "-p", parent, "-F", str(message_file), env=env))


@_git_failures
def parents_of(repo: Repository, commit: str) -> list[str]:
    return str(repo.git.rev_list("--parents", "-n", "1", commit)).split()[1:]


@_git_failures
def commits_between(repo: Repository, base: str, head: str) -> list[Commit]:
    """The commits on ``head`` that are not on ``base``, newest first."""
    return _commits(repo.git.log(f"--format={_COMMIT_FORMAT}", f"{base}..{head}"))


_COMMIT_FORMAT = f"{_RECORD}%H{_FIELD}%an <%ae>{_FIELD}%ae{_FIELD}{_TRAILERS}{_FIELD}%B"


def _commits(output: str) -> list[Commit]:
    """The commits of a ``git log --format=_COMMIT_FORMAT``."""
    commits = []
    for record in output.split(_RECORD):
        if record.strip():
            sha, author, email, block, message = record.split(_FIELD, 4)
            commits.append(
                Commit(
                    sha=sha,
                    author=author,
                    author_email=email,
                    message=message,
                    trailers=_trailer_lines(block),
                )
            )
    return commits


@_git_failures
def first_parent_commits(repo: Repository, *, ref: str, limit: int = 2000) -> list[Commit]:
    """The commits on ``ref``'s first-parent history, newest first (at most ``limit``)."""
    return _commits(repo.git.log("--first-parent", f"-n{limit}", f"--format={_COMMIT_FORMAT}", ref))


@_git_failures
def diff(repo: Repository, old: str, new: str, *, path: str) -> str:
    """The unified diff of ``path`` from commit ``old`` to commit ``new``."""
    return str(repo.git.diff(old, new, "--", path, strip_newline_in_stdout=False))


@_git_failures
def foreign_commits(repo: Repository, *, base: str, head: str, identity: Identity) -> list[Commit]:
    """Commits on the bot's branch not authored by the bot: a person is working on it."""
    return [
        commit
        for commit in commits_between(repo, base, head)
        if commit.author_email.lower() != identity.email.lower()
    ]


@_git_failures
def trailer_blocks(
    repo: Repository, *, ref: str, path: str, limit: int = 500
) -> list[tuple[tuple[str, str], ...]]:
    """The trailers of the commits reachable from ``ref`` that touched ``path``, newest first.

    All parents are followed, not only the first: a bot commit reaches the base branch as the
    second parent of a merge, and its trailers are on it, not on the merge.
    """
    output = repo.git.log(f"--format={_RECORD}{_TRAILERS}", f"-n{limit}", ref, "--", path)
    return [_trailer_lines(record) for record in output.split(_RECORD)[1:]]


@_git_failures
def push(repo: Repository, *, remote: str, commit: str, branch: str, expected: str | None) -> None:
    """Point ``branch`` on the remote at ``commit`` if it is still at ``expected``.

    ``expected`` None means the branch must not exist yet. --force-with-lease with an explicit
    value compares against what we fetched, not whatever the remote-tracking ref says now
    (https://git-scm.com/docs/git-push#Documentation/git-push.txt---force-with-leaseltrefnamegtltexpectgt).
    """
    ref = f"refs/heads/{branch}"
    try:
        repo.git.push(
            "--porcelain",
            f"--force-with-lease={ref}:{expected or ''}",
            remote,
            f"{commit}:{ref}",
        )
    except git.GitCommandError as error:
        stderr = _git_stderr(error)
        output = f"{error.stdout or ''} {stderr}"
        moved = ("stale info", "fetch first", "non-fast-forward", "failed to update ref")
        if "hook declined" not in output and any(sign in output for sign in moved):
            raise PushRejected(f"{branch} moved on {remote}: {stderr}") from None
        raise ServiceError(
            f"git push {remote} {branch} failed: {stderr}; check that the token may push "
            "(in a workflow: permissions: contents: write)"
        ) from None
    repo.git.update_ref(f"refs/remotes/{remote}/{branch}", commit)


@_git_failures
def revert_merge(
    repo: Repository,
    *,
    onto: str,
    merge: str,
    message: str,
    identity: Identity,
    flags_path: str | None = None,
) -> str:
    """A real ``git revert -m 1`` of ``merge`` on top of ``onto``, made in a scratch worktree.

    A squash or rebase merge leaves a commit with one parent: that one is reverted plainly.
    With ``flags_path``, that file's ``revision`` goes up to ``onto``'s plus one instead of back
    (rampbot publish never writes an older revision), and a conflict in that file alone is
    merged again with the three ``revision`` values made equal, so that only the tenant lines
    can conflict: later bot commits always change the ``revision`` line (bot/flags.py's
    ``undo_in_flags`` and ``revision_after_revert``; only the line merge runs here).
    """
    parents = parents_of(repo, merge)
    mainline = ["-m", "1"] if len(parents) > 1 else []
    with tempfile.TemporaryDirectory(prefix="rampbot-revert-") as scratch:
        worktree = str(Path(scratch) / "tree")
        repo.git.worktree("add", "--detach", worktree, onto)
        try:
            tree = git.Repo(worktree)
            env = identity.environment()
            try:
                tree.git.revert("--no-commit", *mainline, merge, env=env)
            except git.GitCommandError as error:
                conflicted = str(tree.git.diff("--name-only", "--diff-filter=U")).split()
                if flags_path is None or conflicted != [flags_path]:
                    raise ConflictError(
                        f"cannot revert {merge[:12]} on {onto[:12]}: {_git_stderr(error)}; later "
                        "changes touch the same lines, so revert it by hand"
                    ) from None
                undone = undo_in_flags(
                    path=flags_path,
                    current=_file_at(repo, onto, flags_path),
                    merged=_file_at(repo, merge, flags_path),
                    parent=_file_at(repo, parents[0], flags_path) if parents else None,
                    describe=f"revert {merge[:12]} on {onto[:12]}",
                    merge_lines=_merge_lines(tree),
                )
                _write(tree, flags_path, undone)
            if flags_path is not None:
                _raise_revision(tree, path=flags_path, base=_file_at(repo, onto, flags_path))
            message_file = Path(scratch) / "message"
            message_file.write_text(outbound.clean(message), encoding="utf-8")
            tree.git.commit(
                "--no-verify",
                "--allow-empty",
                "--cleanup=verbatim",
                "-F",
                str(message_file),
                env=env,
            )
            return str(tree.git.rev_parse("HEAD"))
        finally:
            repo.git.worktree("remove", "--force", worktree)


def _merge_lines(tree: git.Repo) -> Callable[[str, str, str], str | None]:
    """``git merge-file -p CURRENT BASE OTHER`` on texts: the merged text, or None on conflict."""

    def merge_lines(current: str, base: str, other: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="rampbot-merge-file-") as scratch:
            names = []
            for name, text in zip(
                ("current", "base", "other"), (current, base, other), strict=True
            ):
                file = Path(scratch) / name
                file.write_bytes(text.encode("utf-8"))
                names.append(str(file))
            try:
                # Its exit status is the number of conflicts.
                return str(tree.git.merge_file("-p", *names, strip_newline_in_stdout=False))
            except git.GitCommandError:
                return None

    return merge_lines


def _raise_revision(tree: git.Repo, *, path: str, base: str | None) -> None:
    """Write the reverted file's raised ``revision`` (bot/flags.py decides it) into the tree."""
    file = Path(str(tree.working_tree_dir), path)
    if not file.exists():
        return
    text = file.read_bytes().decode("utf-8")
    raised = revision_after_revert(text, path=path, base=base)
    if raised != text:
        _write(tree, path, raised)


def _write(tree: git.Repo, path: str, text: str) -> None:
    Path(str(tree.working_tree_dir), path).write_bytes(text.encode("utf-8"))
    tree.git.add("--", path)


def _mode_of(repo: Repository, commit: str, path: str) -> str:
    listing = str(repo.git.ls_tree(commit, "--", path))
    return listing.split()[0] if listing else "100644"


def _git_stderr(error: git.GitCommandError) -> str:
    text = str(error.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    # One line, and never a URL's user:password (a remote may be configured with a token).
    return without_credentials(" ".join(text.split())) or f"exit status {error.status}"


@_git_failures
def init_repository(path: Path, *, branch: str, identity: Identity, date: datetime) -> Repository:
    """Make ``path`` a git repository whose one commit, dated ``date``, holds its files."""
    repo = git.Repo.init(path, initial_branch=branch)
    env = {
        **identity.environment(),
        "GIT_AUTHOR_DATE": date.isoformat(),
        "GIT_COMMITTER_DATE": date.isoformat(),
    }
    repo.git.add("--all")
    repo.git.commit("--no-verify", "-m", "Start the demo repository", env=env)
    return _repository(repo)
