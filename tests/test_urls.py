"""URLs fit to print: credentials, queries and fragments left out, even from broken URLs."""

from __future__ import annotations

import pytest

from bot.urls import shown_url, without_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://h:6379/0"),
        (
            "http://user:pw@Prom.example:9090/prometheus?x=1#y",
            "http://Prom.example:9090/prometheus",
        ),
        ("http://h:abc", "http://h:abc"),
        ("http://u:p@[::1", "http://[::1"),
        ("https://h", "https://h"),
        ("not a url", "not a url"),
    ],
)
def test_shown_url(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_without_credentials_in_a_text() -> None:
    text = "fatal: unable to access 'https://x-access-token:ghs_abc@github.com/a/b.git/': 403"
    assert without_credentials(text) == "fatal: unable to access 'https://github.com/a/b.git/': 403"
