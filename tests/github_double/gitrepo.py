"""The double's repository: a real bare git repository, read and written with the git CLI.

Branches and SHAs are whatever git says; the double keeps no copy of them. Merges are real
commits made with `git merge-tree --write-tree` (git >= 2.38) and `git commit-tree`, so no
work tree is needed and a client pushing at the same time sees ordinary ref updates.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Who GitHub says made a merge commit: the committer of a web merge is GitHub itself.
GITHUB_COMMITTER = {
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


class GitError(RuntimeError):
    """A git command failed."""


@dataclass(frozen=True)
class MergeResult:
    """Outcome of a merge attempt: a tree when clean, the conflicting paths otherwise."""

    tree: str | None
    conflicts: tuple[str, ...]


class BareRepo:
    """A bare repository on disk; every method runs git against it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def url(self) -> str:
        """What `git push` / `git clone` take to reach this repository."""
        return self.path.as_uri()

    @classmethod
    def create(
        cls, path: Path, files: Mapping[str, str | bytes], *, branch: str = "main"
    ) -> BareRepo:
        """A new bare repository whose `branch` holds one commit with `files`."""
        subprocess.run(
            ["git", "init", "-q", "--bare", f"--initial-branch={branch}", str(path)],
            check=True,
            capture_output=True,
        )
        repo = cls(path)
        repo.commit_files(branch, files, message="Initial commit")
        return repo

    def git(
        self,
        *args: str,
        input_bytes: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> str:
        """Run a git command in the repository and return its stdout."""
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input_bytes,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if done.returncode not in ok:
            raise GitError(
                f"git {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout.decode(errors="replace")

    def commit_files(
        self,
        branch: str,
        files: Mapping[str, str | bytes],
        *,
        message: str,
        start: str = "main",
        keep_existing: bool = True,
    ) -> str:
        """Commit `files` (path -> content) on `branch`, a new branch starting at `start`.

        For tests that play a person pushing (a human edit on main, a commit on the bot's
        branch); the new SHA. A branch that exists moves with a compare-and-swap, as a push.
        `branch` may be a full ref name (refs/...), e.g. a fork's branch.
        """
        ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        old = self.resolve(ref)
        parent = old or self.resolve(f"refs/heads/{start}")
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if parent and keep_existing:
                self.git("read-tree", parent, env=env)
            for name, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                blob = self.git("hash-object", "-w", "--stdin", input_bytes=data).strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            tree = self.git("write-tree", env=env).strip()
        parents = ["-p", parent] if parent else []
        sha = self.git("commit-tree", tree, *parents, "-m", message).strip()
        self.update_ref(ref, sha, old=old or "")
        return sha

    def resolve(self, rev: str) -> str | None:
        """The commit SHA a ref or SHA names, or None."""
        out = self.git("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", ok=(0, 1, 128))
        return out.strip() or None

    def refs(self, prefix: str) -> dict[str, str]:
        """Full ref name -> SHA for refs starting with `refs/<prefix>`."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/")
        found: dict[str, str] = {}
        for line in out.splitlines():
            name, sha = line.split(" ", 1)
            if name.startswith(f"refs/{prefix}"):
                found[name] = sha
        return found

    def update_ref(self, ref: str, new: str, *, old: str | None = None) -> None:
        """Move a ref; with `old`, only if it still points there ('' means must not exist)."""
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        self.git(*args)

    def delete_ref(self, ref: str) -> None:
        """Delete a ref."""
        self.git("update-ref", "-d", ref)

    def commits_between(self, base: str, head: str) -> list[str]:
        """SHAs reachable from head but not base, oldest first (what a PR contains)."""
        out = self.git("rev-list", "--reverse", f"{base}..{head}")
        return out.split()

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether `older` is reachable from `newer`."""
        done = subprocess.run(
            ["git", "--git-dir", str(self.path), "merge-base", "--is-ancestor", older, newer],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def merge_tree(self, base: str, head: str) -> MergeResult:
        """The tree of merging head into base, or the conflicting paths."""
        out = self.git(
            "merge-tree", "--write-tree", "--name-only", "--no-messages", base, head, ok=(0, 1)
        )
        lines = out.splitlines()
        if not lines:
            raise GitError(f"git merge-tree {base} {head} printed nothing")
        conflicts = tuple(line for line in lines[1:] if line)
        return MergeResult(tree=None if conflicts else lines[0], conflicts=conflicts)

    def commit_tree(
        self, tree: str, parents: list[str], message: str, *, author: tuple[str, str]
    ) -> str:
        """Write a commit object (not on any ref) and return its SHA."""
        env = {**GITHUB_COMMITTER, "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, "-m", message, env=env).strip()

    def show_file(self, rev: str, path: str) -> str | None:
        """A file's text at a revision, or None if absent."""
        out = self.git("cat-file", "-p", f"{rev}:{path}", ok=(0, 128))
        return out if out else None
