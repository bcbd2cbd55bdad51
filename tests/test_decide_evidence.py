"""Decisions rest on finite, unambiguous evidence about every tenant (issue 9)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.decide import Action, Plan, Verdict, decide
from bot.health import Alert, parse_snapshot
from bot.render import plan_to_markdown
from tests.builders import GREEN, POLICY_YAML, flags, health, policy
from tests.fixtures.prometheus import at_history_end
from tests.prometheus_repo import rampbot, write_repo

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TENANTLESS = POLICY_YAML.replace("tenants: [acme, globex]\n", "")


def plan_for(values, *, document=None, alerts=(), policy_text=POLICY_YAML) -> Plan:
    return decide(
        policy(policy_text), flags(document), health(values, alerts), now=NOW, last_change={}
    )


def decision_of(plan: Plan, tenant: str = "acme", feature: str = "receipts"):
    return next(d for d in plan.decisions if d.tenant == tenant and d.feature == feature)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_value_that_is_not_finite_is_no_data(value):
    # +Inf is what a division by zero gives; it satisfies ">= 95" and must not step up.
    decision = decision_of(plan_for({"acme": {**GREEN, "coverage": value}}))
    assert (decision.action, decision.to_pct) == (Action.HOLD, 0)
    assert decision.reasons == ("coverage: not a finite number over 30m",)
    assert decision.evidence[0].verdict is Verdict.NO_DATA
    assert decision.evidence[0].value is None


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_a_snapshot_may_say_a_value_is_not_finite(literal):
    text = '{"tenants": {"acme": {"coverage": %s, "anchor_p95_ms": 22, "divergence": 0}}}'
    snapshot = parse_snapshot(text % literal, source="health.json", policy=policy())
    plan = decide(policy(), flags(), snapshot, now=NOW, last_change={})
    decision = decision_of(plan)
    assert decision.action is Action.HOLD
    assert decision.reasons == ("coverage: not a finite number over 30m",)
    assert "| ❔ not a finite number / >= 95 / 30m |" in plan_to_markdown(plan)


def test_an_infinite_breach_of_a_critical_signal_is_no_data_too():
    # -Inf divergence is no evidence of a breach, nor of health: held like any missing value.
    decision = decision_of(plan_for({"acme": {**GREEN, "divergence": float("-inf")}}))
    assert decision.action is Action.HOLD


@pytest.mark.parametrize("severity", ["Critical", "CRITICAL", "critical"])
def test_alert_severities_match_whatever_their_case(severity):
    alert = Alert(name="ShadowDivergence", severity=severity, tenant="acme")
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 25}}}
    decision = decision_of(plan_for({"acme": GREEN}, document=document, alerts=(alert,)))
    assert (decision.action, decision.to_pct) == (Action.ROLLBACK, 10)
    assert decision.reasons == (f"alert ShadowDivergence ({severity}) firing",)


def test_policy_severities_match_whatever_their_case():
    text = POLICY_YAML + "alerts:\n  rollback_severities: [Page]\n"
    alert = Alert(name="Down", severity="page", tenant=None)
    decision = decision_of(plan_for({"acme": GREEN}, alerts=(alert,), policy_text=text))
    assert decision.action is Action.HOLD  # at 0%: rolled back as far as it goes
    assert "alert Down (page) firing" in decision.reasons


TWO_FEATURES = TENANTLESS.replace(
    "features:\n  receipts:\n", "features:\n  attest:\n    steps: [10, 25]\n  receipts:\n"
)


def test_a_tenant_named_under_one_feature_is_a_tenant_of_every_feature():
    # The repro: quiet is named only under receipts and silent in Prometheus; an
    # alert without a tenant label rolls back every tenant, in attest too.
    document = {
        "version": "flags-v1",
        "features": {
            "receipts": {"pct": 10, "tenants": {"quiet": {"pct": 10}}},
            "attest": {"pct": 10},
        },
    }
    alert = Alert(name="ShadowDivergence", severity="critical", tenant=None)
    plan = plan_for({"loud": GREEN}, document=document, alerts=(alert,), policy_text=TWO_FEATURES)
    assert sorted((d.feature, d.tenant, d.action.value, d.to_pct) for d in plan.decisions) == [
        ("attest", "loud", "rollback", 0),
        ("attest", "quiet", "rollback", 0),
        ("receipts", "loud", "rollback", 5),
        ("receipts", "quiet", "rollback", 5),
    ]
    assert decision_of(plan, "quiet", "attest").reasons == (
        "alert ShadowDivergence (critical) firing",
    )


def test_a_tenant_named_elsewhere_is_held_for_missing_data_in_every_feature():
    document = {
        "version": "flags-v1",
        "features": {
            "receipts": {"pct": 10, "tenants": {"quiet": {"pct": 10}}},
            "attest": {"pct": 10},
        },
    }
    plan = plan_for({"loud": GREEN}, document=document, policy_text=TWO_FEATURES)
    assert decision_of(plan, "quiet", "attest").action is Action.HOLD
    assert decision_of(plan, "quiet", "attest").reasons[0] == "coverage: no data over 30m"


def test_a_tenant_name_longer_than_200_characters_is_held_not_written():
    name = "t" * 201
    plan = plan_for({name: GREEN, "globex": GREEN}, policy_text=TENANTLESS)
    decision = decision_of(plan, name)
    assert (decision.action, decision.to_pct) == (Action.HOLD, 0)
    assert decision.reasons == (
        f"tenant name '{'t' * 40}... (201 characters)' cannot be a key in flags.json (at most "
        "200 letters, digits, '_', '.', ':' and '-', starting with a letter or digit); rename it "
        "in the signals' labels",
    )
    assert [change.tenant for change in plan.flag_changes()] == ["globex"]
    assert decision_of(plan_for({"t" * 200: GREEN}, policy_text=TENANTLESS), "t" * 200).changed


def why_column(plan: Plan, tenant: str) -> str:
    row = next(
        line
        for line in plan_to_markdown(plan).splitlines()
        if line.startswith(f"| receipts | {tenant} |")
    )
    return row.rstrip(" |").rsplit(" | ", 1)[1]


@pytest.mark.parametrize(
    ("breach", "action", "why"),
    [
        ({"divergence": 4}, Action.ROLLBACK, "critical breach"),
        ({"coverage": 93.1}, Action.DOWN, "breach"),
    ],
)
def test_the_why_column_names_the_breach_when_another_signal_has_no_data(breach, action, why):
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 25}}}
    values = {**GREEN, "anchor_p95_ms": None, **breach}
    plan = plan_for({"acme": values}, document=document)
    assert decision_of(plan).action is action
    assert why_column(plan, "acme") == why


def test_the_why_column_still_says_no_data_for_a_hold():
    plan = plan_for({"acme": {**GREEN, "anchor_p95_ms": None}})
    assert why_column(plan, "acme") == "no data"


def test_the_json_plan_is_valid_json_whatever_the_values():
    from bot.render import plan_to_json

    plan = plan_for({"acme": {**GREEN, "coverage": float("inf")}})
    text = json.dumps(plan_to_json(plan), allow_nan=False)
    assert json.loads(text)["decisions"][0]["evidence"][0]["value"] is None


# --- The same against the real Prometheus of tests/fixtures/prometheus.py. -------------------


def test_prometheus_a_tenant_named_under_one_feature_is_rolled_back_in_every_feature(
    tmp_path, prometheus, capsys
):
    # "quiet" is named only under receipts and Prometheus knows nothing of it; the fixture's
    # NoisyNeighbour alert has no tenant label, and this policy rolls back on its severity.
    repo = write_repo(
        tmp_path,
        prometheus.url,
        case="now",
        bake_time="10s",
        step="1s",
        extra="alerts:\n  rollback_severities: [Warning]\n",
    )
    policy_path = repo / ".github" / "rampbot.yml"
    policy_path.write_text(
        policy_path.read_text().replace(
            "features:\n  receipts:\n", "features:\n  attest:\n    steps: [5, 10]\n  receipts:\n"
        )
    )
    document = json.loads((repo / "flags.json").read_text())
    document["features"]["receipts"]["tenants"] = {"quiet": {"pct": 10}}
    document["features"]["attest"] = {"pct": 10}
    (repo / "flags.json").write_text(json.dumps(document, indent=2) + "\n")
    assert rampbot(repo, "plan", "--format", "json") == 0, capsys.readouterr().err
    decisions = {
        (d["feature"], d["tenant"]): (d["action"], d["to"])
        for d in json.loads(capsys.readouterr().out)["decisions"]
    }
    assert decisions == {
        (feature, tenant): ("rollback", 5)
        for feature in ("attest", "receipts")
        for tenant in ("now_alerted", "now_green", "quiet")
    }


def test_prometheus_the_why_column_names_the_breach_beside_missing_data(
    tmp_path, prometheus, capsys
):
    # No latency series at all: every tenant lacks one signal; "diverge" and "dip" breach.
    repo = write_repo(tmp_path, prometheus.url, tenants=["diverge", "dip", "green"])
    policy_path = repo / ".github" / "rampbot.yml"
    policy_path.write_text(policy_path.read_text().replace("anchor_latency_ms{", "no_such_metric{"))
    now = at_history_end(prometheus).isoformat()
    assert rampbot(repo, "plan", "--now", now, "--format", "markdown") == 0, capsys.readouterr().err
    markdown = capsys.readouterr().out
    why = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) > 2 and cells[0] == "receipts" and cells[1] in ("diverge", "dip", "green"):
            why[cells[1]] = cells[-1]
    assert why == {"diverge": "critical breach", "dip": "breach", "green": "no data"}
