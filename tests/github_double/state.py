"""What the double remembers that git does not: pull requests, comments, labels, statuses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    """The current time as GitHub writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Comment:
    """An issue (conversation) comment."""

    id: int
    issue: int
    body: str
    user: str
    created_at: str
    updated_at: str


@dataclass
class Label:
    """A repository label."""

    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Status:
    """A commit status."""

    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str
    updated_at: str


@dataclass
class Pull:
    """A pull request (also issue number `number`)."""

    number: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    draft: bool = False
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    closed_by: str | None = None  # who closed it (the issue's closed_by)
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    # The head SHA GitHub keeps showing once the PR is closed or its branch is gone.
    last_head_sha: str = ""
    last_base_sha: str = ""
    auto_merge: dict[str, Any] | None = None
    # A fork's login when the head branch lives in a fork (owner/name of the fork: login/name).
    head_owner: str | None = None

    @property
    def head_git_ref(self) -> str:
        """Where the head lives in the bare repository: a fork's branches are kept apart."""
        if self.head_owner is None:
            return f"refs/heads/{self.head}"
        return f"refs/forks/{self.head_owner}/{self.head}"

    def touch(self) -> None:
        """Record a change (updated_at)."""
        self.updated_at = now_iso()


@dataclass
class Issue:
    """An issue that is not a pull request (the ramp dashboard)."""

    number: int
    title: str
    body: str | None
    user: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    closed_by: str | None = None

    def touch(self) -> None:
        """Record a change (updated_at)."""
        self.updated_at = now_iso()


@dataclass
class State:
    """Everything the double stores besides git, guarded by the server's lock."""

    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)  # issues that are not pull requests
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    statuses: dict[str, list[Status]] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def user_id(self, login: str) -> int:
        """A stable id per login."""
        return self.users.setdefault(login, 100 + len(self.users))

    def label(self, name: str) -> Label:
        """The repository label `name`, created on first use as GitHub does when labelling."""
        found = self.find_label(name)
        if found is None:
            found = self.labels[name] = Label(id=next(self.ids), name=name)
        return found

    def find_label(self, name: str) -> Label | None:
        """Label lookup is case-insensitive on GitHub."""
        for label in self.labels.values():
            if label.name.lower() == name.lower():
                return label
        return None
