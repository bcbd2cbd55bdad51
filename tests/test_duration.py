"""bot/duration.py with plain values: Prometheus' duration form, read and written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0),
        ("90s", 90),
        ("30m", 1800),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("5m5m", 600),  # Prometheus adds repeated units; so does rampbot
        ("007m", 420),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "30", "m", "1.5h", "30M", "1h 30m", " 30m", "-5m", "30mx", "x30m", "1y", "30ms"]
)
def test_parse_duration_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration") as raised:
        parse_duration(text)
    assert str(raised.value) == f"{text!r} is not a duration such as 90s, 30m, 1h30m or 2d"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (90, "1m30s"),
        (1800, "30m"),
        (5400, "1h30m"),
        (86400, "1d"),
        (691200, "1w1d"),
        (694861, "1w1d1h1m1s"),
        (30.9, "30s"),  # Prometheus takes whole seconds: the fraction is dropped
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_gives_the_same_duration(seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    text = format_duration(duration)
    assert parse_duration(text) == duration
    # Each unit once, largest first: the form Prometheus itself prints.
    units = [character for character in text if character.isalpha()]
    assert units == sorted(set(units), key="wdhms".index)
