"""GitHub App authentication for `rampbot run` and `rampbot serve`, against the GitHub double:
a JWT for the installation and its tokens, tokens renewed before they expire."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.github_double import GitHubDouble
from tests.github_double.app import App
from tests.run_helpers import open_pulls, rampbot, run_with, write_health
from tests.serve_helpers import alert, serving, webhook


def app_env(github_env: dict[str, str], app: App, tmp_path: Path) -> dict[str, str]:
    """The job's variables with the App's id and key file instead of GITHUB_TOKEN."""
    key = tmp_path / "app.pem"
    key.write_text(app.private_key_pem)
    env = {k: v for k, v in github_env.items() if k != "GITHUB_TOKEN"}
    return env | {"RAMPBOT_APP_ID": str(app.app_id), "RAMPBOT_APP_PRIVATE_KEY_FILE": str(key)}


@pytest.fixture
def github_double_options() -> dict[str, Any]:
    return {"app": App.generate(lifetime=3600)}


def test_run_opens_the_pull_request_as_the_app(
    github_env: dict[str, str], github_double: GitHubDouble, tmp_path: Path
) -> None:
    app = github_double.api.app
    assert app is not None
    env = app_env(github_env, app, tmp_path)
    code, out = run_with(env, write_health(tmp_path / "health.json"))
    assert code == 0, out
    assert len(open_pulls(github_double)) == 1
    assert app.jwts_seen == 2  # the installation, then its token
    assert len(app.issued) == 1
    assert github_double.count("GET", "/repos/acme/flags/installation") == 1
    assert github_double.count("POST", "/app/installations/77/access_tokens") == 1


def test_the_key_may_come_inline(
    github_env: dict[str, str], github_double: GitHubDouble, tmp_path: Path
) -> None:
    app = github_double.api.app
    assert app is not None
    env = {k: v for k, v in app_env(github_env, app, tmp_path).items() if "FILE" not in k}
    env["RAMPBOT_APP_PRIVATE_KEY"] = app.private_key_pem
    assert run_with(env, write_health(tmp_path / "health.json"))[0] == 0
    assert len(open_pulls(github_double)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"RAMPBOT_APP_PRIVATE_KEY_FILE": None, "RAMPBOT_APP_PRIVATE_KEY": "not a key"},
            "RAMPBOT_APP_PRIVATE_KEY: not a PEM private key of a GitHub App; download one from "
            "the app's settings (Private keys) and pass it whole, BEGIN and END lines included",
        ),
        (
            {"RAMPBOT_APP_ID": "rampbot"},
            "RAMPBOT_APP_ID: 'rampbot' is not a number; use the app's 'App ID'",
        ),
        (
            {"RAMPBOT_APP_ID": None},
            "RAMPBOT_APP_PRIVATE_KEY is set but RAMPBOT_APP_ID is not: set it to the GitHub "
            "App's id (its settings page, 'App ID')",
        ),
        (
            {"RAMPBOT_APP_ID": "99"},
            "GitHub: could not find the installation of GitHub App 99 on acme/flags (install "
            "the app on the repository): 401 \"'Issuer' claim ('iss') must be an Integer\"; the "
            "token is missing, expired or wrong (set GITHUB_TOKEN)",
        ),
    ],
)
def test_app_problems_are_one_line_and_exit_non_zero(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str | None],
    message: str,
) -> None:
    app = github_double.api.app
    assert app is not None
    env = app_env(github_env, app, tmp_path)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    code, out = rampbot(
        env, "run", "--health", str(write_health(tmp_path / "h.json")), capsys=capsys
    )
    assert code in (1, 3)
    assert out.strip().splitlines()[-1] == message
    assert open_pulls(github_double) == []
    assert "PRIVATE KEY-----" not in out


@pytest.mark.parametrize("github_double_options", [{"app": App.generate(lifetime=24)}])
def test_serve_renews_an_installation_token_that_expires_mid_run(
    github_env: dict[str, str],
    github_clone: Path,
    github_double: GitHubDouble,
    tmp_path: Path,
) -> None:
    app = github_double.api.app
    assert app is not None
    env = app_env(github_env, app, tmp_path)
    with serving(env, github_clone, tmp_path) as server:
        assert server.post(webhook(alert("acme"))).status_code == 202
        server.wait_idle(1)
        first = set(app.issued)
        # PyGithub renews a token 20 s before it expires: wait until then, and make GitHub
        # answer 401 to the old token from now on.
        time.sleep(max(0.0, max(app.issued.values()) - 20 - time.time() + 0.5))
        app.expire_all()
        assert server.post(webhook(alert("initech"))).status_code == 202
        server.wait_idle(2)
        assert server.events("error") == []
        assert server.metric("rampbot_rollbacks_total", result="updated") == 1
        log = server.log_path.read_text()
    assert set(app.issued) - first  # a new token was asked for
    assert all(token not in log for token in app.issued)
    assert "BEGIN RSA PRIVATE KEY" not in log
    [pull] = open_pulls(github_double)
    assert "initech" in pull.title
