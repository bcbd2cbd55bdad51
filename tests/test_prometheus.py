"""Health read from real Prometheus and VictoriaMetrics servers, judged by the decision core.

The servers and their known data are in tests/fixtures/prometheus.py. History ends at
``server.history_end`` (an hour ago); the plan is evaluated there with ``--now``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.decide import decide
from bot.policy import parse_policy
from bot.prometheus import Connection, PrometheusHealth, window_query
from tests.builders import flags as make_flags
from tests.fixtures.prometheus import Recorded, Server, at_history_end, proxy_to
from tests.fixtures.servers import free_port
from tests.prometheus_repo import policy_text, rampbot, write_repo

GREEN = [
    "coverage min 97 over 30m >= 95",
    "anchor_p95_ms max 20 over 30m <= 30",
    "divergence max 0 over 30m <= 0",
]
# What the known history must give at its end, over 30m: (action, to, reasons).
AT_HISTORY_END = {
    "green": ("up", 25, GREEN),
    "old_dip": ("up", 25, GREEN),  # its dip is 45 minutes before the end
    "dip": ("down", 5, ["coverage min 90 over 30m < 95"]),
    "diverge": ("rollback", 5, ["divergence max 3 over 30m > 0 (critical)"]),
    "no_latency": ("hold", 10, ["anchor_p95_ms: no data over 30m"]),
    "only_coverage": (
        "hold",
        10,
        ["anchor_p95_ms: no data over 30m", "divergence: no data over 30m"],
    ),
    "stale": (
        "hold",
        10,
        [
            "coverage: no data over 30m",
            "anchor_p95_ms: no data over 30m",
            "divergence: no data over 30m",
        ],
    ),
    "nan": ("hold", 10, ["coverage: not a finite number over 30m"]),
    "inf": ("hold", 10, ["coverage: not a finite number over 30m"]),
    "thin": ("up", 25, GREEN),  # 3 samples, and this policy asks for no minimum
}


def plan_at(
    repo: Path, server: Server, capsys: pytest.CaptureFixture[str], *args: str
) -> dict[str, Any]:
    now = at_history_end(server).isoformat()
    assert rampbot(repo, "plan", "--format", "json", "--now", now, *args) == 0, (
        capsys.readouterr().err
    )
    plan: dict[str, Any] = json.loads(capsys.readouterr().out)
    return plan


def by_tenant(plan: dict[str, Any]) -> dict[str, tuple[str, int, list[str]]]:
    return {d["tenant"]: (d["action"], d["to"], d["reasons"]) for d in plan["decisions"]}


def test_history_decides_each_tenant_from_its_own_window(tmp_path, prometheus, capsys):
    # Tenants are discovered from the signals' results, plus those the flags file names:
    # "stale" has no data in the window and is only known from flags.json.
    repo = write_repo(tmp_path, prometheus.url, flag_tenants=("stale",))
    plan = plan_at(repo, prometheus, capsys)
    assert by_tenant(plan) == AT_HISTORY_END
    assert plan["evaluated_at"] == at_history_end(prometheus).isoformat()


def test_the_markdown_plan_links_each_signal_to_the_server_that_was_read(
    tmp_path, prometheus, capsys
):
    repo = write_repo(tmp_path, prometheus.url)
    now = at_history_end(prometheus).isoformat()
    assert rampbot(repo, "plan", "--now", now, "--format", "markdown") == 0
    report = capsys.readouterr().out
    assert f"{prometheus.url}/graph?g0.expr=" in report
    end = at_history_end(prometheus).astimezone(UTC).strftime("%Y-%m-%d+%H%%3A%M%%3A%S")
    assert f"g0.end_input={end}" in report


@pytest.mark.parametrize("engine", ["prometheus", "victoria_metrics"])
def test_the_same_decisions_from_victoria_metrics(tmp_path, engine, request, capsys):
    server = request.getfixturevalue(engine)
    tenants = ["green", "old_dip", "dip", "diverge", "no_latency", "only_coverage"]
    repo = write_repo(tmp_path, server.url, tenants=tenants)
    assert by_tenant(plan_at(repo, server, capsys)) == {
        tenant: AT_HISTORY_END[tenant] for tenant in tenants
    }


def test_min_samples_turns_a_thin_window_into_no_data(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, prometheus.url, tenants=["thin", "green"], min_samples=10)
    assert by_tenant(plan_at(repo, prometheus, capsys)) == {
        "thin": ("hold", 10, ["coverage: only 3 samples over 30m"]),
        "green": AT_HISTORY_END["green"],
    }


def test_the_window_includes_both_of_its_ends(prometheus):
    # Prometheus 2.x counts both ends of a range: 31 one-minute steps in 30m.
    policy = parse_policy(
        policy_text(prometheus.url, tenants=["green"], min_samples=1), source="p.yml"
    )
    health = PrometheusHealth(Connection(url=prometheus.url)).read(
        policy, at=at_history_end(prometheus)
    )
    assert health.reading("green", "coverage").samples == 31


def test_a_critical_alert_rolls_back_only_its_tenant(tmp_path, prometheus, capsys):
    # Present time: the rules record constant values and fire two alerts, a critical one for
    # now_alerted and a warning without a tenant label, which concerns every tenant.
    repo = write_repo(tmp_path, prometheus.url, case="now", bake_time="10s", step="1s")
    before = time.time()
    assert rampbot(repo, "plan", "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    green_now = [
        "coverage min 99 over 10s >= 95",
        "anchor_p95_ms max 20 over 10s <= 30",
        "divergence max 0 over 10s <= 0",
    ]
    assert by_tenant(plan) == {
        "now_alerted": ("rollback", 5, ["alert ShadowDivergence (critical) firing"]),
        "now_green": ("up", 25, green_now),
    }
    evaluated_at = datetime.fromisoformat(plan["evaluated_at"]).timestamp()
    assert before - 1 <= evaluated_at <= time.time() + 1


def test_alert_severities_match_whatever_their_case(tmp_path, prometheus, capsys):
    # The fixture's alert says "critical"; a policy that writes CRITICAL means the same.
    repo = write_repo(
        tmp_path,
        prometheus.url,
        case="now",
        bake_time="10s",
        step="1s",
        extra="alerts:\n  rollback_severities: [CRITICAL]\n",
    )
    assert rampbot(repo, "plan", "--format", "json") == 0
    decisions = by_tenant(json.loads(capsys.readouterr().out))
    assert decisions["now_alerted"] == (
        "rollback",
        5,
        ["alert ShadowDivergence (critical) firing"],
    )


def test_alerts_without_a_tenant_label_concern_every_tenant(prometheus):
    policy = parse_policy(
        policy_text(prometheus.url, case="now", bake_time="10s", step="1s"), source="p.yml"
    )
    health = PrometheusHealth(Connection(url=prometheus.url)).read(policy, at=None)
    names = {tenant: {a.name for a in health.alerts_for(tenant)} for tenant in health.readings}
    assert names == {
        "now_alerted": {"ShadowDivergence", "NoisyNeighbour"},
        "now_green": {"NoisyNeighbour"},
    }
    assert health.query_urls["coverage"].startswith(f"{prometheus.url}/graph?g0.expr=avg+by")


def test_an_empty_signal_holds_every_tenant(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, prometheus.url, tenants=["green", "dip"])
    policy = repo / ".github" / "rampbot.yml"
    policy.write_text(policy.read_text().replace("anchor_latency_ms{", "no_such_metric{"))
    assert by_tenant(plan_at(repo, prometheus, capsys)) == {
        "green": ("hold", 10, ["anchor_p95_ms: no data over 30m"]),
        "dip": ("down", 5, ["coverage min 90 over 30m < 95"]),  # a breach still counts
    }


def test_one_query_per_signal_and_one_for_alerts_for_1000_tenants(
    tmp_path, prometheus, fake_server, capsys
):
    proxy = fake_server(proxy_to(prometheus.url))
    repo = write_repo(tmp_path, proxy.url, case="many")
    plan = plan_at(repo, prometheus, capsys)
    assert len(plan["decisions"]) == 1000
    assert {d["action"] for d in plan["decisions"]} == {"up"}
    assert [r.path for r in proxy.requests] == ["/api/v1/query"] * 4
    queries = [r.query["query"][0] for r in proxy.requests]
    policy = parse_policy(policy_text(proxy.url, case="many"), source="p.yml")
    step = policy.prometheus.step
    assert queries[:3] == [
        window_query(signal, window=timedelta(minutes=30), step=step) for signal in policy.signals
    ]
    assert queries[3] == 'ALERTS{alertstate="firing"}'
    assert {r.query["time"][0] for r in proxy.requests} == {f"{prometheus.history_end}.000"}


def test_the_query_computes_the_window_aggregate_and_count_at_once():
    policy = parse_policy(policy_text("http://x", min_samples=10), source="p.yml")
    window = timedelta(minutes=30)
    coverage, latency = policy.signals[:2]
    assert window_query(coverage, window=window, step=policy.prometheus.step) == (
        'label_replace(min_over_time((avg by (tenant) (shadow_coverage_pct{case="history"}))'
        '[30m:1m]), "rampbot_part", "value", "", "") or '
        'label_replace(count_over_time((avg by (tenant) (shadow_coverage_pct{case="history"}))'
        '[30m:1m]), "rampbot_part", "samples", "", "")'
    )
    # Without min_samples, no count: it would evaluate the subquery twice.
    assert window_query(latency, window=window, step=policy.prometheus.step) == (
        'max_over_time((max by (tenant) (anchor_latency_ms{case="history"}))[30m:1m])'
    )


def test_a_stopped_prometheus_fails_the_run_and_writes_nothing(tmp_path, lone_prometheus, capsys):
    repo = write_repo(tmp_path, lone_prometheus.url, tenants=["green"])
    now = at_history_end(lone_prometheus).isoformat()
    # Reachable, green would go up.
    assert by_tenant(plan_at(repo, lone_prometheus, capsys)) == {"green": AT_HISTORY_END["green"]}
    lone_prometheus.stop()
    before = (repo / "flags.json").read_bytes()
    assert rampbot(repo, "plan", "--write", "--now", now) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"Prometheus at {lone_prometheus.url}: signal coverage: cannot connect "
        "([Errno 111] Connection refused) (tried 2 times)\n"
    )
    assert (repo / "flags.json").read_bytes() == before


def test_a_promql_syntax_error_names_the_signal(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, prometheus.url, tenants=["green"])
    policy = repo / ".github" / "rampbot.yml"
    policy.write_text(
        policy.read_text().replace("max by (tenant) (anchor", "max by (tenant (anchor")
    )
    before = (repo / "flags.json").read_bytes()
    assert rampbot(repo, "apply", "--now", at_history_end(prometheus).isoformat()) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"Prometheus at {prometheus.url}: signal anchor_p95_ms: query rejected (HTTP 400): "
        'bad_data: invalid parameter "query": '
    )
    assert "parse error" in err
    assert err.count("\n") == 1
    assert (repo / "flags.json").read_bytes() == before


def failing_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    code = rampbot(repo, "plan", "--write", "--now", "2026-11-26T09:30:00Z")
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    return code, err, elapsed


# timeout 1s x (1 retry + 1) = 2s, plus one 0.5s pause between the attempts.
BOUND_SECONDS = 3.0


def test_an_unreachable_server_fails_within_the_bound(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, err, elapsed = failing_run(write_repo(tmp_path, url), capsys)
    assert (code, err) == (
        3,
        f"Prometheus at {url}: signal coverage: cannot connect "
        "([Errno 111] Connection refused) (tried 2 times)\n",
    )
    assert elapsed < BOUND_SECONDS


def test_a_silent_server_times_out_within_the_bound(tmp_path, silent_server, capsys):
    code, err, elapsed = failing_run(write_repo(tmp_path, silent_server), capsys)
    assert code == 3
    # The second attempt gets what is left of the 2s budget after a 0.5s pause.
    assert err.startswith(f"Prometheus at {silent_server}: signal coverage: no answer within 0.")
    assert err.endswith("s (tried 2 times)\n")
    assert elapsed < BOUND_SECONDS + 0.5


def test_a_server_error_is_retried_then_fails(tmp_path, fake_server, capsys):
    server = fake_server(lambda _: (503, "text/plain", b"upstream unavailable"))
    code, err, elapsed = failing_run(write_repo(tmp_path, server.url), capsys)
    assert (code, err) == (
        3,
        f"Prometheus at {server.url}: signal coverage: HTTP 503: "
        "body starts 'upstream unavailable' (tried 2 times)\n",
    )
    assert len(server.requests) == 2
    assert elapsed < BOUND_SECONDS


def test_a_server_error_then_an_answer_succeeds(tmp_path, prometheus, fake_server, capsys):
    upstream = proxy_to(prometheus.url)

    def flaky(recorded: Recorded) -> tuple[int, str, bytes]:
        if len(answered) == 0:
            answered.append(recorded)
            return 502, "text/plain", b"bad gateway"
        return upstream(recorded)

    answered: list[Recorded] = []
    server = fake_server(flaky)
    repo = write_repo(tmp_path, server.url, tenants=["green"])
    assert by_tenant(plan_at(repo, prometheus, capsys)) == {"green": AT_HISTORY_END["green"]}
    assert len(server.requests) == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<html>It works!</html>",
            "the answer is not a Prometheus API response (HTTP 200, body starts "
            "'<html>It works!</html>'); check the URL points at Prometheus",
        ),
        (
            b'{"status": "success", "data": {"resultType": "matrix", "result": '
            b'[{"metric": {}, "values": [[1, "1"]]}]}}',
            "expected a vector (one series per tenant), got \"[{'metric': {}, 'values': "
            "[[1, '1']]}]\"; the query must return an instant vector",
        ),
        (
            b'{"status": "success", "data": {"resultType": "vector", "result": '
            b'[{"metric": {"tenant": "acme"}, "value": [1, "lots"]}]}}',
            "the answer is not a Prometheus API response: sample [1, 'lots'] of "
            '{tenant="acme"} is not a number; check the URL points at Prometheus',
        ),
        (
            b'{"unexpected": true}',
            "the answer is not a Prometheus API response (HTTP 200, body starts "
            "'{\"unexpected\": true}'); check the URL points at Prometheus",
        ),
    ],
)
def test_garbage_fails_without_retrying(tmp_path, fake_server, capsys, body, message):
    server = fake_server(lambda _: (200, "application/json", body))
    code, err, _ = failing_run(write_repo(tmp_path, server.url), capsys)
    assert (code, err) == (3, f"Prometheus at {server.url}: signal coverage: {message}\n")
    assert len(server.requests) == 1


def test_token_and_headers_are_sent_and_never_printed(tmp_path, prometheus, fake_server, capsys):
    proxy = fake_server(proxy_to(prometheus.url))
    repo = write_repo(
        tmp_path,
        proxy.url,
        tenants=["green"],
        extra="  headers:\n    X-Scope-OrgID: team-payments\n",
    )
    token = "s3cret-bearer-token"
    environ = {"RAMPBOT_PROMETHEUS_TOKEN": token}
    now = at_history_end(prometheus).isoformat()
    assert rampbot(repo, "plan", "--now", now, "--format", "json", environ=environ) == 0
    out, err = capsys.readouterr()
    assert token not in out + err
    assert len(proxy.requests) == 4
    for recorded in proxy.requests:
        assert recorded.headers["Authorization"] == f"Bearer {token}"
        assert recorded.headers["X-Scope-OrgID"] == "team-payments"


def test_secrets_stay_out_of_failure_messages(tmp_path, fake_server, capsys):
    server = fake_server(lambda r: (400, "text/plain", str(r.headers).encode()))
    repo = write_repo(tmp_path, server.url)
    environ = {"RAMPBOT_PROMETHEUS_USER": "robot", "RAMPBOT_PROMETHEUS_PASSWORD": "hunter22"}
    assert rampbot(repo, "plan", "--now", "2026-11-26T09:30:00Z", environ=environ) == 3
    out, err = capsys.readouterr()
    assert "hunter22" not in out + err
    assert "query rejected (HTTP 400)" in err
    expected = base64.b64encode(b"robot:hunter22").decode()
    assert server.requests[0].headers["Authorization"] == f"Basic {expected}"


def test_the_url_from_the_command_line_or_environment_wins(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, f"http://127.0.0.1:{free_port()}", tenants=["green"])
    assert by_tenant(plan_at(repo, prometheus, capsys, "--prometheus-url", prometheus.url)) == {
        "green": AT_HISTORY_END["green"]
    }
    now = at_history_end(prometheus).isoformat()
    environ = {"RAMPBOT_PROMETHEUS_URL": prometheus.url}
    assert rampbot(repo, "plan", "--now", now, "--format", "json", environ=environ) == 0
    assert by_tenant(json.loads(capsys.readouterr().out)) == {"green": AT_HISTORY_END["green"]}


def test_bad_connection_settings_are_input_errors(tmp_path, capsys):
    repo = write_repo(tmp_path, "http://127.0.0.1:9", extra="  ca_bundle: certs/ca.pem\n")
    assert rampbot(repo, "plan") == 1
    assert capsys.readouterr().err == (
        ".github/rampbot.yml: prometheus.ca_bundle: no such file 'certs/ca.pem'; "
        "give a PEM file, relative to the repository's root\n"
    )
    repo = write_repo(tmp_path / "other", "http://127.0.0.1:9")
    both = {"RAMPBOT_PROMETHEUS_TOKEN": "t0ken", "RAMPBOT_PROMETHEUS_USER": "robot"}
    assert rampbot(repo, "plan", environ=both) == 1
    assert capsys.readouterr().err == (
        "set either RAMPBOT_PROMETHEUS_TOKEN (bearer token) or RAMPBOT_PROMETHEUS_USER and "
        "RAMPBOT_PROMETHEUS_PASSWORD (basic auth), not both\n"
    )
    assert rampbot(repo, "plan", "--prometheus-url", "localhost:9090") == 1
    assert capsys.readouterr().err == (
        "--prometheus-url: 'localhost:9090' is not an http:// or https:// URL\n"
    )


def test_default_settings_give_up_within_30_seconds():
    policy = parse_policy(policy_text("http://x"), source="p.yml")
    defaults = parse_policy(
        "signals: [{name: s, query: q, healthy: '>= 1'}]\nfeatures: {f: }\n", source="p.yml"
    )
    assert (
        Connection(
            url="http://x", timeout=defaults.prometheus.timeout, retries=defaults.prometheus.retries
        ).budget
        == 30
    )
    assert policy.prometheus.timeout == timedelta(seconds=1)


def test_the_decision_core_reads_the_adapter_directly(prometheus):
    policy = parse_policy(policy_text(prometheus.url, tenants=["dip"]), source="p.yml")
    at = at_history_end(prometheus)
    health = PrometheusHealth(Connection(url=prometheus.url)).read(policy, at=at)
    assert health.evaluated_at == at
    assert health.source == prometheus.url
    plan = decide(
        policy,
        make_flags({"version": "flags-v1", "features": {"receipts": {"pct": 10}}}),
        health,
        now=at,
        last_change={("receipts", "dip"): at - timedelta(minutes=5)},
    )
    assert [(d.action.value, d.reasons) for d in plan.decisions] == [
        ("down", ("coverage min 90 over 30m < 95",))
    ]
    assert datetime.fromtimestamp(prometheus.history_end, UTC) == at
