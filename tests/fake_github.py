"""An in-memory GitHub for branch and pull-request logic: bot.github.PullRequests on dicts.

Fast and plain, after bedevere's FakeGH: it keeps pull requests, labels, comments and statuses,
records every call, and can be told to answer as GitHub does in the cases rampbot must handle
(a pull request opened meanwhile by another run, a mergeable state, a refused merge). What
bot/github.py sends over the wire is tested against the HTTP double instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.errors import ServiceError
from bot.github import PullRequestAlreadyExists
from bot.ramp_pr import CommitStatus, PullRequest, status_description

REPOSITORY = "acme/flags"


@dataclass
class FakeGitHub:
    repository: str = REPOSITORY
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)
    statuses: dict[str, CommitStatus] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    merge_states: dict[int, str] = field(default_factory=dict)  # default "blocked"
    refuse_merge: str | None = None  # the message of a ServiceError for merges
    auto_merge: set[int] = field(default_factory=set)
    closers: dict[int, str] = field(default_factory=dict)  # who closed a pull request
    # Opened by someone else just before rampbot's request: opening then fails as on GitHub.
    opened_meanwhile: PullRequest | None = None

    def add_pull(self, head: str, **fields: object) -> PullRequest:
        number = max(self.pulls, default=0) + 1
        values: dict[str, object] = {
            "number": number,
            "title": f"PR {number}",
            "body": "",
            "labels": (),
            "head_ref": head,
            "head_sha": f"{number:040x}",
            "base_ref": "main",
            "url": f"https://github.test/{self.repository}/pull/{number}",
            "head_repo": self.repository,
        }
        pull = PullRequest(**{**values, **fields})  # type: ignore[arg-type]
        self.pulls[number] = pull
        return pull

    def open_pull_requests(self, *, base: str) -> list[PullRequest]:
        self.calls.append(f"list {base}")
        return [p for p in self.pulls.values() if p.state == "open" and p.base_ref == base]

    def get_pull_request(self, number: int) -> PullRequest:
        self.calls.append(f"get #{number}")
        return self.pulls[number]

    def last_closed_pull_request(self, *, head: str, base: str) -> PullRequest | None:
        self.calls.append(f"closed? {head}")
        closed = [
            p
            for p in self.pulls.values()
            if p.state == "closed" and p.head_ref == head and p.base_ref == base
        ]
        return closed[-1] if closed else None

    def closed_by(self, number: int) -> str | None:
        self.calls.append(f"closed by? #{number}")
        return self.closers.get(number)

    def open_pull_request(
        self,
        *,
        head: str,
        base: str,
        title: str,
        body: str,
        labels: Sequence[str],
        reviewers: Sequence[str] = (),
        team_reviewers: Sequence[str] = (),
    ) -> PullRequest:
        self.calls.append(f"open {head}")
        if self.opened_meanwhile is not None:
            existing, self.opened_meanwhile = self.opened_meanwhile, None
            self.pulls[existing.number] = existing
            raise PullRequestAlreadyExists("GitHub: 422 A pull request already exists")
        if any(p.head_ref == head and p.state == "open" for p in self.pulls.values()):
            raise PullRequestAlreadyExists("GitHub: 422 A pull request already exists")
        return self.add_pull(head, title=title, body=body, labels=tuple(labels), base_ref=base)

    def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None:
        self.calls.append(f"update #{number}")
        pull = self.pulls[number]
        labels = (*pull.labels, *(label for label in add_labels if label not in pull.labels))
        self.pulls[number] = replace(
            pull,
            title=pull.title if title is None else title,
            body=pull.body if body is None else body,
            labels=labels,
        )

    def comment(self, number: int, text: str) -> None:
        self.calls.append(f"comment #{number}")
        self.comments.setdefault(number, []).append(text)

    def close_pull_request(self, number: int) -> None:
        self.calls.append(f"close #{number}")
        self.pulls[number] = replace(self.pulls[number], state="closed")
        self.closers[number] = "rampbot"

    def commit_status(self, sha: str) -> CommitStatus | None:
        self.calls.append(f"status? {sha[:7]}")
        return self.statuses.get(sha)

    def set_commit_status(
        self, sha: str, *, state: str, description: str, target_url: str | None = None
    ) -> None:
        self.calls.append(f"status {sha[:7]} {state}")
        self.statuses[sha] = CommitStatus(state, status_description(description))

    def mergeable_state(self, number: int) -> str:
        self.calls.append(f"mergeable? #{number}")
        return self.merge_states.get(number, "blocked")

    def enable_auto_merge(self, number: int) -> None:
        self.calls.append(f"auto-merge #{number}")
        if self.refuse_merge:
            raise ServiceError(self.refuse_merge)
        self.auto_merge.add(number)

    def merge(self, number: int) -> None:
        self.calls.append(f"merge #{number}")
        if self.refuse_merge:
            raise ServiceError(self.refuse_merge)
        self.pulls[number] = replace(self.pulls[number], state="closed", merged=True)
