"""The GitHub test double, driven by the real PyGithub client and real git, through the
routes rampbot calls (bot/github.py); the double serves no others."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import github
import pytest
import requests

from tests.github_double import GitHubDouble, spec

BRANCH = "rampbot/ramp"


def git(cwd: Path, *args: str) -> str:
    """Run git in a directory; its stdout."""
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def push_branch(clone: Path, branch: str, files: dict[str, str], message: str) -> str:
    """Commit files on a new branch from origin/main and push it; the commit SHA."""
    git(clone, "fetch", "-q", "origin")
    git(clone, "switch", "-q", "-C", branch, "origin/main")
    for name, text in files.items():
        (clone / name).write_text(text, encoding="utf-8")
    git(clone, "commit", "-q", "-am", message)
    git(clone, "push", "-q", "--force", "origin", branch)
    return git(clone, "rev-parse", "HEAD").strip()


def ramp_files(clone: Path, pct: int = 20) -> dict[str, str]:
    """flags.json with acme's receipts percentage changed."""
    flags = json.loads((clone / "flags.json").read_text(encoding="utf-8"))
    flags["features"]["receipts"]["tenants"]["acme"]["pct"] = pct
    return {"flags.json": json.dumps(flags, indent=2) + "\n"}


@pytest.fixture
def repo(github_double: GitHubDouble) -> Any:
    """PyGithub's Repository for the double's repository, lazy as rampbot's: no GET of it."""
    return github_double.client(lazy=True).get_repo(github_double.full_name)


def set_status(repo: Any, sha: str, state: str = "success", context: str = "rampbot") -> None:
    """POST .../statuses/{sha}, as GitHubRepository.set_commit_status sends it."""
    repo.requester.requestJsonAndCheck(
        "POST", f"{repo.url}/statuses/{sha}", input={"state": state, "context": context}
    )


@pytest.fixture
def head(github_clone: Path) -> str:
    """A pushed `rampbot/ramp` branch one commit ahead of main; its SHA."""
    return push_branch(github_clone, BRANCH, ramp_files(github_clone), "Step acme up to 20%")


def test_pull_request_lifecycle_ends_in_a_real_merge_commit(
    github_double: GitHubDouble, github_origin: Any, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Ramp receipts", body="plan v1", head=BRANCH, base="main")
    assert (pr.number, pr.head.sha, pr.base.ref, pr.mergeable) == (1, head, "main", True)
    assert pr.user.login == github_double.login

    found = list(repo.get_pulls(state="open", head=f"acme:{BRANCH}", base="main"))
    assert [p.number for p in found] == [pr.number]
    # PyGithub sends the filters verbatim as query parameters.
    assert github_double.log[-1].query == {
        "state": "open",
        "head": f"acme:{BRANCH}",
        "base": "main",
    }

    pr.edit(body="plan v2")
    labels = f"{repo.url}/issues/{pr.number}/labels"
    repo.requester.requestJsonAndCheck("POST", labels, input={"labels": ["rampbot"]})
    pr.create_issue_comment("Evidence still holds.")
    pr.create_review_request(reviewers=["alice"])
    # GitHub's mergeable_state: blocked until the required status is success, then clean.
    assert repo.get_pull(pr.number).mergeable_state == "blocked"
    set_status(repo, head)

    again = repo.get_pull(pr.number)
    assert again.body == "plan v2"
    assert again.mergeable_state == "clean"
    assert [label.name for label in again.labels] == ["rampbot"]
    assert github_double.comments(pr.number) == ["Evidence still holds."]
    assert [u.login for u in again.requested_reviewers] == ["alice"]
    _, combined = repo.requester.requestJsonAndCheck("GET", f"{repo.url}/commits/{head}/status")
    assert combined["state"] == "success"
    assert repo.get_issue(pr.number).pull_request is not None

    result = again.merge(merge_method="merge", sha=head)
    assert result.merged
    main = github_origin.resolve("refs/heads/main")
    assert result.sha == main
    assert git(github_origin.path, "rev-parse", "main^2").strip() == head
    log = git(github_origin.path, "log", "--format=%s", "main")
    assert log.splitlines()[0] == f"Merge pull request #1 from acme/{BRANCH}"
    merged = repo.get_pull(pr.number)
    assert (merged.merged, merged.state, merged.merge_commit_sha) == (True, "closed", main)
    assert merged.merged_by.login == github_double.login
    assert '"pct": 20' in (github_origin.show_file("main", "flags.json") or "")


def test_a_second_pr_for_the_same_head_is_422(repo: Any, head: str) -> None:
    repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    with pytest.raises(github.GithubException) as caught:
        repo.create_pull(title="Ramp again", body="", head=BRANCH, base="main")
    assert caught.value.status == 422
    assert caught.value.data["message"] == "Validation Failed"
    assert caught.value.data["errors"][0]["message"] == (
        f"A pull request already exists for acme:{BRANCH}."
    )


def test_two_clients_racing_end_with_one_pr(github_double: GitHubDouble, head: str) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def open_pr() -> None:
        client_repo = github_double.client(lazy=True).get_repo(github_double.full_name)
        barrier.wait()
        try:
            outcomes.append(
                client_repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
            )
        except github.GithubException as error:
            outcomes.append(error.status)

    threads = [threading.Thread(target=open_pr) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(str(o) for o in outcomes if isinstance(o, int)) == ["422"]
    assert len(github_double.pulls("open")) == 1


def test_head_filter_without_owner_returns_every_pr(repo: Any, head: str) -> None:
    # GitHub ignores `head` unless it is "owner:branch"; the double does the same.
    repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    assert repo.get_pulls(head="no-such-branch").totalCount == 1
    assert repo.get_pulls(head="acme:no-such-branch").totalCount == 0


def test_closing_and_deleting_the_branch(
    github_double: GitHubDouble, github_clone: Path, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    pr.edit(state="closed")
    assert repo.get_pulls(state="open").totalCount == 0
    assert repo.get_issue(pr.number).closed_by.login == github_double.login
    second = repo.create_pull(title="Ramp again", body="", head=BRANCH, base="main")
    git(github_clone, "push", "-q", "origin", "--delete", BRANCH)
    # GitHub closes a pull request whose head branch is deleted.
    assert github_double.pull(second.number).state == "closed"


def test_what_rampbot_never_asks_is_not_served(
    github_double: GitHubDouble, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    pr.edit(state="closed")
    with pytest.raises(github.GithubException) as reopened:
        pr.edit(state="open")
    assert reopened.value.status == 500
    assert len(github_double.violations) == 1
    assert "does not reopen or rebase a PR" in github_double.violations[0]
    github_double.violations.clear()
    with pytest.raises(github.GithubException) as elsewhere:
        repo.requester.requestJsonAndCheck("GET", f"{repo.url}/branches/main")
    assert elsewhere.value.status == 404
    assert any("Path not found" in v for v in github_double.violations)
    github_double.violations.clear()


def test_merge_refusals(
    github_double: GitHubDouble, github_clone: Path, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    with pytest.raises(github.GithubException) as stale:
        pr.merge(sha="0" * 40)
    assert stale.value.status == 409
    with pytest.raises(github.GithubException) as blocked:
        pr.merge()
    assert (blocked.value.status, blocked.value.data["message"]) == (
        405,
        'Required status check "rampbot" is expected.',
    )
    with pytest.raises(github.GithubException) as squash:
        pr.merge(merge_method="squash")
    assert (squash.value.status, squash.value.data["message"]) == (
        405,
        "Squash merges are not allowed on this repository.",
    )
    # A person changes the same line on main: the PR now conflicts.
    github_double.repo.commit_files("main", ramp_files(github_clone, pct=30), message="Human edit")
    set_status(repo, head)
    assert repo.get_pull(pr.number).mergeable is False
    assert repo.get_pull(pr.number).mergeable_state == "dirty"
    with pytest.raises(github.GithubException) as conflict:
        pr.merge()
    assert (conflict.value.status, conflict.value.data["message"]) == (
        405,
        "Pull Request is not mergeable",
    )


def test_auto_merge_waits_for_the_required_status(
    github_double: GitHubDouble, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Roll back", body="", head=BRANCH, base="main")
    pr.enable_automerge(merge_method="MERGE")
    assert github_double.pull(pr.number).auto_merge is not None
    assert repo.get_pull(pr.number).auto_merge["merge_method"] == "merge"  # a dict
    set_status(repo, head)
    assert github_double.pull(pr.number).merged_at is not None
    assert repo.get_pull(pr.number).merged


def test_auto_merge_on_a_clean_pr_is_refused_as_on_github(
    github_double: GitHubDouble, repo: Any, head: str
) -> None:
    github_double.required_contexts = ()
    pr = repo.create_pull(title="Roll back", body="", head=BRANCH, base="main")
    with pytest.raises(github.GithubException, match="clean status"):
        pr.enable_automerge()


def test_issues_hold_the_dashboard_and_list_pull_requests_too(repo: Any, head: str) -> None:
    pr = repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    labels = f"{repo.url}/issues/{pr.number}/labels"
    repo.requester.requestJsonAndCheck("POST", labels, input={"labels": ["Rampbot"]})
    issue = repo.create_issue(title="Ramp dashboard", body="<!-- marker -->", labels=["rampbot"])
    issue.edit(body="<!-- marker --> edited")
    listed = list(repo.get_issues(state="open", labels=["rampbot"], direction="asc"))
    # GitHub lists pull requests among issues, and matches label names in any case.
    assert [(i.number, i.pull_request is not None) for i in listed] == [
        (pr.number, True),
        (issue.number, False),
    ]
    assert repo.get_issue(issue.number).body == "<!-- marker --> edited"


def test_requests_are_logged_and_counted(github_double: GitHubDouble, repo: Any) -> None:
    repo.get_pulls(state="open").totalCount  # noqa: B018 - the request is the point
    list(repo.get_issues(state="open"))
    assert github_double.count() == 2
    assert github_double.count("GET", "/repos/acme/flags/pulls") == 1
    assert github_double.log[0].query == {"state": "open", "per_page": "1"}
    github_double.reset_log()
    assert github_double.count() == 0
    repo.get_pulls(state="all").totalCount  # noqa: B018
    assert github_double.requests() == ["GET /repos/acme/flags/pulls?per_page=1&state=all -> 200"]


def test_a_request_github_would_reject_is_a_violation(
    github_double: GitHubDouble, repo: Any, head: str
) -> None:
    requester = repo.requester
    bad = [
        ("POST", "/repos/acme/flags/pulls", {"title": 5, "head": BRANCH, "base": "main"}),
        ("POST", "/repos/acme/flags/pulls", {"title": "t", "head": BRANCH, "bse": "main"}),
        ("PATCH", "/repos/acme/flags/pulls/1", {"state": "merged"}),
        ("POST", "/repos/acme/flags/issues/1/labels", {"labels": "rampbot"}),
        ("GET", "/repos/acme/flags/pull/1", None),
    ]
    statuses = []
    for method, path, body in bad:
        with pytest.raises(github.GithubException) as caught:
            requester.requestJsonAndCheck(method, path, input=body)
        statuses.append(caught.value.status)
    assert statuses == [422, 422, 422, 422, 404]
    assert len(github_double.violations) >= len(bad)
    assert any("'bse'" in v for v in github_double.violations)
    assert any("Path not found" in v for v in github_double.violations)
    github_double.violations.clear()  # expected here; the fixture checks the rest


def test_graphql_outside_the_auto_merge_mutations_is_a_violation(
    github_double: GitHubDouble, repo: Any
) -> None:
    with pytest.raises(github.GithubException):
        repo.requester.graphql_query("query { viewer { login } }", {})
    assert github_double.violations == [
        "POST /graphql: request: only the auto-merge mutations are served: "
        "'query { viewer { login } }'"
    ]
    github_double.violations.clear()


def test_responses_are_checked_too() -> None:
    request = spec.WireRequest("get", "/repos/acme/flags/pulls/1", [], {}, None)
    body = spec.fill("pull-request") | {"number": "one"}
    response = spec.WireResponse(200, json.dumps(body).encode(), spec.Headers())
    assert any("number" in problem for problem in spec.check_response(request, response))


def test_injected_server_errors_then_success(
    github_double: GitHubDouble, repo: Any, head: str
) -> None:
    pr = repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    github_double.fail_next("GET", "/repos/acme/flags/pulls/*", status=502, times=2)
    for _ in range(2):
        with pytest.raises(github.GithubException) as caught:
            repo.get_pull(pr.number).title  # noqa: B018 - lazy: reading it sends the request
        assert caught.value.status == 502
    assert repo.get_pull(pr.number).title == "Ramp"
    assert [e.status for e in github_double.log[-3:]] == [502, 502, 200]


def test_injected_validation_failure(github_double: GitHubDouble, repo: Any, head: str) -> None:
    github_double.fail_next("POST", "*/pulls", status=422)
    with pytest.raises(github.GithubException) as caught:
        repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    assert caught.value.data["errors"][0]["message"] == "Injected failure"
    assert github_double.pulls() == []


def test_rate_limits(github_double: GitHubDouble, repo: Any) -> None:
    github_double.rate_limit_next("GET", "/repos/*", kind="primary", reset_in=60)
    response = requests.get(
        f"{github_double.url}/repos/acme/flags/pulls",
        headers={"Authorization": f"token {github_double.token}"},
        timeout=5,
    )
    assert response.status_code == 403
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    github_double.rate_limit_next(kind="primary")
    with pytest.raises(github.RateLimitExceededException):
        list(repo.get_pulls())

    github_double.rate_limit_next("POST", "*", kind="secondary", retry_after=7)
    with pytest.raises(github.GithubException) as caught:
        repo.create_issue(title="Ramp dashboard")
    assert caught.value.status == 429
    assert caught.value.headers["retry-after"] == "7"


def test_missing_permission_and_bad_tokens(github_double: GitHubDouble, head: str) -> None:
    github_double.deny("POST", "/repos/acme/flags/pulls", permission="pull_requests=write")
    repo = github_double.client(lazy=True).get_repo(github_double.full_name)
    with pytest.raises(github.GithubException) as denied:
        repo.create_pull(title="Ramp", body="", head=BRANCH, base="main")
    assert denied.value.status == 403
    assert denied.value.headers["x-accepted-github-permissions"] == "pull_requests=write"
    github_double.clear_faults()

    with pytest.raises(github.BadCredentialsException):
        list(
            github_double.client(token="wrong", lazy=True)
            .get_repo(github_double.full_name)
            .get_pulls()
        )
    anonymous = github.Github(base_url=github_double.url, retry=None, lazy=True)
    with pytest.raises(github.GithubException) as caught:
        list(anonymous.get_repo(github_double.full_name).get_pulls())
    assert (caught.value.status, caught.value.data["message"]) == (401, "Requires authentication")


@pytest.mark.parametrize("github_double_options", [{"prefix": "/api/v3"}])
def test_enterprise_style_base_url(github_double: GitHubDouble, repo: Any, head: str) -> None:
    assert github_double.url.endswith("/api/v3")
    pr = repo.create_pull(title="Roll back", body="", head=BRANCH, base="main")
    pr.enable_automerge()
    assert github_double.pull(pr.number).auto_merge is not None
    assert github_double.count("POST", "/graphql") == 1


def test_lists_are_paged_with_link_headers(github_double: GitHubDouble, repo: Any) -> None:
    for index in range(35):
        repo.create_issue(title=f"issue {index:02}")
    github_double.reset_log()
    titles = [issue.title for issue in repo.get_issues(direction="asc")]
    assert titles == [f"issue {index:02}" for index in range(35)]
    assert github_double.requests() == [
        "GET /repos/acme/flags/issues?direction=asc -> 200",
        "GET /repos/acme/flags/issues?direction=asc&page=2&per_page=30 -> 200",
    ]
