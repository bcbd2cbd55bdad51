"""The Prometheus read's time budget with plain values: however the server fails, the requests
and the pauses between them fit in ``timeout x (retries + 1)``, as the README promises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.prometheus import attempt_timeouts, backoff_wait


def worst_case(timeout: float, retries: int, *, connect_delay: bool) -> tuple[float, int]:
    """The time a read takes when every request uses all it is given (a silent server, or one
    that accepts the connection at the last moment and then says nothing), and its requests."""
    budget = timeout * (retries + 1)
    spent = 0.0
    attempts = 0
    for _ in range(retries + 1):
        timeouts = attempt_timeouts(timeout=timeout, remaining=budget - spent)
        if timeouts is None:
            break
        connect, read = timeouts
        spent += (connect if connect_delay else 0.0) + read
        attempts += 1
        if attempts == retries + 1:
            break
        spent += backoff_wait(attempts, remaining=budget - spent)
    return spent, attempts


@given(
    timeout=st.floats(min_value=0.01, max_value=600),
    retries=st.integers(min_value=0, max_value=10),
    connect_delay=st.booleans(),
)
def test_a_failing_read_never_outlasts_its_budget(
    timeout: float, retries: int, connect_delay: bool
) -> None:
    spent, attempts = worst_case(timeout, retries, connect_delay=connect_delay)
    assert spent <= timeout * (retries + 1) * (1 + 1e-9)
    assert 1 <= attempts <= retries + 1


def test_the_defaults_a_silent_server_meets() -> None:
    # 10 s per request, 2 retries: 30 s at most, the pauses of 0.5 s and 1 s included.
    spent, attempts = worst_case(10.0, 2, connect_delay=False)
    assert (round(spent, 6), attempts) == (27.875, 3)
    # A server that is slow to connect as well as silent uses the whole budget, no more.
    spent, attempts = worst_case(10.0, 2, connect_delay=True)
    assert (round(spent, 6), attempts) == (30.0, 2)


def test_the_answer_gets_the_whole_timeout_while_the_budget_allows() -> None:
    assert attempt_timeouts(timeout=10.0, remaining=30.0) == (10.0, 10.0)
    assert attempt_timeouts(timeout=10.0, remaining=15.0) == (5.0, 10.0)
    # Near the deadline: what is left, a quarter of it to connect.
    assert attempt_timeouts(timeout=10.0, remaining=8.5) == (2.125, 6.375)
    assert attempt_timeouts(timeout=4.0, remaining=0.0) is None
    assert attempt_timeouts(timeout=4.0, remaining=-1.0) is None


def test_a_pause_grows_with_the_attempts_and_never_passes_the_deadline() -> None:
    assert [backoff_wait(n, remaining=60.0) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert backoff_wait(3, remaining=0.2) == 0.2
    assert backoff_wait(1, remaining=-3.0) == 0.0
