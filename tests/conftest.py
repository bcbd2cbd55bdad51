"""Shared fixtures. Fixtures that start servers live in tests/fixtures/, one module each."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Tests must not write .hypothesis/ into the working copy: no example database, and
# hypothesis' caches (unicode data, constants) go to the temporary directory.
settings.register_profile("rampbot", database=None)
settings.load_profile("rampbot")
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "rampbot-hypothesis")

pytest_plugins: list[str] = [
    "tests.fixtures.redis",
    "tests.fixtures.pushgateway",
    "tests.fixtures.prometheus",
    "tests.fixtures.github",
]


@pytest.fixture(autouse=True)
def _git_identity(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Git gets its identity from the test environment, never from $HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.com")
