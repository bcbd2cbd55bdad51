"""What an Alertmanager webhook may change, with plain values: bot/alert_rollback.py and
bot/alertmanager.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.alert_rollback import AlertOutcome, Carried, plan_rollbacks
from bot.alertmanager import parse_webhook
from bot.decide import Action
from bot.errors import InputError
from bot.flags import FlagChange
from tests import builders
from tests.serve_helpers import alert, webhook

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
FLAGS = {
    "version": "flags-v1",
    "revision": 3,
    "features": {
        "receipts": {
            "pct": 0,
            "tenants": {
                "acme": {"pct": 25},
                "globex": {"pct": 10, "hold": "rolled back from 25% (alert Old)"},
                "initech": {"pct": 50, "paused": True},
            },
        }
    },
}
TENANTS = "tenants: [acme, globex, initech, umbrella]\n"


def events(*alerts: dict[str, object]) -> tuple:  # type: ignore[type-arg]
    return parse_webhook(json.dumps(webhook(*alerts)).encode())


def plan(*alerts: dict[str, object], policy_text: str = "", carried: tuple[Carried, ...] = ()):  # type: ignore[no-untyped-def]
    text = builders.POLICY_YAML.replace("tenants: [acme, globex]\n", TENANTS) + policy_text
    return plan_rollbacks(
        builders.policy(text),
        builders.flags(FLAGS),
        events=events(*alerts),
        carried=carried,
        now=NOW,
    )


def test_a_firing_alert_rolls_its_tenant_back_as_run_would() -> None:
    result = plan(alert("acme"))
    [decision] = result.plan.changes
    assert (decision.tenant, decision.from_pct, decision.to_pct) == ("acme", 25, 10)
    assert decision.action is Action.ROLLBACK
    assert decision.reasons == ("alert ShadowDivergence (critical) firing",)
    [change] = result.plan.flag_changes()
    assert change.hold == "rolled back from 25% (alert ShadowDivergence)"
    [verdict] = result.verdicts
    assert verdict.outcome is AlertOutcome.ROLLBACK
    assert verdict.reason == "receipts for acme: 25% -> 10%"


def test_only_the_alerted_tenant_is_decided() -> None:
    result = plan(alert("acme"))
    assert {d.tenant for d in result.plan.decisions} == {"acme"}


@pytest.mark.parametrize(
    ("the_alert", "outcome", "reason"),
    [
        (
            alert("acme", status="resolved"),
            AlertOutcome.RESOLVED,
            "resolved: changes nothing; the schedule ramps again",
        ),
        (
            alert("acme", severity="warning"),
            AlertOutcome.IGNORED,
            "severity 'warning' is not one of alerts.rollback_severities (critical)",
        ),
        (
            alert("nobody"),
            AlertOutcome.HELD,
            "unknown tenant 'nobody': not in the policy's tenants",
        ),
        (
            alert("bad name!"),
            AlertOutcome.HELD,
            "unknown tenant 'bad name!': not in the policy's tenants",
        ),
        (
            alert("globex"),
            AlertOutcome.HELD,
            "held after a rollback (rolled back from 25% (alert Old)); delete features.receipts.tenants.globex.hold to resume the ramp",
        ),
        (alert("initech"), AlertOutcome.HELD, "tenant initech is paused for receipts"),
        (
            alert("umbrella"),
            AlertOutcome.HELD,
            "alert ShadowDivergence (critical) firing; already at the minimum, 0%",
        ),
        (
            alert(None),
            AlertOutcome.IGNORED,
            "no 'tenant' label: a fleet-wide alert rolls back only with serve.fleet_wide_alerts: true in the policy",
        ),
    ],
)
def test_alerts_that_roll_nothing_back(
    the_alert: dict[str, object], outcome: AlertOutcome, reason: str
) -> None:
    result = plan(the_alert)
    assert not result.plan.changed
    [verdict] = result.verdicts
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_a_fleet_wide_alert_rolls_back_every_tenant_when_the_policy_opts_in() -> None:
    result = plan(alert(None), policy_text="serve:\n  fleet_wide_alerts: true\n")
    assert {(d.tenant, d.action) for d in result.plan.decisions} == {
        ("acme", Action.ROLLBACK),
        ("globex", Action.HOLD),
        ("initech", Action.HOLD),
        ("umbrella", Action.HOLD),
    }
    assert result.verdicts[0].outcome is AlertOutcome.ROLLBACK


def test_the_tenant_label_is_the_policys() -> None:
    text = "tenant_label: customer\n"
    assert plan(alert("acme", label="customer"), policy_text=text).plan.changed
    assert not plan(alert("acme"), policy_text=text).plan.changed


def test_discovered_tenants_are_those_flags_json_names() -> None:
    text = builders.POLICY_YAML.replace("tenants: [acme, globex]\n", "")
    result = plan_rollbacks(
        builders.policy(text),
        builders.flags(FLAGS),
        events=events(alert("acme"), alert("umbrella")),
        now=NOW,
    )
    assert [v.outcome for v in result.verdicts] == [AlertOutcome.ROLLBACK, AlertOutcome.HELD]
    assert result.verdicts[1].reason == "unknown tenant 'umbrella': not in flags.json"


def test_rollbacks_on_the_branch_are_kept_until_the_base_holds_them() -> None:
    kept = Carried("receipts", "umbrella", 0, "rolled back from 5% (divergence > 0 (critical))")
    stale = Carried("receipts", "globex", 5, "rolled back from 10% (alert X)")  # base holds it
    result = plan(alert("acme"), carried=(kept, stale))
    changes = {(d.tenant, d.from_pct, d.to_pct) for d in result.plan.changes}
    assert changes == {("acme", 25, 10)}  # umbrella is already at 0: nothing to keep
    bumped = Carried("receipts", "acme", 1, "rolled back from 25% (alert Y)")
    result = plan(alert("initech"), carried=(bumped,))
    [change] = result.plan.flag_changes()
    assert change == FlagChange("receipts", "acme", 1, "rolled back from 25% (alert Y)")


def test_an_alert_already_carried_decides_the_same() -> None:
    first = plan(alert("acme"))
    [change] = first.plan.flag_changes()
    again = plan(alert("acme"), carried=(Carried(*change[:4]),))
    assert again.plan.flag_changes() == first.plan.flag_changes()


def test_a_webhook_body_names_its_first_problem() -> None:
    with pytest.raises(InputError) as raised:
        parse_webhook(b'{"version": "4", "status": "firing"}')
    assert raised.value.message == "webhook body: (top level): 'alerts' is a required property"
    [event] = parse_webhook(json.dumps(webhook(alert("acme"))).encode())
    assert event.firing
    assert event.alert(tenant_label="tenant").summary == "ShadowDivergence for acme"
