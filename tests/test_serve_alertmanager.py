"""The whole path with real parts: a Prometheus alerting rule fires, Debian's Alertmanager routes
it with the shipped example configuration to `rampbot serve` (a subprocess), which opens the
rollback pull request on the GitHub double, pushing to a bare origin."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.alertmanager import AMTOOL, start_alertmanager
from tests.fixtures.prometheus import start_prometheus
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import flags_on, open_pulls, pct
from tests.serve_helpers import WEBHOOK_TOKEN, Serve, serving

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "serve" / "alertmanager.yml"
RULES = {
    "groups": [
        {
            "name": "rampbot-e2e",
            "interval": "1s",
            "rules": [
                {
                    "alert": "ShadowDivergence",
                    "expr": "vector(1)",
                    "labels": {"severity": "critical", "tenant": "acme"},
                    "annotations": {"summary": "shadow reads diverge for acme"},
                },
                # Not a rollback severity: routed to the default receiver, never to rampbot.
                {
                    "alert": "SlowAnchors",
                    "expr": "vector(1)",
                    "labels": {"severity": "warning", "tenant": "globex"},
                },
            ],
        }
    ]
}


def example_config(*, url: str, token_file: Path) -> str:
    """The shipped example, pointed at this test's server and token file."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:9095/alertmanager", f"{url}/alertmanager")
    return text.replace("/etc/rampbot/webhook-token", str(token_file))


@contextlib.contextmanager
def alerting(tmp_path: Path, *, server: Serve, token: str) -> Iterator[None]:
    """Prometheus firing RULES into Debian's Alertmanager, which posts to ``server`` with
    ``token``, as the shipped example configures it; both stopped on the way out."""
    token_file = tmp_path / "webhook-token"
    token_file.write_text(token)
    alertmanager = start_alertmanager(
        tmp_path / "alertmanager", config=example_config(url=server.url, token_file=token_file)
    )
    try:
        prometheus = start_prometheus(
            tmp_path / "prometheus",
            rules=RULES,
            alertmanager=alertmanager.url.removeprefix("http://"),
            wait_for_alerts=False,
        )
        try:
            yield
        finally:
            prometheus.stop()
    finally:
        alertmanager.stop()


def test_the_example_configuration_is_valid() -> None:
    checked = subprocess.run(
        [AMTOOL, "check-config", str(EXAMPLE)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Found:\n - global config\n - route\n" in checked.stdout


def test_an_alert_rule_firing_opens_the_rollback_pull_request(
    github_env: dict[str, str],
    github_clone: Path,
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
) -> None:
    with serving(github_env, github_clone, tmp_path) as server:
        with alerting(tmp_path, server=server, token=WEBHOOK_TOKEN):
            server.wait_for(
                "the rollback pull request", lambda: bool(open_pulls(github_double)), seconds=45
            )
            # Let a further evaluation and group_interval pass: nothing new may happen.
            time.sleep(1)
        [pull] = open_pulls(github_double)
        assert pull.head == "rampbot/rollback"
        flags = flags_on(github_origin, "rampbot/rollback")
        assert pct(flags, "acme") == 5
        assert pct(flags, "globex") == 5  # its alert is a warning: not routed to rampbot
        assert "shadow reads diverge for acme" in (pull.body or "")
        [record] = [r for r in server.events("alert") if r["outcome"] == "rollback"]
        assert record["tenant"] == "acme"
        assert len(record["fingerprint"]) == 16  # Alertmanager's own fingerprint
        assert server.metric("rampbot_webhooks_total", outcome="accepted") >= 1
        assert server.metric("rampbot_webhooks_total", outcome="unauthorized") == 0
        assert server.metric("rampbot_alert_to_pull_request_seconds_count") == 1
        assert server.metric("rampbot_alert_to_pull_request_seconds_bucket", le="60.0") == 1


@pytest.mark.parametrize("token", ["not-the-token"])
def test_alertmanager_with_the_wrong_token_opens_nothing(
    github_env: dict[str, str],
    github_clone: Path,
    github_double: GitHubDouble,
    tmp_path: Path,
    token: str,
) -> None:
    with serving(github_env, github_clone, tmp_path) as server:
        with alerting(tmp_path, server=server, token=token):
            server.wait_for(
                "a refused webhook",
                lambda: server.metric("rampbot_webhooks_total", outcome="unauthorized") >= 1,
                seconds=45,
            )
        assert server.metric("rampbot_webhooks_total", outcome="accepted") == 0
        assert token not in server.log_path.read_text()
    assert github_double.count() == 0
