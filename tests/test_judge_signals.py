"""Comparison, SLO burn-rate and shadow signals: parsed from the policy, judged by decide()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.burn import DEFAULT_PAIRS, BurnOutcome, BurnPair, judge_burn
from bot.compare import Arms, Counts
from bot.decide import Action, Kind, Plan, Verdict, decide
from bot.errors import InputErrors
from bot.health import Health, Reading
from bot.metadata import changes_fingerprint
from bot.plan_text import plan_to_text
from bot.policy import ComparisonSignal, SloSignal, parse_policy
from bot.render import plan_to_json, pull_request_body
from tests.builders import flags

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
SOURCE = ".github/rampbot.yml"

POLICY = """\
tenants: [acme]
bake_time: 30m
{no_data}signals:
  - name: errors_vs_control
    compare:
      events: 'sum by (tenant, variant) (increase(http_requests_errors_total[$window]))'
      total: 'sum by (tenant, variant) (increase(http_requests_total[$window]))'
      treatment: "on"
      control: "off"
      worse_by_more_than: 0.002
      min_total: 500
    critical: true
  - name: availability
    slo:
      objective: 0.999
      events: 'sum by (tenant) (increase(http_requests_errors_total[$window]))'
      total: 'sum by (tenant) (increase(http_requests_total[$window]))'
  - name: coverage
    query: coverage_pct
    healthy: ">= 95"
    gate: {gate}
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""

BALANCED = Arms(Counts(100, 50_000), Counts(500, 50_000))  # treatment better: healthy
HARMFUL = Arms(Counts(1_000, 50_000), Counts(200, 50_000))
CLOSE = Arms(Counts(300, 20_000), Counts(200, 20_000))  # +0.5 pp, interval straddles 0.2 pp
SMALL = Arms(Counts(3, 1_000), Counts(2, 312))
QUIET = {"1h": Counts(10, 100_000), "5m": Counts(1, 8_000)}
QUIET |= {"6h": Counts(60, 600_000), "30m": Counts(5, 50_000)}


def policy_text(*, gate: bool = True, no_data: str = "") -> str:
    return POLICY.format(gate="true" if gate else "false", no_data=no_data)


def plan(
    arms: Arms | None,
    *,
    pct: int = 50,
    burn=None,
    coverage: float | None = 97.0,
    gate: bool = True,
    no_data: str = "",
    changed_minutes_ago: int | None = None,
) -> Plan:
    policy = parse_policy(policy_text(gate=gate, no_data=no_data), source=SOURCE)
    health = Health(
        readings={"acme": {"coverage": Reading(coverage)}},
        arms={"acme": {"errors_vs_control": arms}} if arms else {},
        burn_windows={"acme": {"availability": QUIET if burn is None else burn}},
    )
    document = {"version": "flags-v1", "features": {"receipts": {"pct": pct}}}
    last_change = {}
    if changed_minutes_ago is not None:
        last_change = {("receipts", "acme"): NOW - timedelta(minutes=changed_minutes_ago)}
    return decide(policy, flags(document), health, now=NOW, last_change=last_change)


def evidence(decision, signal: str):
    return next(e for e in decision.evidence if e.signal == signal)


def test_the_policy_gives_each_kind_its_own_settings():
    policy = parse_policy(policy_text(), source=SOURCE)
    assert [s.name for s in policy.signals] == ["coverage"]
    assert policy.comparisons == (
        ComparisonSignal(
            name="errors_vs_control",
            events="sum by (tenant, variant) (increase(http_requests_errors_total[$window]))",
            total="sum by (tenant, variant) (increase(http_requests_total[$window]))",
            worse_by_more_than=0.002,
            min_total=500,
            critical=True,
        ),
    )
    assert policy.slos == (
        SloSignal(
            name="availability",
            objective=0.999,
            events="sum by (tenant) (increase(http_requests_errors_total[$window]))",
            total="sum by (tenant) (increase(http_requests_total[$window]))",
            pairs=DEFAULT_PAIRS,
        ),
    )
    assert policy.comparisons[0].alpha == 0.05
    assert policy.comparisons[0].tuning == 5_000


def test_healthy_comparison_steps_up_and_quotes_both_arms():
    decision = plan(BALANCED).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.UP, 100)
    # Threshold signals first, then comparisons, then SLOs.
    assert decision.reasons[1] == (
        "errors_vs_control: no worse than control: difference -0.80 pp, interval "
        "[-0.95 pp, -0.65 pp], harm when above +0.20 pp (treatment 0.20% of 50,000, "
        "control 1.00% of 50,000, over 30m)"
    )


def test_harm_shown_rolls_back_a_critical_comparison():
    result = plan(HARMFUL)
    decision = result.decisions[0]
    assert (decision.action, decision.to_pct) == (Action.ROLLBACK, 25)
    assert decision.reasons == (decision.reasons[0],)
    assert decision.reasons[0].startswith("errors_vs_control: worse than control: difference")
    assert decision.reasons[0].endswith("(critical)")
    assert result.flag_changes()[0].hold == "rolled back from 50% (errors_vs_control > 0.002)"


def test_harm_in_a_non_critical_comparison_steps_down():
    text = policy_text().replace(
        "    critical: true\n  - name: availability", "  - name: availability"
    )
    policy = parse_policy(text, source=SOURCE)
    health = Health(
        readings={"acme": {"coverage": Reading(97.0)}},
        arms={"acme": {"errors_vs_control": HARMFUL}},
        burn_windows={"acme": {"availability": QUIET}},
    )
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 50}}}
    decision = decide(policy, flags(document), health, now=NOW, last_change={}).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.DOWN, 25)


@pytest.mark.parametrize(
    ("arms", "reason"),
    [
        (
            CLOSE,
            "errors_vs_control: inconclusive: difference +0.50 pp, interval [+0.17 pp, +0.83 pp], "
            "harm when above +0.20 pp (treatment 1.50% of 20,000, control 1.00% of 20,000, over 30m)",
        ),
        (
            SMALL,
            "errors_vs_control: inconclusive: 312 of 500 requests in control (treatment 0.30% of "
            "1,000, control 0.64% of 312, over 30m)",
        ),
        (None, "errors_vs_control: inconclusive: 0 of 500 requests in control"),
    ],
)
def test_an_inconclusive_comparison_holds_and_never_steps_up(arms, reason):
    decision = plan(arms).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.HOLD, 50)
    assert decision.reasons == (reason,)
    assert evidence(decision, "errors_vs_control").verdict is Verdict.NO_DATA


def test_inconclusive_holds_even_when_no_data_rolls_back():
    # Doubt is not absence: a young comparison is inconclusive on every early run.
    decision = plan(CLOSE, no_data="no_data: rollback\n").decisions[0]
    assert decision.action is Action.HOLD
    # Absence still follows the policy's choice.
    decision = plan(None, no_data="no_data: rollback\n").decisions[0]
    assert decision.action is Action.ROLLBACK


def test_a_sample_ratio_mismatch_holds_with_both_shares():
    # 31 % of requests in treatment while the flag says 10 %.
    decision = plan(Arms(Counts(31, 3_100), Counts(69, 6_900)), pct=10).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.HOLD, 10)
    assert decision.reasons[0].startswith(
        "errors_vs_control: sample ratio mismatch: 31 % of requests in treatment, "
        "the flag says 10 %"
    )


def test_the_same_arms_match_the_flag_at_its_own_percentage():
    quarter = Arms(Counts(50, 25_000), Counts(150, 75_000))
    assert plan(quarter, pct=25).decisions[0].action is Action.UP
    decision = plan(quarter, pct=10).decisions[0]
    assert decision.reasons[0].startswith(
        "errors_vs_control: sample ratio mismatch: 25 % of requests in treatment, "
        "the flag says 10 %"
    )


def test_each_feature_checks_the_sample_ratio_against_its_own_percentage():
    text = policy_text().replace("features:\n", "features:\n  ledger:\n")
    policy = parse_policy(text, source=SOURCE)
    health = Health(
        readings={"acme": {"coverage": Reading(97.0)}},
        arms={"acme": {"errors_vs_control": Arms(Counts(5, 5_000), Counts(50, 5_000))}},
        burn_windows={"acme": {"availability": QUIET}},
    )
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": 50}, "ledger": {"pct": 10}},
    }
    decisions = decide(policy, flags(document), health, now=NOW, last_change={}).decisions
    by_feature = {d.feature: d.action for d in decisions}
    assert by_feature == {"receipts": Action.UP, "ledger": Action.HOLD}


@pytest.mark.parametrize(
    ("windows", "outcome", "reason"),
    [
        (
            {
                "1h": Counts(200, 10_000),
                "5m": Counts(20, 1_000),
                "6h": Counts(10, 60_000),
                "30m": Counts(1, 5_000),
            },
            BurnOutcome.BREACHED,
            "burning 20x over 1h and 20x over 5m, both above 14.4x (SLO 99.9 %)",
        ),
        (
            # 1h burns fast but the last 5 minutes are clean: over, no page.
            {
                "1h": Counts(200, 10_000),
                "5m": Counts(0, 1_000),
                "6h": Counts(10, 60_000),
                "30m": Counts(1, 5_000),
            },
            BurnOutcome.HEALTHY,
            "burning 20x over 1h, 0x over 5m, 0.167x over 6h, 0.2x over 30m (SLO 99.9 %)",
        ),
        (
            {
                "1h": Counts(80, 10_000),
                "5m": Counts(8, 1_000),
                "6h": Counts(480, 60_000),
                "30m": Counts(40, 5_000),
            },
            BurnOutcome.BREACHED,
            "burning 8x over 6h and 8x over 30m, both above 6x (SLO 99.9 %)",
        ),
        (
            {"1h": Counts(1, 10_000), "5m": Counts(0, 0), "6h": Counts(10, 60_000)},
            BurnOutcome.NO_DATA,
            "no requests over 5m, 30m (SLO 99.9 %)",
        ),
    ],
)
def test_the_multiwindow_multi_burn_rate_rule(windows, outcome, reason):
    burn = judge_burn(windows, objective=0.999, pairs=DEFAULT_PAIRS)
    assert (burn.outcome, burn.reason) == (outcome, reason)


def test_a_burning_slo_steps_down_and_a_quiet_one_lets_the_ramp_go_on():
    fast = {"1h": Counts(200, 10_000), "5m": Counts(20, 1_000)} | dict(list(QUIET.items())[2:])
    decision = plan(BALANCED, burn=fast).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.DOWN, 25)
    assert decision.reasons == (
        "availability: burning 20x over 1h and 20x over 5m, both above 14.4x (SLO 99.9 %)",
    )
    assert plan(BALANCED).decisions[0].action is Action.UP


def test_the_burn_windows_and_rates_can_be_set():
    text = policy_text().replace(
        "      total: 'sum by (tenant) (increase(http_requests_total[$window]))'\n",
        "      total: 'sum by (tenant) (increase(http_requests_total[$window]))'\n"
        "      windows: [{long: 2h, short: 10m, burn_rate: 10}]\n",
    )
    assert parse_policy(text, source=SOURCE).slos[0].pairs == (BurnPair("2h", "10m", 10.0),)


def test_a_shadow_signal_is_shown_and_never_decides():
    result = plan(BALANCED, coverage=50.0, gate=False)
    decision = result.decisions[0]
    assert (decision.action, decision.to_pct) == (Action.UP, 100)
    assert not any("coverage" in reason for reason in decision.reasons)
    shadow = evidence(decision, "coverage")
    assert (shadow.verdict, shadow.gate) == (Verdict.BREACHED, False)
    body = pull_request_body(result, base_commit="0" * 40)
    assert "❌ min 50 / >= 95 / 30m (shadow)" in body
    assert "healthy when >= 95, shadow: shown, never decides" in body
    # The same signal as a gate steps down.
    assert plan(BALANCED, coverage=50.0).decisions[0].action is Action.DOWN


def test_a_shadow_signal_without_data_holds_nothing():
    assert plan(BALANCED, coverage=None, gate=False).decisions[0].action is Action.UP


def test_the_pull_request_body_shows_both_ratios_the_difference_and_interval_and_sizes():
    body = pull_request_body(plan(HARMFUL), base_commit="0" * 40)
    assert (
        "❌ T 2.00% of 50,000 · C 0.40% of 50,000 · Δ +1.60 pp [+1.39 pp, +1.81 pp] / "
        "harm > +0.20 pp / 30m (critical)"
    ) in body
    assert (
        "treatment against control since each tenant's last change (the window in its cell)" in body
    )
    small = pull_request_body(plan(SMALL), base_commit="0" * 40)
    assert (
        "❔ inconclusive: 312 of 500 requests in control · T 0.30% of 1,000 · C 0.64% of 312"
        in small
    )


def test_json_carries_the_counts_and_the_interval():
    found = plan_to_json(plan(HARMFUL))["decisions"][0]["evidence"]
    evidence = next(e for e in found if e["signal"] == "errors_vs_control")
    assert evidence["comparison"]["treatment"] == {"events": 1_000, "total": 50_000, "ratio": 0.02}
    assert evidence["comparison"]["control"] == {"events": 200, "total": 50_000, "ratio": 0.004}
    assert evidence["comparison"]["outcome"] == "breached"
    low, high = evidence["comparison"]["interval"]
    assert low < evidence["comparison"]["difference"] < high


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    query: coverage_pct\n",
            "    query: coverage_pct\n    compare: {events: a, total: b, worse_by_more_than: 0.1}\n",
            f"{SOURCE}: signals[2]: give one of query (with healthy), compare or slo; got query and compare",
        ),
        (
            '    query: coverage_pct\n    healthy: ">= 95"\n',
            "",
            f"{SOURCE}: signals[2]: give one of query (with healthy), compare or slo; got none of them",
        ),
        (
            '    query: coverage_pct\n    healthy: ">= 95"\n',
            "    query: coverage_pct\n",
            f"{SOURCE}: signals[2]: a query signal needs healthy, a comparison such as '>= 95'",
        ),
        (
            "      min_total: 500\n",
            '      min_total: 500\n    healthy: "<= 1"\n',
            f"{SOURCE}: signals[0].healthy: only a query signal has healthy; a compare signal is judged by its own rule",
        ),
        (
            "      events: 'sum by (tenant) (increase(http_requests_errors_total[$window]))'\n",
            "      events: 'sum by (tenant) (increase(http_requests_errors_total[1h]))'\n",
            f"{SOURCE}: signals[1].slo.events: 'sum by (tenant) (increase(http_requests_errors_total[1h]))' "
            "has no $window; write it where each window goes, e.g. sum by (tenant) (increase(errors_total[$window]))",
        ),
        (
            "      objective: 0.999\n",
            "      objective: 0.999\n      windows: [{long: 5m, short: 1h, burn_rate: 14.4}]\n",
            f"{SOURCE}: signals[1].slo.windows[0]: short 1h is not shorter than long 5m",
        ),
        (
            "      objective: 0.999\n",
            "      objective: 0.999\n      windows: [{long: 1h, short: 0m, burn_rate: 14.4}]\n",
            f"{SOURCE}: signals[1].slo.windows[0].short: '0m' is not longer than zero; give a duration such as 5m",
        ),
        (
            "      worse_by_more_than: 0.002\n",
            "      worse_by_more_than: 0.002\n      alpha: 0.5\n",
            f"{SOURCE}: signals[0].compare.alpha: 0.5 is greater than or equal to the maximum of 0.5",
        ),
        (
            "      min_total: 500\n",
            "      min_total: 500\n      max_window: 20m\n",
            f"{SOURCE}: signals[0].compare.max_window: '20m' is shorter than bake_time 30m; "
            "give at least 30m",
        ),
        (
            '      control: "off"\n',
            '      control: "on"\n',
            f"{SOURCE}: signals[0].compare.control: 'on' is also the treatment; give the variant "
            "label's value on the other side of the flag, e.g. 'off'",
        ),
        (
            '      treatment: "on"\n',
            '      treatment: "off"\n',
            f"{SOURCE}: signals[0].compare.control: 'off' is also the treatment; give the variant "
            "label's value on the other side of the flag, e.g. 'off'",
        ),
        (
            "      total: 'sum by (tenant, variant) (increase(http_requests_total[$window]))'\n",
            "      total: 'sum by (tenant, variant) (increase(http_requests_total[2h]))'\n",
            f"{SOURCE}: signals[0].compare.total: 'sum by (tenant, variant) "
            "(increase(http_requests_total[2h]))' has no $window; write it where the window goes, "
            "e.g. sum by (tenant, variant) (increase(errors_total[$window]))",
        ),
        (
            '      treatment: "on"\n',
            "      treatment: on\n",
            f"{SOURCE}: signals[0].compare.treatment: True is not of type 'string'",
        ),
    ],
)
def test_signal_kinds_are_checked_with_a_message_naming_the_place(old, new, message):
    text = policy_text()
    assert old in text
    with pytest.raises(InputErrors) as caught:
        parse_policy(text.replace(old, new), source=SOURCE)
    assert [p.message for p in caught.value.problems] == [message]


def test_doubt_has_a_kind_of_its_own_that_the_holds_summary_groups_by():
    assert plan(CLOSE).decisions[0].kind is Kind.INCONCLUSIVE
    mismatch = plan(Arms(Counts(31, 3_100), Counts(69, 6_900)), pct=10).decisions[0]
    assert mismatch.kind is Kind.SAMPLE_RATIO_MISMATCH
    assert plan(SMALL).decisions[0].kind is Kind.NO_DATA  # too few requests: absence
    assert plan(HARMFUL).decisions[0].kind is Kind.CRITICAL
    body = pull_request_body(plan(CLOSE), base_commit="0" * 40)
    assert "| ⏸️ hold |" in body
    assert "| inconclusive comparison |" in body


def test_a_tenant_at_0_percent_steps_up_on_its_other_signals():
    # No treatment yet, so nothing to compare: the comparison cannot hold the first step.
    decision = plan(Arms(None, Counts(50, 10_000)), pct=0).decisions[0]
    assert (decision.action, decision.to_pct) == (Action.UP, 1)
    assert (
        "errors_vs_control: not compared at 0 %: every request is in control "
        "(treatment no data, control 0.50% of 10,000, over 30m)"
    ) in decision.reasons
    # A breach elsewhere still steps down; at 0 % there is nowhere lower to go.
    assert plan(Arms(None, Counts(50, 10_000)), pct=0, coverage=50.0).decisions[0].action is (
        Action.HOLD
    )


def test_treatment_served_at_0_percent_is_a_sample_ratio_mismatch():
    decision = plan(Arms(Counts(10, 1_000), Counts(50, 9_000)), pct=0).decisions[0]
    assert (decision.action, decision.kind) == (Action.HOLD, Kind.SAMPLE_RATIO_MISMATCH)


def test_a_shadow_signal_does_not_change_what_a_pull_request_proposes():
    # A person who closed the step is not asked again because a shadow signal flipped.
    quiet = plan(HARMFUL, coverage=97.0, gate=False)
    noisy = plan(HARMFUL, coverage=50.0, gate=False)
    assert changes_fingerprint(quiet) == changes_fingerprint(noisy)
    # As a gate, the same flip is new evidence.
    gated = plan(HARMFUL, coverage=50.0)
    assert changes_fingerprint(gated) != changes_fingerprint(plan(HARMFUL, coverage=97.0))


def test_few_counts_right_after_a_change_hold_even_with_no_data_rollback():
    # Counts start at the tenant's last change: 5 minutes after it they are few by design.
    rollback = "no_data: rollback\n"
    young = plan(SMALL, no_data=rollback, changed_minutes_ago=5).decisions[0]
    assert (young.kind, young.action, young.to_pct) == (Kind.NO_DATA, Action.HOLD, 50)
    assert young.reasons == (
        "errors_vs_control: inconclusive: 312 of 500 requests in control "
        "(treatment 0.30% of 1,000, control 0.64% of 312, over 30m)",
    )
    # Baked, and still too few: absence, which no_data: rollback acts on.
    baked = plan(SMALL, no_data=rollback, changed_minutes_ago=45).decisions[0]
    assert (baked.kind, baked.action) == (Kind.NO_DATA, Action.ROLLBACK)
    assert plan(SMALL, no_data=rollback).decisions[0].action is Action.ROLLBACK
    # Counts over less than the bake time, though this feature changed long ago: a change
    # under another feature started them afresh (the variant label names no feature).
    short = Arms(SMALL.treatment, SMALL.control, window=timedelta(minutes=5))
    other_feature = plan(short, no_data=rollback, changed_minutes_ago=600).decisions[0]
    assert (other_feature.kind, other_feature.action) == (Kind.NO_DATA, Action.HOLD)
    # A threshold signal without data is absence whatever the comparison's age.
    missing = plan(SMALL, no_data=rollback, changed_minutes_ago=5, coverage=None).decisions[0]
    assert missing.action is Action.ROLLBACK


def test_the_terminal_shows_both_ratios_the_difference_and_interval_sizes_and_shadows():
    harmful = plan_to_text(plan(HARMFUL), every=True)
    assert "Δ +1.60 pp [+1.39 pp, +1.81 pp] · T 2.00% of 50,000 · C 0.40% of 50,000 ✗ critical" in (
        harmful
    )
    assert "inconclusive: 312 of 500 requests in control · T 0.30% of 1,000 · C 0.64% of 312" in (
        plan_to_text(plan(SMALL), every=True)
    )
    mismatch = plan_to_text(plan(Arms(Counts(31, 3_100), Counts(69, 6_900)), pct=10), every=True)
    assert "sample ratio mismatch: 31 % of requests in treatment, the flag says 10 %" in mismatch
    assert "Δ +0.50 pp [" in plan_to_text(plan(CLOSE), every=True)  # inconclusive: its interval
    # A shadow signal is marked in the terminal as in the pull request: it decided nothing.
    shadow = plan_to_text(plan(BALANCED, coverage=50.0, gate=False), every=True)
    assert "50 ✗ (shadow)" in shadow
    assert "97 (shadow)" in plan_to_text(plan(BALANCED, gate=False), every=True)
