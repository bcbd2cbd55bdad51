"""A stateful GitHub test double: api.github.com for one repository, on 127.0.0.1.

The double is an HTTP server that the real PyGithub client talks to through `base_url`. Its
repository is a real bare git repository on disk: clients `git push` to it by path, branches and
SHAs are what git says, and merging a pull request writes a real merge (or squash) commit.

Every request it receives and every response it sends is checked against GitHub's OpenAPI
description (tests/data/github-openapi/), with openapi-core. A request GitHub would reject gets
GitHub's 404/422 answer and is recorded in `double.violations`; the `github_double` fixture
fails the test at teardown if any were recorded.

Typical use (fixtures in tests/fixtures/github.py):

    def test_opens_a_pr(github_double, origin_clone):
        ...push a branch from origin_clone with git...
        gh = github_double.client(lazy=True)   # github.Github(base_url=..., auth=..., retry=None)
        repo = gh.get_repo(github_double.full_name)
        pr = repo.create_pull(title="t", body="b", head="rampbot/ramp", base="main")
        assert github_double.count("POST", "/repos/acme/flags/pulls") == 1

Faults: `fail_next`, `rate_limit_next`, `deny`; observation: `log`, `count`, `requests`,
`reset_log`, `pulls`, `comments`, `statuses`. Details in README.md next to this file.
"""

from .gitrepo import BareRepo, GitError
from .server import Fault, GitHubDouble, LoggedRequest
from .state import Pull

__all__ = ["BareRepo", "Fault", "GitError", "GitHubDouble", "LoggedRequest", "Pull"]
