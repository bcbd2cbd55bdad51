from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decide import Action, Decision, Evidence, Kind, Plan, Verdict, _hold_marker, decide
from bot.flags import FlagChange
from bot.health import Alert, Health, Reading
from tests.builders import GREEN, flags, health, policy

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def plan_for(values, *, document=None, alerts=(), last_change=None, policy_text=None) -> Plan:
    chosen = policy(policy_text) if policy_text else policy()
    return decide(
        chosen,
        flags(document),
        health(values, alerts),
        now=NOW,
        last_change=last_change or {},
    )


def one(plan: Plan, tenant: str = "acme"):
    return next(d for d in plan.decisions if d.tenant == tenant)


def test_all_green_steps_up_one_step_with_measured_values_in_the_reasons():
    decision = one(plan_for({"acme": GREEN, "globex": GREEN}))
    assert (decision.from_pct, decision.to_pct, decision.action) == (0, 1, Action.UP)
    assert decision.reasons == (
        "coverage min 97 over 30m >= 95",
        "anchor_p95_ms max 22 over 30m <= 30",
        "divergence max 0 over 30m <= 0",
    )


def test_each_tenant_moves_one_step_however_many_tenants_there_are():
    # Today's script stepped the one global percentage once per tenant: two tenants, two steps.
    plan = plan_for({"acme": GREEN, "globex": GREEN})
    assert [(d.tenant, d.from_pct, d.to_pct) for d in plan.decisions] == [
        ("acme", 0, 1),
        ("globex", 0, 1),
    ]
    assert plan.flag_changes()[0].pct == 1
    assert plan.flag_changes()[1].pct == 1


def test_a_breach_steps_down_and_quotes_value_threshold_and_window():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 25}}}
    decision = one(plan_for({"acme": {**GREEN, "coverage": 93.1}}, document=document))
    assert (decision.to_pct, decision.action) == (10, Action.DOWN)
    assert decision.reasons == ("coverage min 93.1 over 30m < 95",)


def test_a_critical_breach_rolls_back_and_leaves_a_hold_marker():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 25}}}
    plan = plan_for({"acme": {**GREEN, "divergence": 4}, "globex": GREEN}, document=document)
    decision = one(plan)
    assert (decision.to_pct, decision.action) == (10, Action.ROLLBACK)
    assert decision.reasons == ("divergence max 4 over 30m > 0 (critical)",)
    change = next(c for c in plan.flag_changes() if c.tenant == "acme")
    assert change.hold is not None
    assert "rolled back from 25%" in change.hold


def test_rollback_to_min_when_the_policy_says_so():
    text = policy_text_with("rollback: min\n")
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 50}}}
    decision = one(
        plan_for({"acme": {**GREEN, "divergence": 1}}, document=document, policy_text=text)
    )
    assert (decision.to_pct, decision.action) == (0, Action.ROLLBACK)


def policy_text_with(extra: str) -> str:
    from tests.builders import POLICY_YAML

    return extra + POLICY_YAML


def test_a_critical_alert_rolls_back_only_its_tenant():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    alert = Alert(name="ShadowDivergence", severity="critical", tenant="acme", summary="x")
    plan = plan_for({"acme": GREEN, "globex": GREEN}, document=document, alerts=(alert,))
    assert one(plan, "acme").action is Action.ROLLBACK
    assert one(plan, "acme").reasons == ("alert ShadowDivergence (critical) firing",)
    assert one(plan, "globex").action is Action.UP


def test_an_alert_without_tenant_applies_to_every_tenant_and_warnings_do_not():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    alerts = (
        Alert(name="Everything", severity="critical", tenant=None),
        Alert(name="Noise", severity="warning", tenant="acme"),
    )
    plan = plan_for({"acme": GREEN, "globex": GREEN}, document=document, alerts=alerts)
    assert [d.action for d in plan.decisions] == [Action.ROLLBACK, Action.ROLLBACK]
    assert [a.name for a in one(plan).alerts] == ["Everything"]


def test_missing_data_holds_by_default_and_never_moves():
    # A Prometheus outage must never ramp anything up, nor on its own ramp anything down.
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    plan = plan_for({}, document=document)
    assert [(d.action, d.to_pct) for d in plan.decisions] == [(Action.HOLD, 10)] * 2
    assert one(plan).reasons == (
        "coverage: no data over 30m",
        "anchor_p95_ms: no data over 30m",
        "divergence: no data over 30m",
    )
    assert not plan.changed


def test_missing_data_rolls_back_when_the_policy_says_so():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 10}}}
    decision = one(
        plan_for(
            {"acme": {**GREEN, "coverage": None}},
            document=document,
            policy_text=policy_text_with("no_data: rollback\n"),
        )
    )
    assert (decision.action, decision.to_pct) == (Action.ROLLBACK, 5)


def test_nan_is_no_data_not_healthy():
    decision = one(plan_for({"acme": {**GREEN, "coverage": float("nan")}}))
    assert decision.action is Action.HOLD
    assert decision.evidence[0].verdict is Verdict.NO_DATA


def test_not_baked_holds_and_says_how_long_it_has_been():
    decision = one(
        plan_for(
            {"acme": GREEN},
            last_change={("receipts", "acme"): NOW - timedelta(minutes=12)},
        )
    )
    assert decision.action is Action.HOLD
    assert decision.reasons[0] == "at 0% for 12m, less than the bake time of 30m"


def test_baked_exactly_at_the_bake_time_steps_up():
    last = {("receipts", "acme"): NOW - timedelta(minutes=30)}
    assert one(plan_for({"acme": GREEN}, last_change=last)).action is Action.UP


def test_paused_tenant_and_paused_feature_hold_even_when_red():
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": 10, "tenants": {"acme": {"paused": True}}}},
    }
    red = {**GREEN, "divergence": 9}
    plan = plan_for({"acme": red, "globex": GREEN}, document=document)
    assert one(plan).action is Action.HOLD
    assert one(plan).reasons == ("tenant acme is paused for receipts",)
    document["features"]["receipts"]["paused"] = True
    plan = plan_for({"acme": red, "globex": red}, document=document)
    assert {d.action for d in plan.decisions} == {Action.HOLD}


def test_hold_marker_blocks_step_up_but_not_step_down():
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": 5, "tenants": {"acme": {"pct": 10, "hold": "x"}}}},
    }
    assert one(plan_for({"acme": GREEN}, document=document)).action is Action.HOLD
    red = {**GREEN, "coverage": 50}
    assert one(plan_for({"acme": red}, document=document)).action is Action.DOWN


def test_at_max_and_at_min_hold_with_a_reason():
    text = policy_text_with("").replace(
        "steps: [1, 5, 10, 25, 50, 100]", "steps: [1, 5]\n    max: 5"
    )
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 5}}}
    decision = one(plan_for({"acme": GREEN}, document=document, policy_text=text))
    assert (decision.action, decision.to_pct) == (Action.HOLD, 5)
    assert decision.reasons[-1] == "already at the maximum, 5%"
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 0}}}
    decision = one(plan_for({"acme": {**GREEN, "coverage": 1}}, document=document))
    assert (decision.action, decision.reasons[-1]) == (Action.HOLD, "already at the minimum, 0%")


def test_step_up_and_step_down_increments_within_bounds():
    text = policy_text_with("").replace(
        "steps: [1, 5, 10, 25, 50, 100]", "step_up: 10\n    step_down: 20\n    min: 5\n    max: 50"
    )
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 45}}}
    assert one(plan_for({"acme": GREEN}, document=document, policy_text=text)).to_pct == 50
    red = {**GREEN, "coverage": 1}
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 15}}}
    assert one(plan_for({"acme": red}, document=document, policy_text=text)).to_pct == 5


def test_discovered_tenants_include_those_in_flags_without_data():
    text = POLICY_NO_TENANTS
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": 0, "tenants": {"zeta": {"pct": 5}}}},
    }
    plan = plan_for({"acme": GREEN}, document=document, policy_text=text)
    assert [(d.tenant, d.action) for d in plan.decisions] == [
        ("acme", Action.UP),
        ("zeta", Action.HOLD),
    ]


POLICY_NO_TENANTS = policy_text_with("").replace("tenants: [acme, globex]\n", "")

# --- invariants ---------------------------------------------------------------------------

signal_values = st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=-10, max_value=200))
tenant_health = st.fixed_dictionaries(
    {"coverage": signal_values, "anchor_p95_ms": signal_values, "divergence": signal_values}
)
STEPS = [1, 5, 10, 25, 50, 100]


@st.composite
def scenarios(draw):
    low = draw(st.sampled_from([0, 1, 5]))
    high = draw(st.sampled_from([25, 50, 100]))
    allowed = sorted({low, high, *[s for s in STEPS if low <= s <= high]})
    text = policy_text_with(draw(st.sampled_from(["", "no_data: rollback\n", "rollback: min\n"])))
    text = text.replace(
        "steps: [1, 5, 10, 25, 50, 100]", f"steps: {STEPS}\n    min: {low}\n    max: {high}"
    )
    pcts = {t: draw(st.sampled_from(allowed)) for t in ("acme", "globex")}
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": low, "tenants": {t: {"pct": p} for t, p in pcts.items()}}},
    }
    values = {t: draw(tenant_health) for t in ("acme", "globex")}
    minutes = {t: draw(st.one_of(st.none(), st.integers(0, 120))) for t in ("acme", "globex")}
    last = {
        ("receipts", t): NOW - timedelta(minutes=m) for t, m in minutes.items() if m is not None
    }
    severity = draw(st.sampled_from([None, "critical", "warning"]))
    alerts = (Alert("A", severity, "acme"),) if severity else ()
    return text, document, values, last, alerts, (low, high)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_invariants(scenario):
    text, document, values, last, alerts, (low, high) = scenario
    chosen = policy(text)
    plan = decide(chosen, flags(document), health(values, alerts), now=NOW, last_change=last)
    again = decide(chosen, flags(document), health(values, alerts), now=NOW, last_change=last)
    assert plan == again  # deciding twice on the same inputs gives the same plan
    for decision in plan.decisions:
        assert low <= decision.to_pct <= high
        if decision.to_pct > decision.from_pct:
            assert decision.action is Action.UP
            # never up without every signal healthy, before the bake time, or when red
            assert all(e.verdict is Verdict.HEALTHY for e in decision.evidence)
            assert not decision.alerts
            changed = last.get(("receipts", decision.tenant))
            assert changed is None or NOW - changed >= chosen.bake_time
        if any(e.verdict is Verdict.BREACHED for e in decision.evidence):
            assert decision.to_pct <= decision.from_pct


def test_a_change_dated_after_the_evaluation_time_holds_and_says_so():
    last = {("receipts", "acme"): NOW + timedelta(hours=2)}
    decision = one(plan_for({"acme": GREEN}, last_change=last))
    assert decision.action is Action.HOLD
    assert decision.reasons[0] == (
        "health evaluated at 2026-11-26T09:30:00Z is older than the change to 0% at "
        "2026-11-26T11:30:00Z; a step up needs health measured after it"
    )


# --- kinds: what code reads, beside the reasons people read -------------------------------


def reference_decision(chosen, document, values, alerts, changed_at):
    """Action, target and reasons for acme/receipts, written out rule by rule from the README.

    The slow path that decide's lookup tables and on-demand reasons must agree with.
    """
    feature = flags(document).features["receipts"]
    ramp = chosen.features["receipts"]
    current = feature.pct_for("acme")
    tenant = feature.tenant("acme")
    judged = [
        (signal, values.get(signal.name)) for signal in chosen.signals
    ]  # (signal, value or None)
    texts = {}
    for signal, value in judged:
        if value is None:
            texts[signal.name] = ("no data", f"{signal.name}: no data over 30m")
        elif value != value:  # NaN
            texts[signal.name] = ("no data", f"{signal.name}: not a finite number over 30m")
        elif signal.healthy.holds(value):
            texts[signal.name] = (
                "healthy",
                f"{signal.name} {signal.aggregate} {value:g} over 30m {signal.healthy}",
            )
        else:
            critical = " (critical)" if signal.critical else ""
            texts[signal.name] = (
                "critical" if signal.critical else "breach",
                f"{signal.name} {signal.aggregate} {value:g} over 30m "
                f"{signal.healthy.breach_text()}{critical}",
            )
    firing = [a for a in alerts if a.severity in chosen.rollback_severities]
    of = lambda *verdicts: [text for verdict, text in texts.values() if verdict in verdicts]  # noqa: E731
    rollback_to = ramp.min if chosen.rollback.value == "min" else ramp.down(current)
    if feature.paused or tenant.paused:
        return Action.HOLD, current, None
    if of("critical") or firing:
        found = (
            Action.ROLLBACK,
            rollback_to,
            of("critical") + [f"alert {a.name} ({a.severity}) firing" for a in firing],
        )
    elif of("breach"):
        found = (Action.DOWN, ramp.down(current), of("breach"))
    elif of("no data"):
        if chosen.no_data.value != "rollback":
            return Action.HOLD, current, of("no data")
        found = (Action.ROLLBACK, rollback_to, [*of("no data"), "no_data: rollback"])
    elif tenant.hold is not None:
        return Action.HOLD, current, None
    elif changed_at is not None and NOW - changed_at < chosen.bake_time:
        minutes = int((NOW - changed_at).total_seconds()) // 60
        waited = f"{minutes // 60}h{minutes % 60}m" if minutes >= 60 else f"{minutes}m"
        waited = waited.replace("h0m", "h")
        return (
            Action.HOLD,
            current,
            [f"at {current}% for {waited}, less than the bake time of 30m", *of("healthy")],
        )
    else:
        found = (Action.UP, ramp.up(current), of("healthy"))
    action, target, reasons = found
    if target == current:
        edge = "maximum" if action is Action.UP else "minimum"
        return Action.HOLD, current, [*reasons, f"already at the {edge}, {current}%"]
    return action, target, reasons


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_decisions_and_their_reasons_agree_with_the_rules_written_out(scenario):
    text, document, values, last, alerts, _ = scenario
    chosen = policy(text)
    plan = decide(chosen, flags(document), health(values, alerts), now=NOW, last_change=last)
    decision = one(plan)
    action, target, reasons = reference_decision(
        chosen, document, values["acme"], alerts, last.get(("receipts", "acme"))
    )
    assert (decision.action, decision.to_pct) == (action, target)
    if reasons is not None:
        assert list(decision.reasons) == reasons


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_kind_names_the_rule_behind_the_action(scenario):
    text, document, values, last, alerts, _ = scenario
    plan = decide(policy(text), flags(document), health(values, alerts), now=NOW, last_change=last)
    holds = {Kind.PAUSED, Kind.NO_DATA, Kind.HELD, Kind.BAKING, Kind.AT_MAXIMUM, Kind.AT_MINIMUM}
    allowed = {
        Action.UP: {Kind.HEALTHY},
        Action.DOWN: {Kind.BREACH},
        Action.ROLLBACK: {Kind.CRITICAL, Kind.NO_DATA},
        Action.HOLD: holds,
    }
    for decision in plan.decisions:
        assert decision.kind in allowed[decision.action]


PAUSED_DOCUMENT = {
    "version": "flags-v1",
    "features": {
        "receipts": {
            "pct": 5,
            "tenants": {
                "acme": {"paused": True},
                # a marker whose words are another rule's: the kind, not the words, decides
                "globex": {"pct": 10, "hold": "tenant x is paused; already at the maximum"},
            },
        }
    },
}


def test_each_rule_has_its_kind():
    at_max = policy_text_with("").replace(
        "steps: [1, 5, 10, 25, 50, 100]", "steps: [1, 5]\n    max: 5"
    )
    top = {"version": "flags-v1", "features": {"receipts": {"pct": 5}}}
    bottom = {"version": "flags-v1", "features": {"receipts": {"pct": 0}}}
    soon = {("receipts", "acme"): NOW - timedelta(minutes=3)}
    alert = Alert(name="X", severity="critical", tenant="acme")
    cases = [
        (plan_for({"acme": GREEN}), Kind.HEALTHY),
        (plan_for({"acme": GREEN}, last_change=soon), Kind.BAKING),
        (plan_for({"acme": {**GREEN, "coverage": 1}}, document=top), Kind.BREACH),
        (plan_for({"acme": {**GREEN, "divergence": 1}}, document=top), Kind.CRITICAL),
        (plan_for({"acme": GREEN}, document=top, alerts=(alert,)), Kind.CRITICAL),
        (plan_for({"acme": {**GREEN, "coverage": None}}), Kind.NO_DATA),
        (plan_for({"acme": GREEN}, document=top, policy_text=at_max), Kind.AT_MAXIMUM),
        (plan_for({"acme": {**GREEN, "coverage": 1}}, document=bottom), Kind.AT_MINIMUM),
        (plan_for({"acme": GREEN}, document=PAUSED_DOCUMENT), Kind.PAUSED),
        (
            plan_for(
                {"acme": GREEN},
                document={**top, "features": {"receipts": {"pct": 5, "paused": True}}},
            ),
            Kind.PAUSED,
        ),
    ]
    assert [plan.decisions[0].kind for plan, _ in cases] == [kind for _, kind in cases]
    held = one(plan_for({"globex": GREEN}, document=PAUSED_DOCUMENT), "globex")
    assert held.kind is Kind.HELD
    odd = one(plan_for({"Acme Corp": GREEN}, policy_text=POLICY_NO_TENANTS), "Acme Corp")
    assert (odd.kind, odd.action) == (Kind.UNUSABLE_NAME, Action.HOLD)


def test_a_no_data_rollback_at_the_minimum_says_both():
    decision = one(
        plan_for(
            {"acme": {**GREEN, "coverage": None}},
            policy_text=policy_text_with("no_data: rollback\n"),
        )
    )
    assert (decision.action, decision.kind) == (Action.HOLD, Kind.AT_MINIMUM)
    assert decision.reasons == (
        "coverage: no data over 30m",
        "no_data: rollback",
        "already at the minimum, 0%",
    )


# --- the fast paths of decide against the slow ones (issue 14) ----------------------------

values_with_samples = st.one_of(
    st.none(),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]),
    st.floats(min_value=-10, max_value=200),
)


def reference_evidence(signal, reading) -> Evidence:
    """The evidence as Evidence's own constructor builds it, from the rules in the README."""
    has_data = reading.value is not None and math.isfinite(reading.value)
    few = (
        signal.min_samples is not None
        and reading.samples is not None
        and reading.samples < signal.min_samples
    )
    if not has_data or few:
        verdict = Verdict.NO_DATA
    else:
        verdict = Verdict.HEALTHY if signal.healthy.holds(reading.value) else Verdict.BREACHED
    return Evidence(
        signal=signal.name,
        aggregate=signal.aggregate,
        value=reading.value if has_data else None,
        condition=signal.healthy,
        window="30m",
        verdict=verdict,
        critical=signal.critical,
        samples=reading.samples,
        not_finite=reading.value is not None and not has_data,
        gate=signal.gate,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["acme", "globex", "initech"]),
        st.fixed_dictionaries(
            {
                name: st.tuples(values_with_samples, st.one_of(st.none(), st.integers(0, 30)))
                for name in ("coverage", "anchor_p95_ms", "divergence")
            }
        ),
        min_size=1,
    ),
    st.sampled_from(["", "    min_samples: 10\n"]),
)
def test_evidence_and_decisions_built_fast_equal_their_constructors(measured, min_samples):
    text = POLICY_NO_TENANTS.replace('healthy: ">= 95"\n', 'healthy: ">= 95"\n' + min_samples, 1)
    assert min_samples in text
    chosen = policy(text)
    readings = {
        tenant: {name: Reading(value, samples) for name, (value, samples) in signals.items()}
        for tenant, signals in measured.items()
    }
    plan = decide(chosen, flags(), Health(readings=readings), now=NOW, last_change={})
    assert [d.tenant for d in plan.decisions] == sorted(measured)
    for decision in plan.decisions:
        assert len(decision) == len(Decision._fields)
        assert decision == Decision(**decision._asdict())
        expected = tuple(
            reference_evidence(signal, readings[decision.tenant][signal.name])
            for signal in chosen.signals
        )
        assert decision.evidence == expected
        # Every field set, and nothing else but the text a reason may have cached already:
        # equal readings share one evidence.
        assert [
            {name: value for name, value in vars(e).items() if name != "text"}
            for e in decision.evidence
        ] == [vars(e) for e in expected]
        assert [e.text for e in decision.evidence] == [e.text for e in expected]


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.integers(0, 120), st.booleans())
def test_one_date_for_every_tenant_is_the_table_with_that_date_everywhere(scenario, minutes, some):
    text, document, values, last, alerts, _ = scenario
    chosen = policy(text)
    when = NOW - timedelta(minutes=minutes)
    named = last if some else {}
    everywhere = {("receipts", tenant): when for tenant in ("acme", "globex")} | named
    table = decide(chosen, flags(document), health(values, alerts), now=NOW, last_change=everywhere)
    one_date = decide(
        chosen,
        flags(document),
        health(values, alerts),
        now=NOW,
        last_change=named,
        changed_at=when,
    )
    assert one_date == table


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_the_flag_changes_are_those_written_out_from_the_decisions(scenario):
    text, document, values, last, alerts, _ = scenario
    plan = decide(policy(text), flags(document), health(values, alerts), now=NOW, last_change=last)
    expected = [
        FlagChange(
            feature=d.feature,
            tenant=d.tenant,
            pct=d.to_pct,
            hold=(d.hold or _hold_marker(d)) if d.action is Action.ROLLBACK else None,
        )
        for d in plan.decisions
        if d.changed
    ]
    assert plan.flag_changes() == expected
    assert all(len(change) == len(FlagChange._fields) for change in plan.flag_changes())


def test_equal_readings_share_evidence_and_minus_zero_keeps_its_sign():
    values = {
        "acme": {"coverage": 97.0, "anchor_p95_ms": 22.0, "divergence": -0.0},
        "globex": {"coverage": 97.0, "anchor_p95_ms": 22.0, "divergence": 0.0},
        "initech": {"coverage": 97.0, "anchor_p95_ms": 22.0, "divergence": 0.0},
    }
    plan = plan_for(values, policy_text=POLICY_NO_TENANTS)
    acme, globex, initech = (one(plan, tenant).evidence for tenant in ("acme", "globex", "initech"))
    assert acme[0] is globex[0]  # coverage 97.0 in both
    assert globex is initech  # the same readings: one judgement
    assert math.copysign(1.0, acme[2].value) == -1.0
    assert math.copysign(1.0, globex[2].value) == 1.0
