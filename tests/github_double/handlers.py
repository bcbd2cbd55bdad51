"""The REST endpoints: what GitHub does for each (method, path template) the double serves.

Handlers run under the server's lock, one at a time, so two clients racing to open the same
pull request end with one PR and one 422, as on GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .app import App
from .gitrepo import BareRepo, GitError
from .objects import Renderer
from .state import Comment, Issue, Pull, State, Status, now_iso

DOCS = "https://docs.github.com/rest"
_APP_PERMISSIONS = {"contents": "write", "pull_requests": "write", "statuses": "write"}
SHA = re.compile(r"[0-9a-f]{40}")


class ApiError(Exception):
    """An error answer, shaped like GitHub's."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        docs: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": docs}
        if errors is not None:
            self.body["errors"] = errors
        self.headers = headers or {}


def validation_failed(*errors: dict[str, Any]) -> ApiError:
    """GitHub's 422: {"message": "Validation Failed", "errors": [...]}."""
    return ApiError(422, "Validation Failed", errors=list(errors))


@dataclass
class Call:
    """One request as a handler sees it."""

    method: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    login: str


@dataclass
class Answer:
    """A handler's answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Answer]


class Api:
    """GitHub's behaviour for one repository, over a bare git repository and `State`."""

    def __init__(
        self,
        *,
        repo: BareRepo,
        render: Renderer,
        state: State,
        required_contexts: tuple[str, ...],
    ) -> None:
        self.repo = repo
        self.render = render
        self.state = state
        self.required_contexts = required_contexts
        self.app: App | None = None  # a GitHub App installed on the repository, if any
        get, post, put, patch = "get", "post", "put", "patch"
        base = "/repos/{owner}/{repo}"
        # What bot/github.py sends (grep _request( and requestJsonAndCheck there), the App's
        # installation token, and the GraphQL auto-merge mutation (in server.py): nothing else.
        self.routes: dict[tuple[str, str], Handler] = {
            (post, "/app/installations/{installation_id}/access_tokens"): self.create_token,
            (get, f"{base}/installation"): self.get_installation,
            (get, f"{base}/pulls"): self.list_pulls,
            (post, f"{base}/pulls"): self.create_pull,
            (get, f"{base}/pulls/{{pull_number}}"): self.get_pull,
            (patch, f"{base}/pulls/{{pull_number}}"): self.edit_pull,
            (put, f"{base}/pulls/{{pull_number}}/merge"): self.merge,
            (post, f"{base}/pulls/{{pull_number}}/requested_reviewers"): self.request_reviewers,
            (get, f"{base}/issues"): self.list_issues,
            (post, f"{base}/issues"): self.create_issue,
            (get, f"{base}/issues/{{issue_number}}"): self.get_issue,
            (patch, f"{base}/issues/{{issue_number}}"): self.edit_issue,
            (post, f"{base}/issues/{{issue_number}}/comments"): self.create_comment,
            (post, f"{base}/issues/{{issue_number}}/labels"): self.add_labels,
            (post, f"{base}/statuses/{{sha}}"): self.create_status,
            (get, f"{base}/commits/{{ref}}/status"): self.combined_status,
        }

    # -- helpers ---------------------------------------------------------------------------

    def check_repo(self, call: Call) -> None:
        """404 for any repository but the one served."""
        owner, name = call.params.get("owner"), call.params.get("repo")
        if owner is not None and (owner, name) != (self.render.owner, self.render.name):
            raise ApiError(404, "Not Found", docs=f"{DOCS}/repos/repos#get-a-repository")

    def pull(self, call: Call, key: str = "pull_number") -> Pull:
        """The PR a path names, refreshed from git; 404 if there is none."""
        try:
            pull = self.state.pulls[int(call.params[key])]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found") from None
        self.refresh(pull)
        return pull

    def refresh(self, pull: Pull) -> None:
        """Bring an open PR up to date with git, as GitHub does after every push."""
        if pull.state != "open":
            return
        head = self.repo.resolve(pull.head_git_ref)
        base = self.repo.resolve(f"refs/heads/{pull.base}")
        if base:
            pull.last_base_sha = base
        if head is None:
            # GitHub closes a PR whose head branch is deleted.
            pull.state, pull.closed_at = "closed", now_iso()
            pull.touch()
            return
        if head != pull.last_head_sha:
            pull.last_head_sha = head
            pull.touch()
        if base and head != base and self.repo.is_ancestor(head, base):
            # Someone pushed the head's commits to the base: GitHub marks the PR merged.
            pull.state, pull.closed_at, pull.merged_at = "closed", now_iso(), now_iso()
            pull.merge_commit_sha, pull.merged_by = head, pull.user

    def mergeable(self, pull: Pull) -> bool | None:
        """Whether an open PR merges without conflict (None once closed, as on GitHub)."""
        if pull.state != "open":
            return None
        return self.repo.merge_tree(pull.last_base_sha, pull.last_head_sha).tree is not None

    def full_pull(self, pull: Pull) -> dict[str, Any]:
        """The pull-request body for one PR."""
        commits = len(self.repo.commits_between(pull.last_base_sha, pull.last_head_sha))
        mergeable = self.mergeable(pull)
        return self.render.pull(
            pull,
            mergeable=mergeable,
            mergeable_state=self.mergeable_state(pull, mergeable),
            commits=commits,
        )

    def mergeable_state(self, pull: Pull, mergeable: bool | None) -> str:
        """GitHub's mergeable_state: "blocked" while a required status is not success."""
        if pull.state != "open" or mergeable is None:
            return "unknown"
        if not mergeable:
            return "dirty"
        return "clean" if self.status_ok(pull.last_head_sha) else "blocked"

    def page(self, call: Call, items: list[Any], path: str) -> Answer:
        """One page of a list, with GitHub's Link header."""
        try:
            per_page = min(int(call.query.get("per_page", "30")), 100)
            number = max(int(call.query.get("page", "1")), 1)
        except ValueError:
            raise validation_failed({"field": "page", "code": "invalid"}) from None
        chunk = items[(number - 1) * per_page : number * per_page]
        links = []
        last = max((len(items) + per_page - 1) // per_page, 1)
        url = f"{self.render.api}{path}"
        extra = {k: v for k, v in call.query.items() if k not in ("page", "per_page")}
        for rel, target in (("next", number + 1), ("last", last)):
            if number < last:
                query = urlencode({**extra, "per_page": per_page, "page": target})
                links.append(f'<{url}?{query}>; rel="{rel}"')
        return Answer(200, chunk, {"Link": ", ".join(links)} if links else {})

    def status_ok(self, sha: str) -> bool:
        """Whether every required status context is `success` on a commit."""
        latest = {s.context: s.state for s in self.state.statuses.get(sha, [])}
        return all(latest.get(context) == "success" for context in self.required_contexts)

    # -- a GitHub App's installation token -------------------------------------------------

    def get_installation(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/installation, with the app's JWT."""
        from .spec import deep_merge, fill

        app = self._app()
        owner = self.render.user(call.params["owner"])
        body = deep_merge(
            fill("installation"),
            {
                "id": app.installation_id,
                "app_id": app.app_id,
                "account": owner,
                "target_id": owner["id"],
                "target_type": "Organization",
                "repository_selection": "selected",
                "permissions": _APP_PERMISSIONS,
                "events": ["pull_request"],
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "app_slug": "rampbot",
            },
        )
        return Answer(200, body)

    def create_token(self, call: Call) -> Answer:
        """POST /app/installations/{installation_id}/access_tokens, with the app's JWT."""
        from datetime import UTC, datetime

        app = self._app()
        if call.params["installation_id"] != str(app.installation_id):
            raise ApiError(404, "Not Found")
        token, expires = app.issue()
        expires_at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Answer(
            201,
            {
                "token": token,
                "expires_at": expires_at,
                "permissions": _APP_PERMISSIONS,
                "repository_selection": "selected",
            },
        )

    def _app(self) -> App:
        if self.app is None:
            raise ApiError(404, "Not Found")
        return self.app

    # -- pull requests ----------------------------------------------------------------------

    def list_pulls(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/pulls?state=&head=owner:branch&base=&sort=&direction=."""
        self.check_repo(call)
        for pull in self.state.pulls.values():
            self.refresh(pull)
        wanted = call.query.get("state", "open")
        pulls = [p for p in self.state.pulls.values() if wanted in ("all", p.state)]
        head = call.query.get("head")
        # GitHub ignores a head filter without "owner:" and returns every PR: a known trap.
        if head and ":" in head:
            owner, branch = head.split(":", 1)
            pulls = [
                p
                for p in pulls
                if owner == (p.head_owner or self.render.owner) and p.head == branch
            ]
        if "base" in call.query:
            pulls = [p for p in pulls if p.base == call.query["base"]]
        sort = call.query.get("sort", "created")
        key = "updated_at" if sort in ("updated", "popularity", "long-running") else "created_at"
        # GitHub: "desc when sort is created or sort is not specified, otherwise asc".
        default = "desc" if sort == "created" else "asc"
        newest_first = call.query.get("direction", default) == "desc"
        pulls.sort(key=lambda p: (getattr(p, key), p.number), reverse=newest_first)
        items = [self.render.pull(p, schema="pull-request-simple") for p in pulls]
        return self.page(call, items, f"/repos/{self.render.full_name}/pulls")

    def create_pull(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/pulls."""
        self.check_repo(call)
        body = call.body
        head = str(body.get("head", ""))
        if ":" in head:
            owner, head = head.split(":", 1)
            if owner != self.render.owner:
                raise validation_failed(
                    {"resource": "PullRequest", "field": "head", "code": "invalid"}
                )
        base = str(body.get("base", ""))
        if not body.get("title"):
            raise validation_failed(
                {"resource": "PullRequest", "field": "title", "code": "missing_field"}
            )
        head_sha = self.repo.resolve(f"refs/heads/{head}") if head else None
        base_sha = self.repo.resolve(f"refs/heads/{base}") if base else None
        if head_sha is None:
            raise validation_failed({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if base_sha is None:
            raise validation_failed({"resource": "PullRequest", "field": "base", "code": "invalid"})
        for other in self.state.pulls.values():
            self.refresh(other)
            if other.state == "open" and (other.head_owner, other.head, other.base) == (
                None,
                head,
                base,
            ):
                raise validation_failed(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {self.render.owner}:{head}.",
                    }
                )
        if not self.repo.commits_between(base_sha, head_sha):
            raise validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            )
        pull = Pull(
            number=next(self.state.numbers),
            title=str(body["title"]),
            body=body.get("body"),
            head=head,
            base=base,
            user=call.login,
            draft=bool(body.get("draft", False)),
            last_head_sha=head_sha,
            last_base_sha=base_sha,
        )
        self.state.pulls[pull.number] = pull
        answer = self.full_pull(pull)
        return Answer(201, answer, {"Location": answer["url"]})

    def get_pull(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/pulls/{pull_number}."""
        self.check_repo(call)
        return Answer(200, self.full_pull(self.pull(call)))

    def edit_pull(self, call: Call) -> Answer:
        """PATCH /repos/{owner}/{repo}/pulls/{pull_number}: title, body, closing."""
        self.check_repo(call)
        pull = self.pull(call)
        self._edit(pull, call.body, closer=call.login)
        return Answer(200, self.full_pull(pull))

    def _edit(self, pull: Pull, body: dict[str, Any], *, closer: str) -> None:
        # rampbot neither reopens a pull request nor moves its base: a request that does is
        # a change the double must learn first (the server records the error as a violation).
        if "base" in body or body.get("state") == "open":
            raise NotImplementedError(f"the double does not reopen or rebase a PR: {body}")
        if "title" in body and body["title"] is not None:
            pull.title = str(body["title"])
        if "body" in body:
            pull.body = body["body"]
        if body.get("state") == "closed" and pull.state == "open":
            # The caller closes it; GitHubDouble.close plays a person in the web UI.
            pull.state, pull.closed_at, pull.closed_by = "closed", now_iso(), closer
            pull.auto_merge = None
        pull.touch()
        self.refresh(pull)

    def merge(self, call: Call) -> Answer:
        """PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge: a real merge commit in git."""
        self.check_repo(call)
        pull = self.pull(call)
        body = call.body or {}
        method = body.get("merge_method", "merge")
        if pull.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if body.get("sha") and body["sha"] != pull.last_head_sha:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if method != "merge":
            # A repository that allows merge commits only, as rampbot merges.
            raise ApiError(405, f"{method.capitalize()} merges are not allowed on this repository.")
        if not self.status_ok(pull.last_head_sha):
            missing = [c for c in self.required_contexts if not self._context_ok(pull, c)]
            raise ApiError(405, f'Required status check "{missing[0]}" is expected.')
        sha = self.merge_pull(
            pull,
            title=body.get("commit_title"),
            message=body.get("commit_message"),
            login=call.login,
        )
        return Answer(
            200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def _context_ok(self, pull: Pull, context: str) -> bool:
        latest = {s.context: s.state for s in self.state.statuses.get(pull.last_head_sha, [])}
        return latest.get(context) == "success"

    def merge_pull(self, pull: Pull, *, title: str | None, message: str | None, login: str) -> str:
        """Merge an open PR into its base with a real merge commit; its SHA."""
        base_sha, head_sha = pull.last_base_sha, pull.last_head_sha
        result = self.repo.merge_tree(base_sha, head_sha)
        if result.tree is None:
            raise ApiError(405, "Pull Request is not mergeable")
        subject = title or f"Merge pull request #{pull.number} from {self.render.owner}/{pull.head}"
        detail = message if message is not None else pull.title
        parents = [base_sha, head_sha]
        text = f"{subject}\n\n{detail}" if detail else subject
        author = (login, f"{self.state.user_id(login)}+{login}@users.noreply.github.com")
        sha = self.repo.commit_tree(result.tree, parents, text, author=author)
        try:
            self.repo.update_ref(f"refs/heads/{pull.base}", sha, old=base_sha)
        except GitError:
            raise ApiError(
                409, "Base branch was modified. Review and try the merge again."
            ) from None
        when = now_iso()
        pull.state, pull.closed_at, pull.merged_at = "closed", when, when
        pull.merge_commit_sha, pull.merged_by, pull.auto_merge = sha, login, None
        pull.touch()
        return sha

    def request_reviewers(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers."""
        self.check_repo(call)
        pull = self.pull(call)
        reviewers = list(call.body.get("reviewers", []))
        if pull.user in reviewers:
            raise validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "Review cannot be requested from pull request author.",
                }
            )
        for login in reviewers:
            if login not in pull.requested_reviewers:
                pull.requested_reviewers.append(login)
        for team in call.body.get("team_reviewers", []):
            if team not in pull.requested_teams:
                pull.requested_teams.append(team)
        pull.touch()
        return Answer(201, self.render.pull(pull, schema="pull-request-simple"))

    # -- issues: the PR's conversation, labels -----------------------------------------------

    def list_issues(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/issues?state=&labels=a,b&sort=&direction= (PRs included)."""
        self.check_repo(call)
        for pull in self.state.pulls.values():
            self.refresh(pull)
        wanted = call.query.get("state", "open")
        labels = [name.lower() for name in call.query.get("labels", "").split(",") if name]
        found: list[tuple[str, int, dict[str, Any]]] = []
        for issue in self.state.issues.values():
            names = {name.lower() for name in issue.labels}
            if wanted in ("all", issue.state) and all(name in names for name in labels):
                found.append((issue.created_at, issue.number, self.render.plain_issue(issue)))
        for pull in self.state.pulls.values():
            names = {name.lower() for name in pull.labels}
            if wanted in ("all", pull.state) and all(name in names for name in labels):
                found.append((pull.created_at, pull.number, self.render.issue(pull)))
        # GitHub's default: newest first.
        oldest_first = call.query.get("direction", "desc") == "asc"
        found.sort(key=lambda item: (item[0], item[1]), reverse=not oldest_first)
        items = [item for _, _, item in found]
        return self.page(call, items, f"/repos/{self.render.full_name}/issues")

    def create_issue(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/issues: title, body, labels."""
        self.check_repo(call)
        title = call.body.get("title")
        if not title:
            raise validation_failed(
                {"resource": "Issue", "field": "title", "code": "missing_field"}
            )
        issue = Issue(
            number=next(self.state.numbers),
            title=str(title),
            body=call.body.get("body"),
            user=call.login,
            labels=_label_names(call.body.get("labels", [])),
        )
        for name in issue.labels:
            self.state.label(name)
        self.state.issues[issue.number] = issue
        return Answer(201, self.render.plain_issue(issue))

    def plain_issue(self, call: Call) -> Issue | None:
        """The issue (not pull request) a path names, if it is one."""
        try:
            return self.state.issues.get(int(call.params["issue_number"]))
        except ValueError:
            return None

    def get_issue(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/issues/{issue_number}."""
        self.check_repo(call)
        issue = self.plain_issue(call)
        if issue is not None:
            return Answer(200, self.render.plain_issue(issue))
        return Answer(200, self.render.issue(self.pull(call, "issue_number")))

    def edit_issue(self, call: Call) -> Answer:
        """PATCH /repos/{owner}/{repo}/issues/{issue_number}: an issue's title and body."""
        self.check_repo(call)
        issue = self.plain_issue(call)
        if issue is None or set(call.body) - {"title", "body"}:
            # rampbot edits the dashboard issue's text only (pull requests through pulls/{n}).
            raise NotImplementedError(f"the double edits an issue's title and body: {call.body}")
        if call.body.get("title") is not None:
            issue.title = str(call.body["title"])
        if "body" in call.body:
            issue.body = call.body["body"]
        issue.touch()
        return Answer(200, self.render.plain_issue(issue))

    def create_comment(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/issues/{issue_number}/comments."""
        self.check_repo(call)
        pull = self.pull(call, "issue_number")
        when = now_iso()
        comment = Comment(
            id=next(self.state.ids),
            issue=pull.number,
            body=str(call.body["body"]),
            user=call.login,
            created_at=when,
            updated_at=when,
        )
        self.state.comments[comment.id] = comment
        pull.touch()
        body = self.render.comment(comment)
        return Answer(201, body, {"Location": body["url"]})

    def add_labels(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/issues/{issue_number}/labels: add, keep the others."""
        self.check_repo(call)
        pull = self.pull(call, "issue_number")
        for name in _label_names(call.body):
            label = self.state.label(name)
            if label.name not in pull.labels:
                pull.labels.append(label.name)
        pull.touch()
        return Answer(200, self.render.issue_labels(pull))

    # -- commits and statuses --------------------------------------------------------------

    def commit_sha(self, ref: str) -> str:
        """A branch name or SHA resolved to a commit; 422 as GitHub says when unknown."""
        sha = self.repo.resolve(f"refs/heads/{ref}") or (
            self.repo.resolve(ref) if SHA.fullmatch(ref) or len(ref) >= 7 else None
        )
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        return sha

    def create_status(self, call: Call) -> Answer:
        """POST /repos/{owner}/{repo}/statuses/{sha}."""
        self.check_repo(call)
        sha = self.repo.resolve(call.params["sha"])
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {call.params['sha']}")
        when = now_iso()
        status = Status(
            id=next(self.state.ids),
            sha=sha,
            state=str(call.body["state"]),
            context=str(call.body.get("context", "default")),
            description=call.body.get("description"),
            target_url=call.body.get("target_url"),
            creator=call.login,
            created_at=when,
            updated_at=when,
        )
        self.state.statuses.setdefault(sha, []).append(status)
        self.auto_merge_ready()
        body = self.render.status(status)
        return Answer(201, body, {"Location": body["url"]})

    def auto_merge_ready(self) -> list[int]:
        """Merge PRs with auto-merge on whose required statuses all passed (GitHub does it)."""
        merged = []
        for pull in list(self.state.pulls.values()):
            self.refresh(pull)
            settings = pull.auto_merge
            if pull.state != "open" or settings is None:
                continue
            if self.status_ok(pull.last_head_sha) and self.mergeable(pull):
                self.merge_pull(
                    pull,
                    title=settings.get("commit_title"),
                    message=settings.get("commit_message"),
                    login=str(settings["enabled_by"]["login"]),
                )
                merged.append(pull.number)
        return merged

    def combined_status(self, call: Call) -> Answer:
        """GET /repos/{owner}/{repo}/commits/{ref}/status."""
        self.check_repo(call)
        sha = self.commit_sha(call.params["ref"])
        return Answer(200, self.render.combined_status(sha, self.state.statuses.get(sha, [])))


def _label_names(body: Any) -> list[str]:
    """Label names from {"labels": [...]} or a bare list, of names or {"name": ...}."""
    items = body.get("labels", []) if isinstance(body, dict) else body
    return [item["name"] if isinstance(item, dict) else str(item) for item in items or []]
