"""rampbot health: the per-tenant signal table as read from a real Prometheus."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.prometheus import at_history_end
from tests.fixtures.servers import free_port
from tests.prometheus_repo import rampbot, write_repo


def test_health_prints_a_table_of_what_was_read(tmp_path, prometheus, capsys):
    repo = write_repo(
        tmp_path, prometheus.url, tenants=["green", "dip", "no_latency", "nan"], min_samples=5
    )
    at = at_history_end(prometheus)
    assert rampbot(repo, "health", "--now", at.isoformat()) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"health from {prometheus.url} at {at.isoformat()}, over 30m "
        "(value; (samples) where min_samples is set)",
        "tenant      coverage (min, >= 95)  anchor_p95_ms (max, <= 30)  divergence (max, <= 0)",
        "green       97 (31)                20                          0",
        "dip         90 (31) *              20                          0",
        "no_latency  97 (31)                no data                     0",
        "nan         no data (31)           20                          0",
        "* outside the healthy condition",
        "firing alerts: none",
    ]


def test_health_json_for_scripts(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, prometheus.url, case="now", bake_time="10s", step="1s")
    environ = {"RAMPBOT_PROMETHEUS_TOKEN": "not-printed-token"}
    assert rampbot(repo, "health", "--format", "json", environ=environ) == 0
    out = capsys.readouterr().out
    assert "not-printed-token" not in out
    document = json.loads(out)
    assert document["tenants"]["now_alerted"]["coverage"]["value"] == 99
    assert [signal["name"] for signal in document["signals"]] == [
        "coverage",
        "anchor_p95_ms",
        "divergence",
    ]
    assert document["signals"][0]["graph"].startswith(f"{prometheus.url}/graph?g0.expr=")
    assert sorted((a["alertname"], a["tenant"]) for a in document["alerts"]) == [
        ("NoisyNeighbour", None),
        ("ShadowDivergence", "now_alerted"),
    ]


def test_health_reads_a_snapshot_too_but_not_both(tmp_path, prometheus, capsys):
    repo = write_repo(tmp_path, prometheus.url, tenants=["acme"])
    (repo / "health.json").write_text(
        '{"tenants": {"acme": {"coverage": 93.1, "anchor_p95_ms": 22, "divergence": 0}}}'
    )
    assert rampbot(repo, "health", "--health", "health.json") == 0
    assert "acme    93.1 *" in capsys.readouterr().out
    assert rampbot(repo, "health", "--health", "health.json", "--prometheus-url", "http://x") == 1
    assert capsys.readouterr().err == (
        "pass either --health FILE or --prometheus-url URL, not both\n"
    )


def test_health_fails_with_exit_3_when_prometheus_is_down(tmp_path, capsys):
    port = free_port()  # nothing listens there
    repo = write_repo(tmp_path, f"http://127.0.0.1:{port}")
    assert rampbot(repo, "health") == 3
    assert capsys.readouterr().err == (
        f"Prometheus at http://127.0.0.1:{port}: signal coverage: cannot connect "
        "([Errno 111] Connection refused) (tried 2 times)\n"
    )


def test_discovered_tenants_include_the_flags_file_s_and_a_global_snapshot_shows(tmp_path, capsys):
    # No tenants in the policy: the rows are those a signal reported plus those flags.json
    # names, as the decision uses; a global snapshot's readings count for every tenant.
    repo = write_repo(tmp_path, "http://127.0.0.1:9", flag_tenants=("acme", "globex"))
    (repo / "health.json").write_text(
        '{"coverage": 97, "anchor_p95_ms": 20, "divergence": 0, '
        '"tenants": {"initech": {"coverage": 90}}}'
    )
    assert rampbot(repo, "health", "--health", "health.json") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:6]] == ["acme", "globex", "initech", "(every"]
    assert lines[2].split()[1:] == ["97", "20", "0"]
    assert lines[4].split()[1:] == ["90", "*", "20", "0"]
    assert lines[5].split()[2:] == ["97", "20", "0"]
    assert rampbot(repo, "health", "--health", "health.json", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(document["tenants"]) == ["acme", "globex", "initech"]
    assert document["every_tenant"]["coverage"] == {"value": 97, "samples": None}


@pytest.mark.parametrize("url", ["http://h:abc", "http://[::1", "ftp://h", "http://"])
@pytest.mark.parametrize(
    ("how", "where"),
    [
        ("option", "--prometheus-url"),
        ("environment", "RAMPBOT_PROMETHEUS_URL"),
        ("policy", ".github/rampbot.yml: prometheus.url"),
    ],
)
def test_a_malformed_prometheus_url_is_an_input_error_naming_its_source(
    tmp_path, capsys, url, how, where
):
    repo = write_repo(tmp_path, url if how == "policy" else "http://127.0.0.1:9")
    args = ["--prometheus-url", url] if how == "option" else []
    environ = {"RAMPBOT_PROMETHEUS_URL": url} if how == "environment" else {}
    assert rampbot(repo, "health", *args, environ=environ) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{where}: '{url}' is not")
    assert "URL" in err
