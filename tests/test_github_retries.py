"""GitHubRepository's retries with plain values: which answers are tried again, after what pause,
within what budget, and the message when it gives up; and mergeable_state read again while
GitHub computes it. stamina's testing mode makes the pauses
instant; a hand-moved clock stands for the time they and the requests take."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import stamina
from github import GithubException
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import GitHubError
from bot.github import GitHubRepository, retry_wait
from tests.github_double import GitHubDouble
from tests.test_github_double import push_branch, ramp_files

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ANSWER = "the answer"


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Answers:
    """A GitHub operation that fails as listed, then answers; counts its attempts."""

    def __init__(self, *failures: Exception, clock: Clock, takes: float = 0.0) -> None:
        self.failures = list(failures)
        self.attempts = 0
        self.clock = clock
        self.takes = takes  # seconds each attempt takes on the clock

    def __call__(self) -> str:
        self.attempts += 1
        self.clock.advance(self.takes)
        if self.failures:
            raise self.failures.pop(0)
        return ANSWER


def refusal(status: int, message: str = "", **headers: str) -> GithubException:
    """GitHub's answer as PyGithub raises it (headers with dashes, as on the wire)."""
    wire = {name.replace("_", "-"): value for name, value in headers.items()}
    return GithubException(status, {"message": message} if message else None, wire)


SERVER_ERROR = refusal(502, "Server Error")
SECONDARY = refusal(403, "You have exceeded a secondary rate limit")


@pytest.fixture(autouse=True)
def instant_pauses() -> Iterator[None]:
    # Pauses take no time; the attempts stay the repository's own (cap, not set).
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def call(
    clock: Clock,
    answers: Callable[[], str],
    *,
    retry: bool = True,
    attempts: int = 3,
    budget: float = 120.0,
) -> str:
    """One operation through the repository's retries (PyGithub is not reached: the token
    is not used before a request)."""
    github = GitHubRepository(
        token="t0ken", repository="acme/flags", clock=clock, attempts=attempts, budget=budget
    )
    return github._call("read pull request #7", answers, retry=retry)


# What is tried again, and after what pause (plain values).


@pytest.mark.parametrize(
    ("error", "repeatable", "attempts", "expected"),
    [
        (refusal(403, "limited", retry_after="7"), True, 1, 7.0),
        (refusal(429, retry_after="0"), False, 1, 0.0),
        (refusal(403, "API rate limit exceeded", x_ratelimit_remaining="0",
                 x_ratelimit_reset=str(int(START.timestamp()) + 20)), True, 1, 21.0),
        (SECONDARY, True, 1, 60.0),
        (SECONDARY, False, 2, 60.0),  # GitHub did nothing: waited out even when not repeatable
        (refusal(403, "limited", retry_after="61"), True, 1, None),  # longer than max_wait
        (refusal(500), True, 1, 0.5),
        (refusal(503), True, 2, 1.0),
        (refusal(504), True, 3, 2.0),
        (refusal(502), True, 9, 60.0),  # doubling stops at max_wait
        (requests.ConnectionError("reset"), True, 1, 0.5),
        (refusal(500), False, 1, None),
        (requests.ConnectionError("reset"), False, 1, None),
        (refusal(400, "Problems parsing JSON"), True, 1, None),
        (refusal(401, "Bad credentials"), True, 1, None),
        (refusal(403, "Resource not accessible by integration"), True, 1, None),
        (refusal(404, "Not Found"), True, 1, None),
        (refusal(422, "Validation Failed"), True, 1, None),
        (ValueError("not GitHub's"), True, 1, None),
    ],
    ids=[
        "retry-after", "retry-after-0", "primary-reset", "secondary-minute",
        "secondary-not-repeatable", "retry-after-too-long", "500", "503-twice", "504-thrice",
        "backoff-capped", "dropped-connection", "500-not-repeatable",
        "dropped-not-repeatable", "400", "401", "403-permission", "404", "422", "other-error",
    ],
)  # fmt: skip
def test_retry_wait(
    error: Exception, repeatable: bool, attempts: int, expected: float | None
) -> None:
    assert (
        retry_wait(error, attempts=attempts, repeatable=repeatable, max_wait=60.0, now=START)
        == expected
    )


@given(
    status=st.integers(min_value=400, max_value=599),
    attempts=st.integers(min_value=1, max_value=50),
    max_wait=st.floats(min_value=0.0, max_value=3600.0),
    retry_after=st.none() | st.integers(min_value=0, max_value=7200),
    repeatable=st.booleans(),
)
def test_a_pause_never_exceeds_max_wait_and_a_repeat_needs_repeatable(
    status: int,
    attempts: int,
    max_wait: float,
    retry_after: int | None,
    repeatable: bool,
) -> None:
    headers = {} if retry_after is None else {"retry_after": str(retry_after)}
    error = refusal(status, **headers)
    pause = retry_wait(
        error, attempts=attempts, repeatable=repeatable, max_wait=max_wait, now=START
    )
    assert pause is None or 0.0 <= pause <= max_wait
    limited = status == 429 or (status == 403 and retry_after is not None)
    if pause is not None and not limited:
        assert status >= 500
        assert repeatable
    if limited and retry_after is not None and retry_after <= max_wait:
        assert pause == retry_after


# The whole call: attempts, budget and the message.


def test_an_answer_after_failures_is_returned() -> None:
    clock = Clock()
    answers = Answers(SERVER_ERROR, requests.ConnectionError("reset"), clock=clock)
    assert call(clock, answers) == ANSWER
    assert answers.attempts == 3


def test_retry_after_is_honoured_within_the_budget() -> None:
    clock = Clock()
    answers = Answers(refusal(403, "limited", retry_after="30"), clock=clock)
    assert call(clock, answers, budget=31) == ANSWER
    assert answers.attempts == 2


def test_a_retry_after_past_the_budget_is_not_waited_for() -> None:
    clock = Clock()
    answers = Answers(refusal(403, "limited", retry_after="30"), clock=clock, takes=2)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, budget=31)
    assert answers.attempts == 1
    assert raised.value.message == (
        "GitHub: could not read pull request #7: rate limited for 30 s; "
        "the next scheduled run will try again"
    )


def test_a_secondary_rate_limit_is_waited_out_even_when_not_repeatable() -> None:
    clock = Clock()
    answers = Answers(SECONDARY, clock=clock)
    assert call(clock, answers, retry=False) == ANSWER
    assert answers.attempts == 2


def test_a_secondary_rate_limit_every_time_says_so() -> None:
    clock = Clock()
    answers = Answers(SECONDARY, SECONDARY, SECONDARY, SECONDARY, clock=clock)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, budget=1000)
    assert answers.attempts == 3
    assert raised.value.message == (
        "GitHub: could not read pull request #7: rate limited; "
        "the next scheduled run will try again"
    )


def test_a_primary_rate_limit_for_an_hour_is_not_waited_for() -> None:
    clock = Clock()
    reset = int(START.timestamp()) + 3600
    answers = Answers(
        refusal(403, "API rate limit exceeded", x_ratelimit_remaining="0",
                x_ratelimit_reset=str(reset)),
        clock=clock,
    )  # fmt: skip
    with pytest.raises(GitHubError) as raised:
        call(clock, answers)
    assert answers.attempts == 1
    assert raised.value.message == (
        "GitHub: could not read pull request #7: rate limited until 2026-11-29T13:00:00+00:00; "
        "the next scheduled run will try again"
    )


def test_5xx_is_retried_up_to_the_attempts() -> None:
    clock = Clock()
    answers = Answers(*[SERVER_ERROR] * 5, clock=clock)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, attempts=4)
    assert answers.attempts == 4
    assert raised.value.message == 'GitHub: could not read pull request #7: 502 "Server Error"'


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Bad credentials", "401 \"Bad credentials\"; the token is missing, expired or "
         "wrong (set GITHUB_TOKEN)"),
        (404, "Not Found", "404 \"Not Found\"; check GITHUB_REPOSITORY and that the token can "
         "see the repository"),
        (422, "Validation Failed", "422 GitHub says \"Validation Failed\""),
        (403, "Resource not accessible by integration", "403 \"Resource not accessible by "
         "integration\"; the token lacks a permission (contents: write and pull-requests: "
         "write)"),
    ],
    ids=["401", "404", "422", "403"],
)  # fmt: skip
def test_4xx_is_not_retried(status: int, message: str, expected: str) -> None:
    clock = Clock()
    answers = Answers(refusal(status, message), clock=clock)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers)
    assert answers.attempts == 1
    assert raised.value.message == f"GitHub: could not read pull request #7: {expected}"


def test_5xx_of_an_operation_not_safe_to_repeat_is_not_retried() -> None:
    clock = Clock()
    answers = Answers(SERVER_ERROR, clock=clock)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, retry=False)
    assert answers.attempts == 1
    assert raised.value.message == (
        'GitHub: could not read pull request #7: 502 "Server Error"; not retried, since a '
        "second try could do it twice: check the pull request on GitHub, then run rampbot again"
    )


def test_a_dropped_connection_every_time_names_the_attempts() -> None:
    clock = Clock()
    answers = Answers(*[requests.ConnectionError("reset")] * 3, clock=clock)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers)
    assert answers.attempts == 3
    assert raised.value.message == (
        "GitHub: could not read pull request #7: ConnectionError after 3 attempts; "
        "check GITHUB_API_URL and the network"
    )


def test_a_spent_budget_stops_the_retries_with_a_clear_error() -> None:
    clock = Clock()
    # Each attempt takes 25 s of a 60 s budget: the third would start past it.
    answers = Answers(*[SERVER_ERROR] * 5, clock=clock, takes=25)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, attempts=10, budget=60)
    assert answers.attempts == 3
    assert raised.value.message == (
        'GitHub: could not read pull request #7: 502 "Server Error"; gave up after 3 '
        "attempts, as the next would end past the 60s budget; the next scheduled run will "
        "try again"
    )


def test_a_spent_budget_on_dropped_connections_names_the_attempts() -> None:
    clock = Clock()
    answers = Answers(*[requests.ConnectionError("reset")] * 5, clock=clock, takes=40)
    with pytest.raises(GitHubError) as raised:
        call(clock, answers, attempts=10, budget=60)
    assert answers.attempts == 2
    assert raised.value.message == (
        "GitHub: could not read pull request #7: ConnectionError after 2 attempts; "
        "check GITHUB_API_URL and the network"
    )


# GitHub's mergeable_state, read again while GitHub still computes it (against the HTTP double).


@pytest.mark.parametrize(
    ("unknown_reads", "expected", "reads"), [(2, "blocked", 3), (5, "unknown", 3)]
)
def test_mergeable_state_is_read_again_while_github_computes_it(
    github_double: GitHubDouble,
    github_clone: Path,
    unknown_reads: int,
    expected: str,
    reads: int,
) -> None:
    push_branch(github_clone, "rampbot/rollback", ramp_files(github_clone), "Roll acme back")
    github = GitHubRepository(
        token=github_double.token, repository=github_double.full_name, api_url=github_double.url
    )
    pull = github.open_pull_request(
        head="rampbot/rollback", base="main", title="Roll back", body="", labels=()
    )
    path = f"/repos/acme/flags/pulls/{pull.number}"
    github_double.fail_next(
        "GET", path, 200, times=unknown_reads, body={"mergeable_state": "unknown"}
    )
    github_double.reset_log()
    assert github.mergeable_state(pull.number) == expected
    assert github_double.count("GET", path) == reads
