"""The GitHub adapter: the only module that imports PyGithub.

Every call goes through ``_call``, which retries (through stamina, within a time budget) 5xx
answers and dropped connections a bounded number of times where a second try cannot do the thing
twice (reads, edits that set a value, statuses, labels, and opening a pull request, which GitHub
refuses to duplicate), waits out a rate limit when GitHub says it ends soon, and otherwise
raises a ServiceError whose message is built here from the status and GitHub's own message.
PyGithub's exceptions can carry request data, so their text is never shown, and the token is
never part of any message. Every text sent (titles, bodies, comments, status descriptions) goes
through bot.outbound.clean first: a new method that sends text does the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

import github
import requests  # only to catch what PyGithub's transport raises when a connection drops
import stamina
from github import Auth, GithubException

from bot import outbound
from bot.errors import GitHubError, InputError, ServiceError
from bot.ramp_pr import CommitStatus, PullRequest, status_description

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
STATUS_CONTEXT = "rampbot"
_BACKOFF_SECONDS = 0.5  # the first pause after a 5xx or a dropped connection; then doubled


class _StillComputing(Exception):
    """GitHub answered mergeable_state "unknown": it is still computing it."""


class PullRequestAlreadyExists(GitHubError):
    """GitHub answered 422: an open pull request for this head and base exists already."""


class Issue(NamedTuple):
    number: int
    body: str
    url: str


class DashboardIssues(Protocol):
    """What the ramp dashboard needs from GitHub: find, open and edit one issue."""

    def find_issue(self, *, label: str, marker: str) -> Issue | None: ...

    def create_issue(self, *, title: str, body: str, labels: Sequence[str]) -> Issue: ...

    def edit_issue_body(self, number: int, body: str) -> None: ...


class PullRequests(DashboardIssues, Protocol):
    """What `rampbot run` and `rampbot revert` need from GitHub."""

    repository: str  # OWNER/NAME: pull requests from other repositories (forks) are not ours

    def open_pull_requests(self, *, base: str) -> list[PullRequest]: ...

    def get_pull_request(self, number: int) -> PullRequest: ...

    def last_closed_pull_request(self, *, head: str, base: str) -> PullRequest | None: ...

    def closed_by(self, number: int) -> str | None: ...

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
    ) -> PullRequest: ...

    def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None: ...

    def comment(self, number: int, text: str) -> None: ...

    def close_pull_request(self, number: int) -> None: ...

    def commit_status(self, sha: str) -> CommitStatus | None: ...

    def set_commit_status(
        self, sha: str, *, state: str, description: str, target_url: str | None = None
    ) -> None: ...

    def mergeable_state(self, number: int) -> str: ...

    def enable_auto_merge(self, number: int) -> None: ...

    def merge(self, number: int) -> None: ...


@dataclass(frozen=True)
class AppCredentials:
    """A GitHub App: its id and private key (PEM), to act as its installation on a repository."""

    app_id: str
    private_key: str = field(repr=False)
    source: str = "the private key"  # where the key came from, for messages


class GitHubRepository:
    """One repository on GitHub (or GitHub Enterprise), through PyGithub."""

    def __init__(
        self,
        *,
        token: str | None = None,
        app: AppCredentials | None = None,
        repository: str,
        api_url: str = DEFAULT_API_URL,
        attempts: int = 3,
        max_wait: float = 60.0,
        budget: float = 120.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self._api_url = api_url.rstrip("/")
        self._url = f"{self._api_url}/repos/{repository}"
        self._attempts = attempts
        self._max_wait = max_wait
        self._budget = budget
        self._clock = clock
        # stamina's retries are counted and said in rampbot's own words, not logged by it.
        stamina.instrumentation.set_on_retry_hooks(())
        self._secrets = tuple(secret for secret in (token, app and app.private_key) if secret)
        auth: Auth.Auth
        if app is not None:
            auth = self._installation_auth(app)
        else:
            assert token, "a token or an app"
            auth = Auth.Token(token)
        # retry=None: PyGithub's own retries would wait out an hour-long rate limit; _call
        # bounds every wait instead. No pause between requests: we send a handful per run.
        self._github = github.Github(
            auth=auth,
            base_url=self._api_url,
            retry=None,
            lazy=True,
            seconds_between_requests=None,
            seconds_between_writes=None,
            timeout=30,
        )

    def _installation_auth(self, app: AppCredentials) -> Auth.AppInstallationAuth:
        """The app's installation on this repository; PyGithub renews its token before it
        expires (20 s ahead), so a long-running serve never sends an expired one."""
        app_auth = Auth.AppAuth(app.app_id, app.private_key)
        try:
            app_auth.create_jwt()
        except Exception:  # PyJWT and cryptography raise several kinds for a bad key
            raise InputError(
                f"{app.source}: not a PEM private key of a GitHub App; download one from the "
                "app's settings (Private keys) and pass it whole, BEGIN and END lines included"
            ) from None
        integration = github.GithubIntegration(
            auth=app_auth, base_url=self._api_url, retry=None, timeout=30
        )
        owner, name = self.repository.split("/", 1)
        installation = self._call(
            f"find the installation of GitHub App {app.app_id} on {self.repository} "
            "(install the app on the repository)",
            lambda: integration.get_repo_installation(owner, name),
        )
        return app_auth.get_installation_auth(installation.id)

    def secrets(self) -> tuple[str, ...]:
        """What a log must never show: the credentials this connection was given."""
        return self._secrets

    def open_pull_requests(self, *, base: str) -> list[PullRequest]:
        """Every open pull request into ``base``: one request for up to 100."""

        def fetch() -> list[PullRequest]:
            # The list already holds every field we read; PyGithub's objects would fetch
            # each pull request again when asked for their raw data.
            found: list[PullRequest] = []
            for page in range(1, 100):
                _, data = self._github.requester.requestJsonAndCheck(
                    "GET",
                    f"{self._url}/pulls",
                    parameters={"state": "open", "base": base, "per_page": 100, "page": page},
                )
                found.extend(_pull_request(item) for item in data)
                if len(data) < 100:
                    break
            return found

        return self._call(f"list the open pull requests into {base}", fetch)

    def last_closed_pull_request(self, *, head: str, base: str) -> PullRequest | None:
        """The most recently closed pull request from this repository's ``head`` into ``base``."""
        owner = self.repository.split("/", 1)[0]
        _, data = self._call(
            f"list the closed pull requests from {head}",
            lambda: self._github.requester.requestJsonAndCheck(
                "GET",
                f"{self._url}/pulls",
                parameters={
                    "state": "closed",
                    # "owner:branch": without the owner GitHub ignores the filter.
                    "head": f"{owner}:{head}",
                    "base": base,
                    "sort": "updated",
                    "direction": "desc",
                    "per_page": 1,
                },
            ),
        )
        return _pull_request(data[0]) if data else None

    def find_issue(self, *, label: str, marker: str) -> Issue | None:
        """The oldest open issue with ``label`` whose body holds ``marker``: one request."""
        _, data = self._call(
            f"list the open issues labelled {label}",
            lambda: self._github.requester.requestJsonAndCheck(
                "GET",
                f"{self._url}/issues",
                parameters={
                    "state": "open",
                    "labels": label,
                    "sort": "created",
                    "direction": "asc",
                    "per_page": 100,
                },
            ),
        )
        for item in data or []:
            body = item.get("body") or ""
            # The list includes pull requests; the marker tells the dashboard from a look-alike.
            if "pull_request" not in item and marker in body:
                return Issue(number=item["number"], body=body, url=item.get("html_url") or "")
        return None

    def create_issue(self, *, title: str, body: str, labels: Sequence[str]) -> Issue:
        _, data = self._call(
            "open the ramp dashboard issue",
            lambda: self._request(
                "POST",
                "/issues",
                input={
                    "title": outbound.clean(title),
                    "body": outbound.clean(body),
                    "labels": list(labels),
                },
            ),
            retry=False,  # a second try after a lost answer would open a second issue
        )
        return Issue(
            number=data["number"], body=data.get("body") or "", url=data.get("html_url") or ""
        )

    def edit_issue_body(self, number: int, body: str) -> None:
        self._call(
            f"update issue #{number}",
            lambda: self._request(
                "PATCH", f"/issues/{number}", input={"body": outbound.clean(body)}
            ),
        )

    def closed_by(self, number: int) -> str | None:
        """Who closed issue or pull request ``number`` (the pulls API does not say)."""
        _, data = self._call(
            f"read who closed #{number}", lambda: self._request("GET", f"/issues/{number}")
        )
        return ((data or {}).get("closed_by") or {}).get("login")

    def get_pull_request(self, number: int) -> PullRequest:
        _, data = self._call(
            f"read pull request #{number}", lambda: self._request("GET", f"/pulls/{number}")
        )
        return _pull_request(data)

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
        _, data = self._call(
            f"open a pull request from {head} into {base}",
            lambda: self._request(
                "POST",
                "/pulls",
                input={
                    "title": outbound.clean(title),
                    "body": outbound.clean(body),
                    "head": head,
                    "base": base,
                },
            ),
        )
        pull = _pull_request(data)
        if labels:
            self._add_labels(pull.number, labels)
        if reviewers or team_reviewers:
            self._call(
                f"request reviewers on #{pull.number}",
                lambda: self._request(
                    "POST",
                    f"/pulls/{pull.number}/requested_reviewers",
                    input={"reviewers": list(reviewers), "team_reviewers": list(team_reviewers)},
                ),
            )
        return PullRequest(**{**pull.__dict__, "labels": tuple(labels)})

    def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None:
        fields = {
            key: outbound.clean(value)
            for key, value in (("title", title), ("body", body))
            if value is not None
        }
        if fields:
            self._call(
                f"update pull request #{number}",
                lambda: self._request("PATCH", f"/pulls/{number}", input=fields),
            )
        if add_labels:
            self._add_labels(number, add_labels)

    def comment(self, number: int, text: str) -> None:
        body = outbound.clean(text)
        self._call(
            f"comment on #{number}",
            lambda: self._request("POST", f"/issues/{number}/comments", input={"body": body}),
            retry=False,  # a second try after a lost answer would post the comment twice
        )

    def close_pull_request(self, number: int) -> None:
        self._call(
            f"close pull request #{number}",
            lambda: self._request("PATCH", f"/pulls/{number}", input={"state": "closed"}),
        )

    def commit_status(self, sha: str) -> CommitStatus | None:
        """The latest ``rampbot`` status on ``sha``, if any."""
        _, data = self._call(
            f"read the statuses of {sha[:12]}",
            lambda: self._request("GET", f"/commits/{sha}/status"),
        )
        for status in data.get("statuses") or []:
            if status.get("context") == STATUS_CONTEXT:
                return CommitStatus(state=status["state"], description=status["description"] or "")
        return None

    def set_commit_status(
        self, sha: str, *, state: str, description: str, target_url: str | None = None
    ) -> None:
        payload: dict[str, Any] = {
            "state": state,
            "context": STATUS_CONTEXT,
            "description": status_description(outbound.clean(description)),
        }
        if target_url:
            payload["target_url"] = target_url
        self._call(
            f"set the {STATUS_CONTEXT} status on {sha[:12]}",
            lambda: self._request("POST", f"/statuses/{sha}", input=payload),
        )

    def mergeable_state(self, number: int) -> str:
        """GitHub's mergeable_state of a pull request: clean, blocked, behind, dirty, ...

        GitHub computes it in the background after a push, answering "unknown" meanwhile: read
        again a few times before settling for that.
        https://docs.github.com/en/rest/guides/using-the-rest-api-to-interact-with-your-git-database#checking-mergeability-of-pull-requests
        """
        state = "unknown"
        try:
            for attempt in stamina.retry_context(
                on=_StillComputing,
                attempts=self._attempts,
                timeout=self._budget,
                wait_initial=_BACKOFF_SECONDS,
                wait_max=self._max_wait,
                wait_jitter=0.0,
            ):
                with attempt:
                    _, data = self._call(
                        f"read pull request #{number}",
                        lambda: self._request("GET", f"/pulls/{number}"),
                    )
                    state = str(data.get("mergeable_state") or "unknown")
                    if state == "unknown":
                        raise _StillComputing
        except _StillComputing:
            pass  # still unknown after the last read: the caller decides with that
        return state

    def enable_auto_merge(self, number: int) -> None:
        """Have GitHub merge the pull request once its checks pass."""

        def enable() -> None:
            pull = self._github.get_repo(self.repository).get_pull(number)
            pull.enable_automerge("MERGE")

        self._call(f"enable auto-merge on #{number}", enable, retry=False)

    def merge(self, number: int) -> None:
        """Merge the pull request now, with a merge commit."""
        self._call(
            f"merge #{number}",
            lambda: self._request("PUT", f"/pulls/{number}/merge", input={"merge_method": "merge"}),
            retry=False,
        )

    def _add_labels(self, number: int, labels: Iterable[str]) -> None:
        self._call(
            f"label #{number}",
            lambda: self._request(
                "POST", f"/issues/{number}/labels", input={"labels": list(labels)}
            ),
        )

    def _request(
        self, verb: str, path: str, *, input: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        return self._github.requester.requestJsonAndCheck(
            verb, self._url + path, input=dict(input) if input is not None else None
        )

    def _call(self, what: str, action: Callable[[], T], *, retry: bool = True) -> T:
        """Run one GitHub operation with bounded retries; errors become ServiceErrors.

        ``retry`` False: the operation is not safe to repeat (a comment, a merge), so a 5xx or a
        dropped connection, after which it may or may not have happened, is not retried. A rate
        limit is waited out either way: GitHub did nothing.
        """
        attempts = 0
        deadline = self._clock() + timedelta(seconds=self._budget)
        out_of_time = False

        def next_pause(error: Exception) -> bool | float:
            # stamina asks after each failed attempt: False for a final answer, else the pause,
            # which must end before the deadline (a shorter one would meet the same answer).
            nonlocal out_of_time
            now = self._clock()
            pause = retry_wait(
                error, attempts=attempts, repeatable=retry, max_wait=self._max_wait, now=now
            )
            if pause is None:
                return False
            if pause > (deadline - now).total_seconds():
                out_of_time = True
                return False
            return pause

        try:
            for attempt in stamina.retry_context(
                on=next_pause, attempts=self._attempts, timeout=self._budget, wait_jitter=0.0
            ):
                with attempt:
                    attempts += 1
                    return action()
        except GithubException as error:
            headers = _headers(error)
            now = self._clock()
            wait = _rate_limit_wait(error.status, headers=headers, data=error.data, now=now)
            if wait is not None:
                raise _rate_limited(what, headers=headers, now=now) from None
            failure = _service_error(what, error.status, headers=headers, data=error.data)
            if error.status < 500:
                raise failure from None
            if not retry:
                raise _not_retried(failure) from None
            if out_of_time:
                raise _out_of_time(failure, attempts=attempts, budget=self._budget) from None
            raise failure from None
        except requests.RequestException as error:
            failure = GitHubError(f"GitHub: could not {what}: {type(error).__name__}")
            if not retry:
                raise _not_retried(failure) from None
            raise GitHubError(
                f"{failure.message} after {attempts} attempts; check GITHUB_API_URL and the network"
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")


def retry_wait(
    error: Exception, *, attempts: int, repeatable: bool, max_wait: float, now: datetime
) -> float | None:
    """Seconds to wait before trying again after ``attempts`` failed ones, or None: final.

    A rate limit is waited out as GitHub asks when that is at most ``max_wait``; a 5xx or a
    dropped connection only when the operation is ``repeatable``, after 0.5 s, 1 s, 2 s, ...
    """
    if isinstance(error, GithubException):
        wait = _rate_limit_wait(error.status, headers=_headers(error), data=error.data, now=now)
        if wait is not None:
            return wait if wait <= max_wait else None
        if error.status < 500:
            return None
    elif not isinstance(error, requests.RequestException):
        return None
    if not repeatable:
        return None
    return min(_BACKOFF_SECONDS * 2.0 ** (attempts - 1), max_wait)


def _headers(error: GithubException) -> dict[str, str]:
    return {key.lower(): value for key, value in (error.headers or {}).items()}


def _pull_request(data: Mapping[str, Any]) -> PullRequest:
    return PullRequest(
        number=data["number"],
        title=data.get("title") or "",
        body=data.get("body") or "",
        labels=tuple(label["name"] for label in data.get("labels") or []),
        head_ref=data["head"]["ref"],
        # null when the fork was deleted: then it is not ours either
        head_repo=(data["head"].get("repo") or {}).get("full_name") or "",
        head_sha=data["head"]["sha"],
        base_ref=data["base"]["ref"],
        url=data.get("html_url") or "",
        state=data.get("state") or "open",
        merged=bool(data.get("merged") or data.get("merged_at")),
        merge_commit_sha=data.get("merge_commit_sha"),
        author=(data.get("user") or {}).get("login") or "",
        closed_at=_timestamp(data.get("closed_at")),
    )


def _timestamp(text: Any) -> datetime | None:
    """GitHub's ``2026-11-26T09:30:00Z``, or None."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _out_of_time(error: ServiceError, *, attempts: int, budget: float) -> ServiceError:
    return GitHubError(
        f"{error.message}; gave up after {attempts} attempts, as the next would end past the "
        f"{budget:g}s budget; the next scheduled run will try again"
    )


def _not_retried(error: ServiceError) -> ServiceError:
    return GitHubError(
        f"{error.message}; not retried, since a second try could do it twice: check the pull "
        "request on GitHub, then run rampbot again"
    )


def _rate_limit_wait(
    status: int, *, headers: Mapping[str, str], data: Any, now: datetime
) -> float | None:
    """Seconds to wait when the answer is a rate limit, else None.

    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
    """
    if status not in (403, 429):
        return None
    message = str(data.get("message", "") if isinstance(data, Mapping) else "").lower()
    limited = (
        status == 429
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message
    )
    if not limited:
        return None
    if "retry-after" in headers:
        try:
            return max(float(headers["retry-after"]), 0.0)
        except ValueError:
            pass
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(float(headers["x-ratelimit-reset"]) - now.timestamp(), 0.0) + 1.0
        except ValueError:
            pass
    return 60.0  # secondary limit without a header: GitHub asks for at least a minute


def _rate_limited(what: str, *, headers: Mapping[str, str], now: datetime) -> GitHubError:
    until = ""
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        until = f" until {datetime.fromtimestamp(int(reset), UTC).isoformat(timespec='seconds')}"
    elif "retry-after" in headers:
        until = f" for {headers['retry-after']} s"
    return GitHubError(
        f"GitHub: could not {what}: rate limited{until}; the next scheduled run will try again"
    )


def _github_message(data: Any) -> str:
    if not isinstance(data, Mapping):
        return ""
    parts = [str(data.get("message") or "")]
    for error in data.get("errors") or []:
        if isinstance(error, Mapping) and error.get("message"):
            parts.append(str(error["message"]))
        elif isinstance(error, str):
            parts.append(error)
    return ": ".join(part for part in parts if part)


def _service_error(
    what: str, status: int, *, headers: Mapping[str, str], data: Any
) -> ServiceError:
    message = _github_message(data)
    quoted = f' "{message}"' if message else ""
    if status == 401:
        return GitHubError(
            f"GitHub: could not {what}: 401{quoted}; the token is missing, expired or wrong "
            "(set GITHUB_TOKEN)"
        )
    if status == 403:
        needed = headers.get("x-accepted-github-permissions")
        hint = (
            f"the token needs {needed} (in a workflow: add it under permissions:)"
            if needed
            else "the token lacks a permission (contents: write and pull-requests: write)"
        )
        return GitHubError(f"GitHub: could not {what}: 403{quoted}; {hint}")
    if status == 404:
        return GitHubError(
            f"GitHub: could not {what}: 404{quoted}; check GITHUB_REPOSITORY and that the token "
            "can see the repository"
        )
    if status == 422:
        error_class = (
            PullRequestAlreadyExists
            if "a pull request already exists" in message.lower()
            else GitHubError
        )
        return error_class(f"GitHub: could not {what}: 422 GitHub says{quoted}")
    return GitHubError(f"GitHub: could not {what}: {status}{quoted}")
