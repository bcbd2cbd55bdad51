"""The HTTP side of the double: auth, checks against GitHub's description, faults, the log."""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.datastructures import Headers

from . import spec
from .app import App
from .gitrepo import BareRepo, GitError
from .handlers import DOCS, Answer, Api, ApiError, Call
from .objects import Renderer
from .state import Issue, Pull, State

# The endpoints a GitHub App calls with its JWT rather than a token.
_APP_ONLY = re.compile(r"^/app(/.*)?$|^/repos/[^/]+/[^/]+/installation$")

RATE_LIMIT = 5000
RATE_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
GRAPHQL_INPUT = {
    "enablePullRequestAutoMerge": {
        "pullRequestId",
        "authorEmail",
        "clientMutationId",
        "commitBody",
        "commitHeadline",
        "expectedHeadOid",
        "mergeMethod",
    },
}


@dataclass(frozen=True)
class LoggedRequest:
    """One request the double answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None


@dataclass
class Fault:
    """A canned answer for matching requests, `times` times (None: until cleared)."""

    method: str
    path_pattern: str
    status: int
    times: int | None
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        """Method (or "*") and glob pattern ("*" spans "/") both match."""
        return self.method in ("*", method.upper()) and fnmatch.fnmatchcase(path, self.path_pattern)


class GitHubDouble:
    """A stateful stand-in for api.github.com serving one repository over HTTP on 127.0.0.1.

    See tests/github_double/README.md. Use it through the `github_double` fixture.
    """

    def __init__(
        self,
        repo: BareRepo,
        *,
        owner: str = "acme",
        name: str = "flags",
        token: str = "test-token",
        login: str = "rampbot-bot",
        required_contexts: tuple[str, ...] = ("rampbot",),
        prefix: str = "",
        app: App | None = None,
    ) -> None:
        self.repo = repo
        self.owner, self.name = owner, name
        self.token, self.login, self.prefix = token, login, prefix.rstrip("/")
        self.state = State()
        self.violations: list[str] = []
        self.log: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._used = 0
        self.render = Renderer(api="", owner=owner, name=name, repo=repo, state=self.state)
        self.api = Api(
            repo=repo, render=self.render, state=self.state, required_contexts=required_contexts
        )
        self.api.app = app

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GitHubDouble:
        """Listen on a free port of 127.0.0.1."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self.render.api = self.url
        self._thread = threading.Thread(target=server.serve_forever, name="github-double")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The port served on."""
        assert self._server is not None, "the double is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give PyGithub (and GITHUB_API_URL)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def full_name(self) -> str:
        """owner/name, as GITHUB_REPOSITORY holds it."""
        return f"{self.owner}/{self.name}"

    @property
    def required_contexts(self) -> tuple[str, ...]:
        """Status contexts a merge (and auto-merge) waits for, like branch protection."""
        return self.api.required_contexts

    @required_contexts.setter
    def required_contexts(self, value: tuple[str, ...]) -> None:
        self.api.required_contexts = tuple(value)

    def client(self, *, token: str | None = None, **options: Any) -> Any:
        """A PyGithub client for the double: no retries and no throttling unless given."""
        import github

        options.setdefault("retry", None)
        options.setdefault("timeout", 10)
        # PyGithub waits 0.25 s between requests and 1 s between writes by default.
        options.setdefault("seconds_between_requests", None)
        options.setdefault("seconds_between_writes", None)
        return github.Github(
            base_url=self.url, auth=github.Auth.Token(token or self.token), **options
        )

    # -- observability -----------------------------------------------------------------------

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many logged requests match a method and a path prefix (without base URL)."""
        with self.lock:
            return sum(
                1
                for entry in self.log
                if (method is None or entry.method == method.upper())
                and (path_prefix is None or entry.path.startswith(path_prefix))
            )

    def reset_log(self) -> None:
        """Forget the requests logged so far (between the phases of a test)."""
        with self.lock:
            self.log.clear()

    def requests(self) -> list[str]:
        """The log as "METHOD /path?query -> status" lines, for assertion messages."""
        with self.lock:
            return [
                f"{e.method} {e.path}"
                + (f"?{'&'.join(f'{k}={v}' for k, v in e.query.items())}" if e.query else "")
                + f" -> {e.status}"
                for e in self.log
            ]

    def assert_no_violations(self) -> None:
        """Fail with every request or response GitHub's description rejected."""
        if self.violations:
            listing = "\n  ".join(self.violations)
            raise AssertionError(
                f"the GitHub double saw {len(self.violations)} request(s) or response(s) that "
                f"GitHub's API description rejects (tests/data/github-openapi):\n  {listing}"
            )

    # -- state, for assertions -------------------------------------------------------------

    def issues(self, state: str = "all") -> list[Issue]:
        """Issues that are not pull requests, oldest first."""
        with self.lock:
            return [i for i in self.state.issues.values() if state in ("all", i.state)]

    def edit_issue(self, number: int, *, body: str) -> None:
        """Edit an issue's body as a person would (ticking a checkbox)."""
        with self.lock:
            issue = self.state.issues[number]
            issue.body = body
            issue.touch()

    def pulls(self, state: str = "all") -> list[Pull]:
        """Pull requests, oldest first (refreshed from git)."""
        with self.lock:
            for pull in self.state.pulls.values():
                self.api.refresh(pull)
            return [p for p in self.state.pulls.values() if state in ("all", p.state)]

    def pull(self, number: int) -> Pull:
        """One pull request (refreshed from git)."""
        with self.lock:
            pull = self.state.pulls[number]
            self.api.refresh(pull)
            return pull

    def comments(self, number: int) -> list[str]:
        """Comment bodies on a PR, oldest first."""
        with self.lock:
            return [c.body for c in self.state.comments.values() if c.issue == number]

    def statuses(self, sha: str) -> dict[str, str]:
        """Latest state per status context on a commit."""
        with self.lock:
            return {s.context: s.state for s in self.state.statuses.get(sha, [])}

    def open_fork_pull(
        self,
        owner: str,
        branch: str,
        files: Mapping[str, str],
        *,
        title: str = "A change from a fork",
        base: str = "main",
    ) -> Pull:
        """A PR from `owner`'s fork (head.repo `owner/name`): its commit, on `base`, is kept
        under refs/forks/`owner`/`branch`, apart from the served repository's branches."""
        with self.lock:
            head_sha = self.repo.commit_files(
                f"refs/forks/{owner}/{branch}", files, message=title, start=base
            )
            pull = Pull(
                number=next(self.state.numbers),
                title=title,
                body="",
                head=branch,
                base=base,
                user=owner,
                head_owner=owner,
                last_head_sha=head_sha,
                last_base_sha=self.repo.resolve(f"refs/heads/{base}") or "",
            )
            self.state.pulls[pull.number] = pull
            return pull

    def merge(self, number: int, *, login: str = "octocat") -> str:
        """Merge a PR as a person would in the web UI (ignores required statuses)."""
        with self.lock:
            pull = self.pull(number)
            return self.api.merge_pull(pull, title=None, message=None, login=login)

    def close(self, number: int, *, login: str = "octocat") -> None:
        """Close a PR without merging, as a person would in the web UI."""
        with self.lock:
            self.api._edit(self.pull(number), {"state": "closed"}, closer=login)

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int = 500,
        times: int | None = 1,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests with `status` (a GitHub-shaped body)."""
        if body is None:
            body = _default_fault_body(status)
        fault = Fault(method.upper(), path_pattern, status, times, body, dict(headers or {}))
        with self.lock:
            self.faults.append(fault)
        return fault

    def rate_limit_next(
        self,
        method: str = "*",
        path_pattern: str = "*",
        *,
        kind: str = "primary",
        reset_in: int = 2,
        retry_after: int = 1,
        times: int | None = 1,
    ) -> Fault:
        """Primary limit: 403 + X-RateLimit-Remaining 0/Reset; secondary: 429 + Retry-After."""
        if kind == "primary":
            reset = str(int(time.time()) + reset_in)
            return self.fail_next(
                method,
                path_pattern,
                403,
                times,
                body={
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": RATE_DOCS,
                },
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            )
        return self.fail_next(
            method,
            path_pattern,
            429,
            times,
            body={
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again.",
                "documentation_url": RATE_DOCS,
            },
            headers={"Retry-After": str(retry_after)},
        )

    def deny(
        self,
        method: str,
        path_pattern: str,
        *,
        permission: str = "pull_requests=write",
        times: int | None = None,
    ) -> Fault:
        """Answer 403 "Resource not accessible by integration", naming the permission needed."""
        return self.fail_next(
            method,
            path_pattern,
            403,
            times,
            body={
                "message": "Resource not accessible by integration",
                "documentation_url": DOCS,
                "status": "403",
            },
            headers={"X-Accepted-GitHub-Permissions": permission},
        )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self.lock:
            self.faults.clear()

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: (status, headers, body)."""
        parts = urlsplit(target)
        path = parts.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :] or "/"
        if path == "/api/graphql":
            path = "/graphql"
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(query_pairs)
        body: Any = None
        status, payload = 0, None
        answer_headers: dict[str, str] = {}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._violate(method, target, "request", f"body is not JSON: {raw[:80]!r}")
            status, payload = 400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
        if not status:
            status, answer_headers, payload = self._answer(
                method, path, query_pairs, headers, raw, body
            )
        with self.lock:
            self._used += 1
            self.log.append(LoggedRequest(method.upper(), path, query, status, body))
        out_headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(RATE_LIMIT - self._used, 0)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": str(self._used),
            "X-RateLimit-Resource": "graphql" if path == "/graphql" else "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            **answer_headers,
        }
        data = b"" if status == 204 or payload is None else json.dumps(payload).encode()
        return status, out_headers, data

    def _answer(
        self,
        method: str,
        path: str,
        query_pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        raw: bytes,
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        auth = _header(headers, "Authorization")
        if auth is None:
            return 401, {}, {"message": "Requires authentication", "documentation_url": DOCS}
        scheme, _, credential = auth.partition(" ")
        app = self.api.app
        if app is not None and _APP_ONLY.match(path.removeprefix(self.prefix)):
            # Only the app's JWT may ask for its installation and installation tokens.
            problem = app.jwt_problem(credential) if scheme.lower() == "bearer" else "JWT"
            if problem is not None:
                return 401, {}, {"message": problem, "documentation_url": DOCS}
        elif scheme.lower() not in ("token", "bearer") or not (
            credential == self.token or (app is not None and app.token_valid(credential))
        ):
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}

        if path == "/graphql" and method.upper() == "POST":
            fault = self._take_fault(method, path)
            if fault is not None:
                return fault.status, dict(fault.headers), fault.body
            with self.lock:
                return 200, {}, self._graphql(body)

        template = spec.find_template(method, path)
        request = spec.WireRequest(
            method=method,
            path=path,
            query=query_pairs,
            headers=dict(headers),
            body=raw or None,
            content_type=(_header(headers, "Content-Type") or "application/json").lower(),
        )
        problems = spec.check_request(request)
        if problems:
            for problem in problems:
                self._violate(method, path, "request", problem)
            if template is None:
                return 404, {}, {"message": "Not Found", "documentation_url": DOCS}
            return (
                422,
                {},
                {
                    "message": "Validation Failed",
                    "errors": [
                        {"resource": "Request", "code": "invalid", "message": p} for p in problems
                    ],
                    "documentation_url": DOCS,
                },
            )
        assert template is not None

        fault = self._take_fault(method, path)
        if fault is not None:
            return fault.status, dict(fault.headers), fault.body

        handler = self.api.routes.get((method.lower(), template))
        if handler is None:
            self._violate(
                method,
                path,
                "request",
                f"{template} is in GitHub's description "
                "but the double does not serve it yet (add it to handlers.py)",
            )
            return (
                501,
                {},
                {"message": "Not implemented by the test double", "documentation_url": DOCS},
            )
        params = {k: unquote(v) for k, v in spec.path_params(template, path).items()}
        call = Call(
            method=method,
            params=params,
            query=dict(query_pairs),
            body=body or {},
            login=self.login,
        )
        try:
            with self.lock:
                answer = handler(call)
        except ApiError as error:
            answer = Answer(error.status, error.body, error.headers)
        except GitError as error:
            self._violate(method, path, "double", f"git failed: {error}")
            answer = Answer(500, {"message": "Server Error", "documentation_url": DOCS})
        except Exception as error:  # a bug in the double must fail the test, not hang it
            self._violate(method, path, "double", f"crashed: {traceback.format_exc()}")
            answer = Answer(
                500, {"message": f"Server Error ({error!r})", "documentation_url": DOCS}
            )
        self._check_response(method, template, request, answer)
        return answer.status, answer.headers, answer.body

    def _check_response(
        self, method: str, template: str, request: spec.WireRequest, answer: Answer
    ) -> None:
        documented = spec.documented_statuses(method, template)
        if str(answer.status) not in documented and "default" not in documented:
            if answer.status >= 400 and isinstance(answer.body, dict) and "message" in answer.body:
                # GitHub sends error codes its description omits (e.g. 422 on statuses);
                # the shape is still GitHub's basic error.
                return
            self._violate(
                method, request.path, "response", f"status {answer.status} is not documented"
            )
            return
        data = (
            b"" if answer.status == 204 or answer.body is None else json.dumps(answer.body).encode()
        )
        response = spec.WireResponse(
            status_code=answer.status,
            data=data or None,
            headers=Headers({"Content-Type": "application/json; charset=utf-8", **answer.headers}),
        )
        for problem in spec.check_response(request, response):
            self._violate(method, request.path, f"response {answer.status}", problem)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _violate(self, method: str, path: str, where: str, problem: str) -> None:
        with self.lock:
            self.violations.append(f"{method.upper()} {path}: {where}: {problem}")

    # -- GraphQL: only the auto-merge mutation PyGithub sends -------------------------------

    def _graphql(self, body: Any) -> dict[str, Any]:
        """Checked by hand: GraphQL is not in the REST description."""
        if not isinstance(body, dict) or set(body) - {"query", "variables", "operationName"}:
            return self._graphql_violation(f"body must be {{query, variables}}: {body!r}")
        query = str(body.get("query", ""))
        match = re.fullmatch(
            r"\s*mutation\s+\w*\s*\(\$input:\s*(\w+)Input!\)\s*\{\s*(\w+)\(input:\s*\$input\)\s*"
            r"\{(.*)\}\s*\}\s*",
            query,
            re.DOTALL,
        )
        if match is None or match.group(2) not in GRAPHQL_INPUT:
            return self._graphql_violation(f"only the auto-merge mutations are served: {query!r}")
        type_name, mutation = match.group(1), match.group(2)
        if type_name != mutation[0].upper() + mutation[1:]:
            return self._graphql_violation(f"input type {type_name}Input! does not fit {mutation}")
        variables = body.get("variables") or {}
        data = variables.get("input") if isinstance(variables, dict) else None
        if not isinstance(data, dict) or "pullRequestId" not in data:
            return self._graphql_violation("variables.input.pullRequestId is required")
        unknown = set(data) - GRAPHQL_INPUT[mutation]
        if unknown:
            return self._graphql_violation(f"unknown input fields {sorted(unknown)} for {mutation}")
        method = str(data.get("mergeMethod", "MERGE"))
        if method not in ("MERGE", "SQUASH", "REBASE"):
            return self._graphql_violation(f"mergeMethod {method!r} is not MERGE, SQUASH or REBASE")

        node = str(data["pullRequestId"])
        pull = next((p for p in self.state.pulls.values() if f"PR_{p.number}" == node), None)
        if pull is None:
            return _graphql_error(
                mutation, "NOT_FOUND", f"Could not resolve to a node with the global id of '{node}'"
            )
        self.api.refresh(pull)
        problem = self._auto_merge_problem(pull, method, data.get("expectedHeadOid"))
        if problem:
            return _graphql_error(mutation, "UNPROCESSABLE", problem)
        headline = data.get("commitHeadline")
        pull.auto_merge = {
            "enabled_by": self.render.user(self.login),
            "merge_method": method.lower(),
            "commit_title": headline if headline is not None else pull.title,
            "commit_message": data.get("commitBody", ""),
        }
        pull.touch()
        actor = {
            "avatarUrl": f"https://avatars.example.invalid/{self.login}",
            "login": self.login,
            "resourcePath": f"/{self.login}",
            "url": f"https://github.com/{self.login}",
        }
        return {
            "data": {mutation: {"actor": actor, "clientMutationId": data.get("clientMutationId")}}
        }

    def _auto_merge_problem(self, pull: Pull, method: str, expected: Any) -> str | None:
        if pull.state != "open":
            return "Pull request is closed"
        if expected is not None and expected != pull.last_head_sha:
            return "Head ref does not match expectedHeadOid"
        if method != "MERGE":  # a repository that allows merge commits only
            return f"Merge method {method.lower()} merging is not allowed on this repository"
        # GitHub refuses auto-merge on a PR that can be merged right now.
        if self.api.mergeable(pull) and self.api.status_ok(pull.last_head_sha):
            return "Pull request Pull request is in clean status"
        return None

    def _graphql_violation(self, problem: str) -> dict[str, Any]:
        self._violate("POST", "/graphql", "request", problem)
        return {"errors": [{"message": problem}]}


def _graphql_error(mutation: str, kind: str, message: str) -> dict[str, Any]:
    return {
        "data": {mutation: None},
        "errors": [{"type": kind, "path": [mutation], "locations": [], "message": message}],
    }


def _default_fault_body(status: int) -> dict[str, Any]:
    if status == 422:
        return {
            "message": "Validation Failed",
            "errors": [
                {"resource": "PullRequest", "code": "custom", "message": "Injected failure"}
            ],
            "documentation_url": DOCS,
        }
    messages = {
        500: "Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        404: "Not Found",
    }
    return {"message": messages.get(status, "Injected failure"), "documentation_url": DOCS}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        double: GitHubDouble = self.server.double  # type: ignore[attr-defined]
        status, headers, data = double.dispatch(self.command, self.path, dict(self.headers), raw)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the double keeps its own log."""
