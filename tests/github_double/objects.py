"""JSON bodies the double returns, shaped as GitHub's description says.

Each body starts from `spec.fill(schema)` (every required field, plain values) and overlays
the real values, so the responses stay valid when the description grows a required field,
and the code here only names what a client actually reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .gitrepo import BareRepo
from .spec import deep_merge, fill
from .state import Comment, Issue, Label, Pull, State, Status

WEB = "https://github.com"


@dataclass
class Renderer:
    """Builds response bodies for one repository served at `api` (the double's base URL)."""

    api: str
    owner: str
    name: str
    repo: BareRepo
    state: State
    default_branch: str = "main"

    @property
    def repo_url(self) -> str:
        """The repository's API URL (PyGithub builds every later URL from it)."""
        return f"{self.api}/repos/{self.owner}/{self.name}"

    @property
    def full_name(self) -> str:
        """owner/name."""
        return f"{self.owner}/{self.name}"

    def user(self, login: str) -> dict[str, Any]:
        """simple-user."""
        user_id = self.state.user_id(login)
        return deep_merge(
            fill("simple-user"),
            {
                "login": login,
                "id": user_id,
                "node_id": f"U_{user_id}",
                "url": f"{self.api}/users/{login}",
                "html_url": f"{WEB}/{login}",
                "avatar_url": f"https://avatars.example.invalid/u/{user_id}",
                "type": "Bot" if login.endswith("[bot]") else "User",
            },
        )

    def repository(self, schema: str, *, owner: str | None = None) -> dict[str, Any]:
        """repository (inside pulls) or minimal-repository; a fork's with `owner`."""
        if owner is not None and owner != self.owner:
            fork = f"{owner}/{self.name}"
            values = {
                "id": 2 + self.state.user_id(owner),
                "node_id": f"R_fork_{owner}",
                "name": self.name,
                "full_name": fork,
                "owner": self.user(owner),
                "private": False,
                "fork": True,
                "url": f"{self.api}/repos/{fork}",
                "html_url": f"{WEB}/{fork}",
                "default_branch": self.default_branch,
            }
            return deep_merge(fill(schema), values)
        url = self.repo_url
        values = {
            "id": 1,
            "node_id": "R_1",
            "name": self.name,
            "full_name": self.full_name,
            "owner": self.user(self.owner),
            "private": True,
            "url": url,
            "html_url": f"{WEB}/{self.full_name}",
            "clone_url": self.repo.url,
            "git_url": self.repo.url,
            "ssh_url": self.repo.url,
            "svn_url": f"{WEB}/{self.full_name}",
            "default_branch": self.default_branch,
            "pulls_url": f"{url}/pulls{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "labels_url": f"{url}/labels{{/name}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "commits_url": f"{url}/commits{{/sha}}",
            "branches_url": f"{url}/branches{{/branch}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "allow_merge_commit": True,
            "allow_squash_merge": False,
            "allow_rebase_merge": False,
            "allow_auto_merge": True,
            "delete_branch_on_merge": False,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
            "open_issues_count": sum(1 for p in self.state.pulls.values() if p.state == "open"),
        }
        return deep_merge(fill(schema), values)

    def label(self, label: Label) -> dict[str, Any]:
        """label."""
        return deep_merge(
            fill("label"),
            {
                "id": label.id,
                "node_id": f"LA_{label.id}",
                "url": f"{self.repo_url}/labels/{label.name}",
                "name": label.name,
                "color": label.color,
                # Label lists inside pulls allow only a string here, not null.
                "description": label.description or "",
                "default": False,
            },
        )

    def issue_labels(self, pull: Pull) -> list[dict[str, Any]]:
        """The labels on a PR, as label objects."""
        return [self.label(self.state.label(name)) for name in pull.labels]

    def comment(self, comment: Comment) -> dict[str, Any]:
        """issue-comment."""
        return deep_merge(
            fill("issue-comment"),
            {
                "id": comment.id,
                "node_id": f"IC_{comment.id}",
                "url": f"{self.repo_url}/issues/comments/{comment.id}",
                "html_url": f"{WEB}/{self.full_name}/pull/{comment.issue}#issuecomment-{comment.id}",
                "issue_url": f"{self.repo_url}/issues/{comment.issue}",
                "body": comment.body,
                "user": self.user(comment.user),
                "created_at": comment.created_at,
                "updated_at": comment.updated_at,
                "author_association": "MEMBER",
            },
        )

    def status(self, status: Status) -> dict[str, Any]:
        """status (inside a combined status) or the POST statuses answer."""
        return deep_merge(
            fill("status"),
            {
                "url": f"{self.repo_url}/statuses/{status.sha}",
                "avatar_url": None,
                "id": status.id,
                "node_id": f"SC_{status.id}",
                "state": status.state,
                "description": status.description,
                "target_url": status.target_url,
                "context": status.context,
                "created_at": status.created_at,
                "updated_at": status.updated_at,
                "creator": self.user(status.creator),
            },
        )

    def combined_status(self, sha: str, statuses: list[Status]) -> dict[str, Any]:
        """combined-commit-status: the latest status per context and their overall state."""
        latest: dict[str, Status] = {}
        for status in statuses:
            latest[status.context] = status
        states = {s.state for s in latest.values()}
        if states & {"failure", "error"}:
            overall = "failure"
        elif not states or "pending" in states:
            overall = "pending"
        else:
            overall = "success"
        return deep_merge(
            fill("combined-commit-status"),
            {
                "state": overall,
                "sha": sha,
                "total_count": len(latest),
                "statuses": [
                    self.simple_status(s) for s in sorted(latest.values(), key=lambda s: -s.id)
                ],
                "repository": self.repository("minimal-repository"),
                "commit_url": f"{self.repo_url}/commits/{sha}",
                "url": f"{self.repo_url}/commits/{sha}/status",
            },
        )

    def simple_status(self, status: Status) -> dict[str, Any]:
        """simple-commit-status."""
        return deep_merge(
            fill("simple-commit-status"),
            {
                "description": status.description,
                "id": status.id,
                "node_id": f"SC_{status.id}",
                "state": status.state,
                "context": status.context,
                "target_url": status.target_url,
                "avatar_url": None,
                "url": f"{self.repo_url}/statuses/{status.sha}",
                "created_at": status.created_at,
                "updated_at": status.updated_at,
            },
        )

    def pull(
        self,
        pull: Pull,
        *,
        schema: str = "pull-request",
        mergeable: bool | None = None,
        mergeable_state: str = "unknown",
        commits: int = 0,
    ) -> dict[str, Any]:
        """pull-request (one PR) or pull-request-simple (lists)."""
        url = f"{self.repo_url}/pulls/{pull.number}"
        issue_url = f"{self.repo_url}/issues/{pull.number}"
        html = f"{WEB}/{self.full_name}/pull/{pull.number}"
        head_sha = pull.last_head_sha
        values: dict[str, Any] = {
            "url": url,
            "id": pull.number + 5000,
            "node_id": f"PR_{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_url}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.repo_url}/statuses/{head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user(pull.user),
            "body": pull.body,
            "labels": self.issue_labels(pull),
            "milestone": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(login) for login in pull.requested_reviewers],
            "requested_teams": [],
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": pull.draft,
            "head": self._part(pull.head, head_sha, owner=pull.head_owner or self.owner),
            "base": self._part(pull.base, pull.last_base_sha, owner=self.owner),
            "_links": {
                key: {"href": href}
                for key, href in {
                    "self": url,
                    "html": html,
                    "issue": issue_url,
                    "comments": f"{issue_url}/comments",
                    "review_comments": f"{url}/comments",
                    "review_comment": f"{self.repo_url}/pulls/comments{{/number}}",
                    "commits": f"{url}/commits",
                    "statuses": f"{self.repo_url}/statuses/{head_sha}",
                }.items()
            },
            "author_association": "MEMBER",
            "auto_merge": pull.auto_merge,
        }
        if schema == "pull-request":
            values |= {
                "merged": pull.merged_at is not None,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": mergeable_state,
                "merged_by": self.user(pull.merged_by) if pull.merged_by else None,
                "comments": sum(1 for c in self.state.comments.values() if c.issue == pull.number),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": commits,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }
        return deep_merge(fill(schema), values)

    def _part(self, branch: str, sha: str, *, owner: str) -> dict[str, Any]:
        return {
            "label": f"{owner}:{branch}",
            "ref": branch,
            "sha": sha,
            "user": self.user(owner),
            "repo": self.repository("repository", owner=owner),
        }

    def plain_issue(self, issue: Issue) -> dict[str, Any]:
        """issue (one that is not a pull request: no pull_request member)."""
        body = deep_merge(fill("issue"), _plain_issue_fields(self, issue))
        body.pop("pull_request", None)
        return body

    def issue(self, pull: Pull) -> dict[str, Any]:
        """issue (a PR seen through the issues API)."""
        url = f"{self.repo_url}/issues/{pull.number}"
        return deep_merge(
            fill("issue"),
            {
                "id": pull.number + 9000,
                "node_id": f"I_{pull.number}",
                "url": url,
                "repository_url": self.repo_url,
                "labels_url": f"{url}/labels{{/name}}",
                "comments_url": f"{url}/comments",
                "events_url": f"{url}/events",
                "html_url": f"{WEB}/{self.full_name}/pull/{pull.number}",
                "number": pull.number,
                "state": pull.state,
                "title": pull.title,
                "body": pull.body,
                "user": self.user(pull.user),
                "labels": self.issue_labels(pull),
                "assignee": None,
                "assignees": [],
                "milestone": None,
                "locked": False,
                "comments": sum(1 for c in self.state.comments.values() if c.issue == pull.number),
                "pull_request": {
                    "url": f"{self.repo_url}/pulls/{pull.number}",
                    "html_url": f"{WEB}/{self.full_name}/pull/{pull.number}",
                    "diff_url": f"{WEB}/{self.full_name}/pull/{pull.number}.diff",
                    "patch_url": f"{WEB}/{self.full_name}/pull/{pull.number}.patch",
                    "merged_at": pull.merged_at,
                },
                "closed_at": pull.closed_at,
                "closed_by": self.user(pull.closed_by) if pull.closed_by else None,
                "created_at": pull.created_at,
                "updated_at": pull.updated_at,
                "author_association": "MEMBER",
            },
        )


def _plain_issue_fields(render: Renderer, issue: Issue) -> dict[str, Any]:
    url = f"{render.repo_url}/issues/{issue.number}"
    return {
        "id": issue.number + 9000,
        "node_id": f"I_{issue.number}",
        "url": url,
        "repository_url": render.repo_url,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{WEB}/{render.full_name}/issues/{issue.number}",
        "number": issue.number,
        "state": issue.state,
        "title": issue.title,
        "body": issue.body,
        "user": render.user(issue.user),
        "labels": [render.label(render.state.label(name)) for name in issue.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "comments": sum(1 for c in render.state.comments.values() if c.issue == issue.number),
        "closed_at": issue.closed_at,
        "closed_by": render.user(issue.closed_by) if issue.closed_by else None,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "author_association": "MEMBER",
    }
