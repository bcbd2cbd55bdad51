"""Notifications: a Slack-style webhook post when a rollback opens or the stop switch flips."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.dashboard import POLICY_SWITCH, Notified, announcements
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import later, run_with, write_health


class Receiver:
    """A local incoming webhook that records what it is sent, answering ``status``."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_each_rollback_and_each_flip_is_announced_once_and_steps_never():
    texts, after = announcements(Notified(), rollbacks=[], stopped=False)
    assert (texts, after) == ([], Notified())
    texts, after = announcements(Notified(), rollbacks=[7], stopped=False)
    assert texts == ["rampbot opened rollback pull request #7: a tenant is being rolled back"]
    assert announcements(after, rollbacks=[7], stopped=False)[0] == []
    texts, after = announcements(after, rollbacks=[7], stopped=True)
    assert texts == [
        "rampbot: every step up is stopped (the ramp dashboard's Stop box); rollbacks go on"
    ]
    texts, after = announcements(after, rollbacks=[], stopped=False)
    assert texts == [
        "rampbot: step ups resume: no stop switch is on (paused in the policy, the ramp "
        "dashboard's Stop box)"
    ]
    assert after == Notified(rollbacks=(7,), stopped=False)
    texts, _ = announcements(after, rollbacks=[], stopped=True, switch=POLICY_SWITCH)
    assert texts == [
        "rampbot: every step up is stopped (paused: true in the policy); rollbacks go on"
    ]


def test_a_rollback_is_posted_once_across_runs_and_a_routine_step_never(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    receiver: Receiver,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {**github_env, "RAMPBOT_NOTIFY_WEBHOOK_URL": receiver.url}
    health = write_health(tmp_path / "health.json")
    assert run_with(env, health)[0] == 0
    assert receiver.posts == []  # steps up: routine, never announced
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    code, out = run_with(env, red, now=later(hours=1, minutes=5), capsys=capsys)
    assert code == 0, out
    rollback = next(p for p in github_double.pulls("open") if p.head == "rampbot/rollback")
    assert receiver.posts == [
        {
            "text": f"rampbot opened rollback pull request #{rollback.number}: a tenant is "
            "being rolled back"
        }
    ]
    assert receiver.url not in out  # the URL is a secret
    assert run_with(env, red, now=later(hours=1, minutes=10))[0] == 0
    assert len(receiver.posts) == 1


def test_a_failing_webhook_is_a_warning_and_is_tried_again(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    receiver: Receiver,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receiver.status = 500
    summary = tmp_path / "summary.md"
    env = {
        **github_env,
        "RAMPBOT_NOTIFY_WEBHOOK_URL": receiver.url,
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    code, out = run_with(env, red, capsys=capsys)
    assert code == 0, out
    warning = (
        "notification not sent: the webhook answered HTTP 500; check RAMPBOT_NOTIFY_WEBHOOK_URL"
    )
    assert f"warning: {warning}" in out
    assert "- warning: notification not sent: the webhook answered HTTP 500" in summary.read_text()
    assert len(receiver.posts) == 1
    receiver.status = 200
    assert run_with(env, red, now=later(hours=1, minutes=10))[0] == 0
    assert len(receiver.posts) == 2
    assert run_with(env, red, now=later(hours=1, minutes=20))[0] == 0
    assert len(receiver.posts) == 2


def test_the_stop_switch_flipping_is_posted(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    env = {**github_env, "RAMPBOT_NOTIFY_WEBHOOK_URL": receiver.url}
    health = write_health(tmp_path / "health.json")
    assert run_with(env, health)[0] == 0
    [issue] = github_double.issues()
    assert issue.body is not None
    github_double.edit_issue(
        issue.number, body=issue.body.replace("- [ ] Stop all step-ups", "- [x] Stop all step-ups")
    )
    assert run_with(env, health, now=later(hours=1, minutes=5))[0] == 0
    assert receiver.posts == [
        {
            "text": "rampbot: every step up is stopped (the ramp dashboard's Stop box); rollbacks go on"
        }
    ]
    assert run_with(env, health, now=later(hours=1, minutes=10))[0] == 0
    assert len(receiver.posts) == 1


def test_paused_true_in_the_policy_is_a_stop_switch_posted_once(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    env = {**github_env, "RAMPBOT_NOTIFY_WEBHOOK_URL": receiver.url}
    health = write_health(tmp_path / "health.json")
    assert run_with(env, health)[0] == 0  # opens the dashboard, which remembers what was posted
    policy = github_origin.show_file("refs/heads/main", ".github/rampbot.yml") or ""
    github_origin.commit_files(
        "main", {".github/rampbot.yml": "paused: true\n" + policy}, message="stop the ramp"
    )
    assert run_with(env, health, now=later(hours=1, minutes=5))[0] == 0
    assert receiver.posts == [
        {"text": "rampbot: every step up is stopped (paused: true in the policy); rollbacks go on"}
    ]
    assert run_with(env, health, now=later(hours=1, minutes=10))[0] == 0
    assert len(receiver.posts) == 1
    github_origin.commit_files("main", {".github/rampbot.yml": policy}, message="go on")
    assert run_with(env, health, now=later(hours=1, minutes=15))[0] == 0
    assert receiver.posts[1:] == [
        {
            "text": "rampbot: step ups resume: no stop switch is on (paused in the policy, the "
            "ramp dashboard's Stop box)"
        }
    ]
