"""`rampbot serve` as a subprocess: webhooks in, the rollback pull request on the GitHub double."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.cli import main
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import BOT_EMAIL, flags_on, open_pulls, pct, run_with, write_health
from tests.serve_helpers import WEBHOOK_TOKEN, Serve, alert, serving, webhook

ROLLBACK = "refs/heads/rampbot/rollback"


@pytest.fixture
def server(github_env: dict[str, str], github_clone: Path, tmp_path: Path) -> Iterator[Serve]:
    with serving(github_env, github_clone, tmp_path) as running:
        yield running


def test_a_firing_alert_opens_the_rollback_pull_request(
    server: Serve, github_double: GitHubDouble, github_origin: BareRepo
) -> None:
    answer = server.post(webhook(alert("acme")))
    assert answer.status_code == 202, answer.text
    server.wait_idle(1)
    [pull] = open_pulls(github_double)
    assert pull.head == "rampbot/rollback"
    assert set(pull.labels) == {"rampbot", "rollback", "flags"}
    head = github_origin.resolve(ROLLBACK)
    assert head is not None
    flags = flags_on(github_origin, head)
    assert pct(flags, "acme") == 5  # 10 -> 5, one step down the schedule
    assert flags["features"]["receipts"]["tenants"]["acme"]["hold"] == (
        "rolled back from 10% (alert ShadowDivergence)"
    )
    assert flags["features"]["attest"]["tenants"]["acme"]["pct"] == 1
    assert pct(flags, "globex") == 5  # not alerted: untouched
    assert github_double.statuses(head) == {"rampbot": "success"}
    [record] = server.events("alert")
    assert record["fingerprint"] == "ShadowDivergence-acme-critical"
    assert record["outcome"] == "rollback"
    assert record["pull_request"] == pull.number
    assert server.metric("rampbot_rollbacks_total", result="opened") == 1
    assert server.metric("rampbot_webhooks_total", outcome="accepted") == 1
    assert server.metric("rampbot_alert_to_pull_request_seconds_count") == 1


def _log_text(server: Serve) -> str:
    return server.log_path.read_text(errors="replace")


@pytest.mark.parametrize(
    ("token", "why"),
    [(None, "missing"), ("wrong-token", "wrong"), (WEBHOOK_TOKEN + "x", "longer")],
)
def test_a_webhook_without_the_right_token_is_refused(
    server: Serve, github_double: GitHubDouble, token: str | None, why: str
) -> None:
    answer = server.post(webhook(alert("acme")), token=token)
    assert answer.status_code == 401, why
    assert answer.json() == {"error": "missing or wrong bearer token"}
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert server.metric("rampbot_webhooks_total", outcome="unauthorized") == 1
    assert github_double.count() == 0
    assert WEBHOOK_TOKEN not in _log_text(server)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"{not json",
            "webhook body:1:2: invalid JSON: Expecting property name enclosed in double quotes",
        ),
        (b"\xff\xfe", "webhook body: not UTF-8 (byte 0)"),
        (
            json.dumps({"version": "3", "status": "firing", "alerts": []}).encode(),
            "webhook body: version: '4' was expected",
        ),
        (
            json.dumps(
                {
                    **webhook(),
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {},
                            "startsAt": "2026-11-29T10:00:00Z",
                            "fingerprint": "x",
                        }
                    ],
                }
            ).encode(),
            "webhook body: alerts[0].labels: 'alertname' is a required property",
        ),
        (
            json.dumps(
                {**webhook(), "alerts": [{**alert("acme"), "startsAt": "yesterday"}]}
            ).encode(),
            "webhook body: alerts[0].startsAt: 'yesterday' is not a 'date-time'",
        ),
        (
            json.dumps({**webhook(), "alerts": [{**alert("acme"), "status": "pending"}]}).encode(),
            "webhook body: alerts[0].status: 'pending' is not one of ['firing', 'resolved']",
        ),
    ],
)
def test_a_malformed_body_is_refused_with_the_reason(
    server: Serve, github_double: GitHubDouble, body: bytes, reason: str
) -> None:
    answer = server.post(None, raw=body)
    assert answer.status_code == 400
    assert answer.json() == {"error": reason}
    assert server.metric("rampbot_webhooks_total", outcome="malformed") == 1
    assert github_double.count() == 0


def test_an_oversized_body_is_refused(server: Serve, github_double: GitHubDouble) -> None:
    big = webhook(*[alert(f"t{i}", fingerprint=f"{i:064d}") for i in range(4000)])
    raw = json.dumps(big).encode()
    assert len(raw) > 1024 * 1024
    assert server.post(None, raw=raw).status_code == 413

    # Chunked, with no Content-Length: counted while read.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 65536):
            yield raw[start : start + 65536]

    answer = requests.post(
        f"{server.url}/alertmanager",
        data=chunks(),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 413
    assert answer.json() == {"error": "body larger than 1048576 bytes"}
    assert server.metric("rampbot_webhooks_total", outcome="too_large") == 2
    assert github_double.count() == 0


def test_resolved_and_other_alerts_change_nothing(
    server: Serve, github_double: GitHubDouble, github_origin: BareRepo
) -> None:
    body = webhook(
        alert("acme", status="resolved"),
        alert("globex", severity="warning"),
        alert(None),  # fleet-wide: the demo policy does not opt in
        alert("nobody"),  # not one of the policy's tenants
        alert("umbrella", name="Diverging"),  # paused for attest, and 0% of receipts
    )
    assert server.post(body).status_code == 202
    server.wait_idle(5)
    outcomes = {
        (record["tenant"], record["outcome"], record["reason"]) for record in server.events("alert")
    }
    assert outcomes == {
        ("acme", "resolved", "resolved: changes nothing; the schedule ramps again"),
        (
            "globex",
            "ignored",
            "severity 'warning' is not one of alerts.rollback_severities (critical)",
        ),
        (
            None,
            "ignored",
            "no 'tenant' label: a fleet-wide alert rolls back only with "
            "serve.fleet_wide_alerts: true in the policy",
        ),
        ("nobody", "held", "unknown tenant 'nobody': not in the policy's tenants"),
        (
            "umbrella",
            "held",
            "alert Diverging (critical) firing; already at the minimum, 0%; "
            "tenant umbrella is paused for attest",
        ),
    }
    assert github_origin.resolve(ROLLBACK) is None
    assert open_pulls(github_double) == []
    assert server.metric("rampbot_alerts_total", outcome="held") == 2


def test_repeats_change_nothing_and_new_tenants_join_the_open_pull_request(
    server: Serve, github_double: GitHubDouble, github_origin: BareRepo
) -> None:
    assert server.post(webhook(alert("acme"))).status_code == 202
    server.wait_idle(1)
    head = github_origin.resolve(ROLLBACK)
    github_double.reset_log()
    # Alertmanager's repeat_interval sends the same alert again: no push, no edit.
    assert server.post(webhook(alert("acme"))).status_code == 202
    server.wait_idle(2)
    assert github_origin.resolve(ROLLBACK) == head
    assert [line for line in github_double.requests() if not line.startswith("GET")] == []
    # Another tenant: the same pull request now rolls back both.
    assert server.post(webhook(alert("initech"))).status_code == 202
    server.wait_idle(3)
    [pull] = open_pulls(github_double)
    flags = flags_on(github_origin, "rampbot/rollback")
    assert (pct(flags, "acme"), pct(flags, "initech")) == (5, 10)
    assert "acme" in pull.title
    assert "initech" in pull.title
    assert server.metric("rampbot_rollbacks_total", result="updated") == 1
    assert server.metric("rampbot_pushes_total") == 2
    # Once merged, the tenant holds: the alert repeating leaves it where it is.
    github_double.required_contexts = ()
    github_double.merge(pull.number)
    main = github_origin.resolve("refs/heads/main")
    assert server.post(webhook(alert("acme"))).status_code == 202
    server.wait_idle(4)
    last = server.events("alert")[-1]
    assert last["outcome"] == "held"
    assert last["reason"].startswith(
        "held after a rollback (rolled back from 10% (alert ShadowDivergence))"
    )
    assert github_origin.resolve("refs/heads/main") == main
    assert open_pulls(github_double) == []


def test_a_burst_gives_one_pull_request_and_few_pushes(
    server: Serve, github_double: GitHubDouble, github_origin: BareRepo
) -> None:
    tenants = [f"t{i:02d}" for i in range(20)]
    text = github_origin.show_file("main", "flags.json")
    assert text is not None
    flags = json.loads(text)
    flags["features"]["receipts"]["tenants"] = {t: {"pct": 50} for t in tenants}
    github_double.repo.commit_files(
        "main",
        {
            "flags.json": json.dumps(flags, indent=2) + "\n",
            ".github/rampbot.yml": _policy_for(github_origin, tenants),
        },
        message="20 tenants",
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(lambda i: server.post(webhook(alert(tenants[i % 20]))).status_code, range(100))
        )
    assert answers == [202] * 100
    server.wait_idle(100, seconds=60)
    assert len(open_pulls(github_double)) == 1
    final = flags_on(github_origin, "rampbot/rollback")
    assert {t: pct(final, t) for t in tenants} == dict.fromkeys(tenants, 25)
    assert server.metric("rampbot_pushes_total") <= 3
    assert server.metric("rampbot_rollbacks_total", result="opened") == 1
    assert github_double.count("POST", "/repos/acme/flags/pulls") == 1


def _policy_for(origin: BareRepo, tenants: list[str]) -> str:
    policy = origin.show_file("main", ".github/rampbot.yml")
    assert policy is not None
    return policy.replace(
        "tenants: [acme, globex, initech, umbrella]", f"tenants: [{', '.join(tenants)}]"
    )


def _clone(origin: BareRepo, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", origin.url, str(where)], check=True, capture_output=True)
    return where


def test_github_failures_are_retried_with_backoff_and_counted(
    server: Serve, github_double: GitHubDouble, github_origin: BareRepo
) -> None:
    # Three 500s outlast the adapter's own two quick retries; the worker tries the batch again.
    github_double.fail_next("POST", "/repos/acme/flags/pulls", status=500, times=3)
    assert server.post(webhook(alert("acme"))).status_code == 202
    server.wait_idle(1)
    [error] = server.events("error")
    assert error["kind"] == "github"
    assert error["message"].startswith(
        "GitHub: could not open a pull request from rampbot/rollback into main: 500"
    )
    assert error["retry_in"] == 1.0
    assert error["fingerprints"] == ["ShadowDivergence-acme-critical"]
    assert server.metric("rampbot_errors_total", kind="github") == 1
    # The retry found the branch already pushed and opened the pull request.
    [pull] = open_pulls(github_double)
    assert server.metric("rampbot_pushes_total") == 1
    assert server.events("alert")[0]["pull_request"] == pull.number
    # A 403 (a missing permission) is retried the same way.
    github_double.deny("POST", "/repos/acme/flags/pulls/*/requested_reviewers", times=1)
    github_double.deny("PATCH", "/repos/acme/flags/pulls/*", times=1)
    assert server.post(webhook(alert("initech"))).status_code == 202
    server.wait_idle(2)
    assert server.metric("rampbot_errors_total", kind="github") == 2
    assert "403" in server.events("error")[-1]["message"]
    flags = flags_on(github_origin, "rampbot/rollback")
    assert (pct(flags, "acme"), pct(flags, "initech")) == (5, 10)
    assert "initech" in github_double.pull(pull.number).title
    assert WEBHOOK_TOKEN not in _log_text(server)
    assert github_double.token not in _log_text(server)


def test_serve_refuses_to_start_without_a_token(
    github_env: dict[str, str], github_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--repo", str(github_clone)], environ=github_env)
    assert code == 1
    assert capsys.readouterr().err == (
        "RAMPBOT_WEBHOOK_TOKEN is not set: rampbot serve refuses webhooks without a bearer "
        "token; set it to a long random secret and give Alertmanager the same one "
        "(http_config.authorization.credentials_file)\n"
    )
    env = {**github_env, "RAMPBOT_WEBHOOK_TOKEN": "s3cret"}
    assert main(["serve", "--repo", str(github_clone), "--listen", "localhost"], environ=env) == 1
    assert capsys.readouterr().err == (
        "--listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:9095, 0.0.0.0:9095)\n"
    )


def test_a_concurrent_run_loses_nothing(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
) -> None:
    # Prometheus' ALERTS, as the scheduled run reads them, shows both alerts firing; the
    # webhook names acme only. Whoever pushes second must keep what the first pushed.
    health = write_health(tmp_path / "health.json")
    snapshot = json.loads(health.read_text())
    snapshot["alerts"] = [
        {"alertname": "ShadowDivergence", "severity": "critical", "tenant": tenant}
        for tenant in ("acme", "globex")
    ]
    health.write_text(json.dumps(snapshot))
    serve_clone = _clone(github_origin, tmp_path / "serve-clone")
    with serving(github_env, serve_clone, tmp_path) as server:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            posted = pool.submit(server.post, webhook(alert("acme")))
            ran = pool.submit(run_with, github_env, health)
            assert posted.result().status_code == 202
            assert ran.result()[0] == 0
        server.wait_idle(1)
        # And the other order, with a new tenant: serve after run, run after serve.
        assert server.post(webhook(alert("initech"))).status_code == 202
        server.wait_idle(2)
    flags = flags_on(github_origin, "rampbot/rollback")
    assert (pct(flags, "acme"), pct(flags, "globex"), pct(flags, "initech")) == (5, 1, 10)
    rollbacks = [p for p in open_pulls(github_double) if p.head == "rampbot/rollback"]
    assert len(rollbacks) == 1


def test_two_servers_on_one_origin_give_one_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
) -> None:
    first_clone = _clone(github_origin, tmp_path / "one")
    second_clone = _clone(github_origin, tmp_path / "two")
    tenants = ("acme", "globex", "initech")
    with (
        serving(github_env, first_clone, tmp_path, name="one") as one,
        serving(github_env, second_clone, tmp_path, name="two") as two,
    ):
        # Behind one address: each webhook reaches one replica or the other.
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(
                pool.map(
                    lambda i: (one, two)[i % 2].post(webhook(alert(tenants[i % 3]))).status_code,
                    range(12),
                )
            )
        assert answers == [202] * 12
        one.wait_idle(6)
        two.wait_idle(6)
    [pull] = open_pulls(github_double)
    assert pull.head == "rampbot/rollback"
    flags = flags_on(github_origin, "rampbot/rollback")
    assert [pct(flags, tenant) for tenant in tenants] == [5, 1, 10]


def test_a_push_refused_because_the_branch_moved_plans_again_and_keeps_the_other_rollback(
    server: Serve,
    github_double: GitHubDouble,
    github_origin: BareRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another replica's rollback of globex, made by the same bot identity on the same base,
    # lands on the origin at the very moment serve pushes its own (a pre-receive hook moves the
    # branch first, so git refuses serve's push with its lease).
    text = github_origin.show_file("main", "flags.json")
    assert text is not None
    flags = json.loads(text)
    flags["revision"] = 1
    flags["features"]["receipts"]["tenants"]["globex"] = {
        "pct": 1,
        "hold": "rolled back from 5% (alert Other)",
    }
    monkeypatch.setenv("GIT_AUTHOR_NAME", "github-actions[bot]")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", BOT_EMAIL)
    theirs = github_origin.commit_files(
        "refs/prepared/other", {"flags.json": json.dumps(flags, indent=2) + "\n"}, message="x"
    )
    hook = github_origin.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        'if [ ! -e "$GIT_DIR/raced" ]; then\n'
        '  touch "$GIT_DIR/raced"\n'
        f"  env -u GIT_QUARANTINE_PATH git update-ref refs/heads/rampbot/rollback {theirs}\n"
        "fi\n"
    )
    hook.chmod(0o755)
    assert server.post(webhook(alert("acme"))).status_code == 202
    server.wait_idle(1)
    [rejected] = server.events("push_rejected")
    assert rejected["attempt"] == 1
    final = flags_on(github_origin, "rampbot/rollback")
    assert (pct(final, "acme"), pct(final, "globex")) == (5, 1)
    assert final["features"]["receipts"]["tenants"]["globex"]["hold"] == (
        "rolled back from 5% (alert Other)"
    )
    [pull] = open_pulls(github_double)
    assert "globex" in pull.title
    assert server.metric("rampbot_pushes_total") == 1
