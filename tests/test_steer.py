"""Stop switches, freeze windows, rings and limits: pure decisions with fixed clocks."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.change_log import By, Change
from bot.decide import Action, Kind, Plan, decide
from bot.flags import FlagChange, Flags, apply_changes
from bot.metadata import changes_fingerprint
from bot.ramp_pr import RAMP_BRANCH, ROLLBACK_BRANCH, split
from bot.render import pull_request_body, pull_request_title
from bot.steer import steer
from tests.builders import GREEN, flags, health, policy

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)  # a Thursday
SIGNALS = """\
bake_time: 30m
signals:
  - name: coverage
    query: coverage_pct
    healthy: ">= 95"
  - name: anchor_p95_ms
    query: anchor_p95_ms
    healthy: "<= 30"
  - name: divergence
    query: divergence
    healthy: "<= 0"
    critical: true
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
  attest:
    steps: [1, 5, 10, 25, 50, 100]
"""
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")
RINGS = """\
rings:
  - name: canary
    tenants: [acme]
  - name: early
    tenants: [globex, initech]
  - name: rest
"""
RED = {**GREEN, "divergence": 3.0}


def document(pcts: dict[str, int], *, attest: dict[str, int] | None = None) -> dict:
    def feature(values: dict[str, int]) -> dict:
        return {"pct": 0, "tenants": {t: {"pct": p} for t, p in values.items()}}

    return {
        "version": "flags-v1",
        "features": {"receipts": feature(pcts), "attest": feature(attest or {})},
    }


def change(tenant: str, at: datetime, from_pct: int, to_pct: int, feature: str = "receipts"):
    return Change(
        feature=feature,
        tenant=tenant,
        at=at,
        commit="c0ffee",
        from_pct=from_pct,
        to_pct=to_pct,
        by=By.BOT_STEP if to_pct > from_pct else By.BOT_ROLLBACK,
        author="rampbot",
        pr=None,
        evidence=None,
        decision=None,
        parent=None,
    )


def steered(
    extra: str,
    *,
    pcts: dict[str, int] | None = None,
    values: dict | None = None,
    changes=(),
    now: datetime = NOW,
    stopped: bool = False,
    tenants: tuple[str, ...] = TENANTS,
) -> Plan:
    chosen = policy(f"tenants: [{', '.join(tenants)}]\n" + extra + SIGNALS)
    flag_values = flags(document(pcts or {}))
    measured = health(values or dict.fromkeys(tenants, GREEN))
    plan = decide(chosen, flag_values, measured, now=now, last_change={})
    return steer(plan, chosen, flag_values, now=now, changes=list(changes), stopped=stopped)


def moves(plan: Plan, feature: str = "receipts") -> dict[str, tuple[int, Action]]:
    return {d.tenant: (d.to_pct, d.action) for d in plan.decisions if d.feature == feature}


def held(plan: Plan, tenant: str, feature: str = "receipts"):
    return next(d for d in plan.decisions if d.tenant == tenant and d.feature == feature)


# --- stop switches ----------------------------------------------------------------------------


def test_paused_policy_holds_every_step_up_and_lets_rollbacks_through():
    values = {**dict.fromkeys(TENANTS, GREEN), "globex": RED}
    plan = steered("paused: true\n", pcts={"globex": 25}, values=values)
    assert moves(plan)["acme"] == (0, Action.HOLD)
    assert moves(plan)["globex"] == (10, Action.ROLLBACK)
    decision = held(plan, "acme")
    assert decision.kind is Kind.PAUSED
    assert decision.reasons[0] == (
        "paused: true in the policy stops every step up; remove it to resume"
    )
    # The evidence is still there to read.
    assert decision.reasons[1] == "coverage min 97 over 30m >= 95"


def test_the_dashboard_stop_box_holds_every_step_up():
    plan = steered("", stopped=True)
    assert {action for _, action in moves(plan).values()} == {Action.HOLD}
    assert held(plan, "hooli").reasons[0] == (
        'the ramp dashboard\'s "Stop all step-ups" box is ticked: no step up; untick it to resume'
    )


# --- Resume boxes ----------------------------------------------------------------------------


def resumed_plan(*, values: dict | None = None, extra: str = "") -> tuple[Plan, Flags]:
    """acme and globex held after a rollback in receipts; acme's Resume box ticked."""
    chosen = policy(f"tenants: [{', '.join(TENANTS)}]\n" + extra + SIGNALS)
    doc = document({"acme": 10, "globex": 5, "initech": 25})
    for tenant in ("acme", "globex"):
        doc["features"]["receipts"]["tenants"][tenant]["hold"] = "rolled back from 25%"
    flag_values = flags(doc)
    measured = health(values or dict.fromkeys(TENANTS, GREEN))
    plan = decide(chosen, flag_values, measured, now=NOW, last_change={})
    ticked = {("receipts", "acme"), ("attest", "acme"), ("receipts", "initech")}
    return steer(plan, chosen, flag_values, now=NOW, changes=[], resume=ticked), flag_values


def test_a_ticked_resume_box_deletes_only_that_tenant_s_hold_marker():
    plan, flag_values = resumed_plan()
    assert held(plan, "acme").kind is Kind.RESUMED
    assert held(plan, "acme").action is Action.HOLD  # no step up in the same change
    assert held(plan, "globex").kind is Kind.HELD  # not ticked
    assert held(plan, "initech").action is Action.UP  # ticked, but not held: nothing to resume
    assert held(plan, "acme", "attest").kind is Kind.HEALTHY
    assert plan.changed
    assert [c for c in plan.flag_changes() if c.resume] == [
        FlagChange("receipts", "acme", 10, resume=True)
    ]
    edited = json.loads(apply_changes(flag_values, plan.flag_changes()).text)
    assert edited["features"]["receipts"]["tenants"]["acme"] == {"pct": 10}
    assert edited["features"]["receipts"]["tenants"]["globex"]["hold"] == "rolled back from 25%"
    assert (
        held(plan, "acme")
        .reasons[0]
        .startswith(
            "held after a rollback (rolled back from 25%); its Resume box on the ramp dashboard is "
            "ticked: this change deletes features.receipts.tenants.acme.hold"
        )
    )


def test_a_resume_goes_with_the_ramp_branch_even_when_every_step_up_is_stopped():
    values = {**dict.fromkeys(TENANTS, GREEN), "initech": RED}
    plan, _ = resumed_plan(values=values, extra="paused: true\n")
    assert held(plan, "acme").kind is Kind.RESUMED
    parts = split(plan)
    ramp, rollback = parts[RAMP_BRANCH], parts[ROLLBACK_BRANCH]
    assert ramp is not None
    assert rollback is not None
    assert ramp.resumed == (held(plan, "acme"),)
    assert rollback.resumed == ()
    assert held(rollback, "acme").kind is Kind.HELD
    assert pull_request_title(ramp) == "Resume receipts for acme; 9 holds"
    body = pull_request_body(ramp, base_commit="0" * 40)
    assert "Resumes acme (receipts): their Resume box is ticked" in body
    assert changes_fingerprint(ramp) != changes_fingerprint(
        replace(ramp, decisions=rollback.decisions)
    )


def test_a_tenant_that_breaches_again_is_not_resumed():
    values = {**dict.fromkeys(TENANTS, GREEN), "acme": RED}
    plan, _ = resumed_plan(values=values)
    assert held(plan, "acme").action is Action.ROLLBACK
    assert plan.resumed == ()


# --- freeze windows -------------------------------------------------------------------------

FREEZE = """\
freeze:
  - name: weekend
    cron: "0 18 * * FRI"
    duration: 2d14h
    timezone: Europe/Berlin
  - name: holidays
    from: 2026-12-20
    to: 2027-01-04
    timezone: America/New_York
"""


def test_a_freeze_window_holds_steps_up_and_names_its_end():
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    values = {**dict.fromkeys(TENANTS, GREEN), "initech": {**GREEN, "coverage": 90.0}}
    plan = steered(FREEZE, pcts={"initech": 10}, values=values, now=saturday)
    assert moves(plan)["acme"] == (0, Action.HOLD)
    assert moves(plan)["initech"] == (5, Action.DOWN)  # a step down goes through
    decision = held(plan, "acme")
    assert decision.kind is Kind.FROZEN
    assert decision.reasons[0] == (
        "frozen: freeze window weekend until 2026-11-30 08:00 CET (Europe/Berlin); "
        "no step up until then"
    )


def test_outside_every_window_nothing_is_frozen():
    plan = steered(FREEZE)  # a Thursday in November
    assert moves(plan)["acme"] == (1, Action.UP)


def test_a_date_range_freezes_on_its_own_zone_s_calendar():
    holidays = "freeze:\n" + FREEZE.split("  - name: holidays\n")[1].join(
        ["  - name: holidays\n", ""]
    )
    # 2026-12-20 03:00 UTC is still the 19th in New York.
    assert moves(steered(holidays, now=datetime(2026, 12, 20, 3, 0, tzinfo=UTC)))["acme"][1] is (
        Action.UP
    )
    plan = steered(holidays, now=datetime(2026, 12, 20, 6, 0, tzinfo=UTC))
    assert held(plan, "acme").reasons[0] == (
        "frozen: freeze window holidays until 2027-01-05 00:00 EST (America/New_York); "
        "no step up until then"
    )


def test_a_freeze_over_a_daylight_saving_change_ends_on_the_wall_clock():
    # Berlin leaves summer time on Sunday 2026-10-25: Monday 07:30 local is 06:30 UTC, and the
    # weekend (Friday 18:00 + 2d14h) still holds until 08:00 local.
    plan = steered(FREEZE, now=datetime(2026, 10, 26, 6, 30, tzinfo=UTC))
    assert held(plan, "acme").kind is Kind.FROZEN
    assert "until 2026-10-26 08:00 CET" in held(plan, "acme").reasons[0]
    assert moves(steered(FREEZE, now=datetime(2026, 10, 26, 7, 0, tzinfo=UTC)))["acme"][1] is (
        Action.UP
    )


def test_a_stop_switch_wins_over_a_freeze_window_in_the_reason():
    plan = steered("paused: true\n" + FREEZE, now=datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    assert held(plan, "acme").kind is Kind.PAUSED


# --- rings ----------------------------------------------------------------------------------


def test_a_later_ring_waits_until_the_ring_before_reaches_the_percentage():
    plan = steered(RINGS, pcts={"acme": 5, "globex": 1, "initech": 1, "umbrella": 1})
    assert moves(plan)["acme"] == (10, Action.UP)  # canary: the first ring never waits
    assert moves(plan)["globex"] == (5, Action.UP)  # acme is at 5%
    assert moves(plan)["initech"] == (5, Action.UP)
    assert moves(plan)["umbrella"] == (1, Action.HOLD)  # globex and initech are at 1%
    assert moves(plan)["hooli"] == (1, Action.UP)  # to 1%, which early has reached
    decision = held(plan, "umbrella")
    assert decision.kind is Kind.RING
    assert decision.reasons[0] == (
        "ring rest waits for ring early to reach 5% in receipts (globex at 1%, initech at 1%); "
        "until every tenant of early is at 5% or its max"
    )


def test_a_ring_waits_while_any_tenant_before_it_is_lower():
    plan = steered(RINGS, pcts={"acme": 25, "globex": 10, "initech": 5, "umbrella": 5})
    decision = held(plan, "umbrella")
    assert (decision.to_pct, decision.action) == (5, Action.HOLD)
    assert decision.reasons[0] == (
        "ring rest waits for ring early to reach 10% in receipts (initech at 5%); until every "
        "tenant of early is at 10% or its max"
    )
    assert moves(plan)["globex"] == (25, Action.UP)


def test_a_ring_at_its_max_lets_the_next_ring_pass():
    text = RINGS + SIGNALS.replace("  attest:\n    steps: [1, 5, 10, 25, 50, 100]\n", "")
    text = text.replace(
        "  receipts:\n    steps: [1, 5, 10, 25, 50, 100]\n",
        "  receipts:\n    steps: [1, 5, 10, 25, 50, 100]\n    max: 50\n",
    )
    text = text.replace("tenants: [globex, initech]", "tenants: [globex]")
    chosen = policy("tenants: [acme, globex]\n" + text)
    flag_values = flags(
        {
            "version": "flags-v1",
            "features": {
                "receipts": {"pct": 0, "tenants": {"acme": {"pct": 50}, "globex": {"pct": 25}}}
            },
        }
    )
    measured = health({"acme": GREEN, "globex": GREEN})
    plan = steer(
        decide(chosen, flag_values, measured, now=NOW, last_change={}),
        chosen,
        flag_values,
        now=NOW,
        changes=[],
    )
    # globex goes to 50, its max; acme is at its max (50) too, below nothing it could reach.
    assert moves(plan)["globex"] == (50, Action.UP)


def test_a_ring_waits_after_a_rollback_in_the_ring_before_within_the_bake_time():
    pcts = {"acme": 10, "globex": 5}
    recent = [change("acme", NOW - timedelta(minutes=20), 25, 10)]
    plan = steered(RINGS, pcts=pcts, changes=recent)
    decision = held(plan, "globex")
    assert decision.kind is Kind.RING
    assert decision.reasons[0] == (
        "ring early waits: ring canary went down in receipts (acme, last at 2026-11-26 09:10 "
        "UTC), less than the bake time of 30m ago; until 2026-11-26 09:40 UTC at the earliest"
    )
    # Once the bake time has passed, the ring goes on.
    later = [change("acme", NOW - timedelta(minutes=40), 25, 10)]
    plan = steered(RINGS, pcts=pcts, changes=later)
    assert moves(plan)["globex"] == (10, Action.UP)


def test_a_ring_waits_while_the_ring_before_is_rolled_back_in_this_plan():
    values = {**dict.fromkeys(TENANTS, GREEN), "acme": RED}
    plan = steered(RINGS, pcts={"acme": 25, "globex": 5}, values=values)
    assert moves(plan)["acme"] == (10, Action.ROLLBACK)
    assert held(plan, "globex").reasons[0] == (
        "ring early waits: ring canary is stepping down in this plan (acme, receipts); until it "
        "has baked again"
    )


def test_tenants_no_ring_names_come_after_every_ring():
    text = "rings:\n  - name: canary\n    tenants: [acme]\n"
    plan = steered(text, pcts={"acme": 1, "hooli": 1})
    assert moves(plan)["hooli"] == (1, Action.HOLD)
    assert held(plan, "hooli").reasons[0].startswith("ring rest waits for ring canary")


def test_the_pull_request_body_shows_each_ring_and_why_it_waits():
    plan = steered(RINGS, pcts={"acme": 5, "globex": 1, "initech": 1, "umbrella": 1})
    body = pull_request_body(plan, base_commit="0" * 40)
    assert "### Rings\n\n| ring | tenants | steps up |\n|---|---|---|\n" in body
    assert "| canary | acme | free to step up |" in body
    assert (
        "| early | globex, initech | ring early waits for ring canary to reach 1% in attest "
        "(acme at 0%); until every tenant of canary is at 1% or its max |"
    ) in body
    assert (
        "| rest | umbrella, hooli | ring rest waits for ring early to reach 5% in receipts "
        "(globex at 1%, initech at 1%); until every tenant of early is at 5% or its max; "
        "ring rest waits for ring early to reach 1% in attest (globex at 0%, initech at 0%); "
        "until every tenant of early is at 1% or its max |"
    ) in body


# --- limits ---------------------------------------------------------------------------------


def test_steps_per_day_counts_the_steps_of_the_last_24_hours_from_history():
    recent = [
        change("acme", NOW - timedelta(hours=30), 0, 1),  # more than a day ago: not counted
        change("acme", NOW - timedelta(hours=20), 1, 5),
        change("acme", NOW - timedelta(hours=2), 5, 10),
        change("globex", NOW - timedelta(hours=2), 0, 1),
        change("acme", NOW - timedelta(hours=1), 10, 5),  # a step down is not a step up
    ]
    plan = steered(
        "limits:\n  steps_per_day: 2\n",
        pcts={"acme": 5, "globex": 1},
        changes=recent,
        tenants=("acme", "globex"),
    )
    decision = held(plan, "acme")
    assert decision.kind is Kind.LIMIT
    assert decision.reasons[0] == (
        "limit steps_per_day 2 reached for receipts/acme (2 steps up in the last 24h); "
        "next step after 2026-11-26 13:30 UTC"
    )
    assert moves(plan)["globex"] == (5, Action.UP)
    # Per feature: acme's attest steps are its own.
    assert moves(plan, "attest")["acme"] == (1, Action.UP)


def test_steps_per_day_does_not_count_a_feature_or_file_that_appeared():
    # A flags file committed today, or a feature added to it at 5%, was written by a person; it
    # is no step up, and the first step of the ramp is not held back for a day by it.
    appeared = [
        replace(change(tenant, NOW - timedelta(hours=2), 0, 5), from_pct=None)
        for tenant in ("acme", "globex")
    ]
    plan = steered(
        "limits:\n  steps_per_day: 1\n",
        pcts={"acme": 5, "globex": 5},
        changes=appeared,
        tenants=("acme", "globex"),
    )
    assert moves(plan)["acme"] == (10, Action.UP)
    assert moves(plan)["globex"] == (10, Action.UP)


def test_tenants_per_run_takes_rings_first_then_the_longest_waiting():
    recent = [
        change("hooli", NOW - timedelta(hours=3), 0, 1, feature="attest"),
        change("umbrella", NOW - timedelta(hours=5), 0, 1, feature="attest"),
    ]
    text = "limits:\n  tenants_per_run: 3\nrings:\n  - name: canary\n    tenants: [initech]\n"
    pcts = {**dict.fromkeys(TENANTS, 5), "initech": 10}
    plan = steered(text, pcts=pcts, changes=recent)
    up = sorted({d.tenant for d in plan.decisions if d.action is Action.UP})
    # initech (first ring), then acme and globex (no change read: waited longest), before
    # umbrella (5h ago) and hooli (3h ago).
    assert up == ["acme", "globex", "initech"]
    decision = held(plan, "umbrella")
    assert decision.kind is Kind.LIMIT
    assert decision.reasons[0] == (
        "limit tenants_per_run 3 reached; next run (the first tenants by ring, then by the "
        "longest wait since their last change, go first)"
    )
    plan = steered("limits:\n  tenants_per_run: 4\n", pcts=pcts, changes=recent)
    assert moves(plan)["initech"] == (25, Action.UP)
    # Both features of a chosen tenant step up: the limit counts tenants.
    assert moves(plan, "attest")["umbrella"] == (1, Action.UP)
    assert moves(plan, "attest")["hooli"] == (0, Action.HOLD)
    assert moves(plan)["umbrella"] == (10, Action.UP)
    assert moves(plan)["hooli"] == (5, Action.HOLD)


def test_limits_never_hold_a_rollback_or_a_step_down():
    values = dict.fromkeys(TENANTS, RED) | {"acme": {**GREEN, "coverage": 80.0}}
    recent = [change(t, NOW - timedelta(minutes=5), 10, 25) for t in TENANTS]
    plan = steered(
        "paused: true\nlimits:\n  tenants_per_run: 1\n  steps_per_day: 1\n" + RINGS + FREEZE,
        pcts=dict.fromkeys(TENANTS, 25),
        values=values,
        changes=recent,
        now=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    )
    assert moves(plan)["acme"] == (10, Action.DOWN)
    assert {t: a for t, (_, a) in moves(plan).items() if t != "acme"} == dict.fromkeys(
        TENANTS[1:], Action.ROLLBACK
    )


# --- invariant ----------------------------------------------------------------------------

signal = st.sampled_from([None, 50.0, 97.0])
tenant_values = st.fixed_dictionaries(
    {
        "coverage": signal,
        "anchor_p95_ms": st.sampled_from([22.0, 40.0]),
        "divergence": st.sampled_from([0.0, 0.0, 2.0]),
    }
)
extras = st.lists(
    st.sampled_from(
        [
            "paused: true\n",
            "limits:\n  tenants_per_run: 1\n",
            "limits:\n  steps_per_day: 1\n",
            RINGS,
            FREEZE,
        ]
    ),
    unique=True,
)


@settings(max_examples=150, deadline=None)
@given(
    extra=extras,
    pcts=st.fixed_dictionaries({t: st.sampled_from([0, 1, 5, 25, 100]) for t in TENANTS}),
    values=st.fixed_dictionaries(dict.fromkeys(TENANTS, tenant_values)),
    hours=st.lists(st.integers(0, 48), max_size=6),
    now=st.datetimes(
        min_value=datetime(2026, 10, 20), max_value=datetime(2027, 1, 10), timezones=st.just(UTC)
    ),
    stop=st.booleans(),
)
def test_steering_only_ever_holds_steps_up(extra, pcts, values, hours, now, stop):
    text = "".join(extra)
    if text.count("limits:\n") > 1:  # both limits: one mapping
        text = text.replace("limits:\n  steps_per_day: 1\n", "").replace(
            "limits:\n", "limits:\n  steps_per_day: 1\n", 1
        )
    chosen = policy(f"tenants: [{', '.join(TENANTS)}]\n" + text + SIGNALS)
    flag_values = flags(document(pcts))
    plan = decide(chosen, flag_values, health(values), now=now, last_change={})
    recent = [change(TENANTS[h % 5], now - timedelta(hours=h), 0, 1) for h in hours]
    after = steer(
        plan,
        chosen,
        flag_values,
        now=now,
        changes=recent,
        stopped=stop,
    )
    assert len(after.decisions) == len(plan.decisions)
    for before, now_decided in zip(plan.decisions, after.decisions, strict=True):
        if before.action is not Action.UP:
            assert now_decided == before  # a rollback, a step down or a hold: untouched
        elif now_decided != before:
            assert now_decided.action is Action.HOLD
            assert now_decided.to_pct == before.from_pct
            assert now_decided.kind in (Kind.PAUSED, Kind.FROZEN, Kind.RING, Kind.LIMIT)


# --- from a real history, through `rampbot plan` ----------------------------------------------


def test_rampbot_plan_counts_steps_per_day_from_the_git_history(tmp_path, capsys):
    import json
    import subprocess

    from bot.cli import main
    from tests.test_last_change import commit, write

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / ".github").mkdir()
    (repo / ".github" / "rampbot.yml").write_text(
        "tenants: [acme, globex]\nlimits:\n  steps_per_day: 1\n" + SIGNALS.split("  attest:")[0]
    )
    (repo / "health.json").write_text(
        json.dumps(
            {"evaluated_at": NOW.isoformat(), "tenants": dict.fromkeys(["acme", "globex"], GREEN)}
        )
    )
    subprocess.run(["git", "add", ".github", "health.json"], cwd=repo, check=True)

    def flags_text(acme: int, globex: int) -> str:
        tenants = {"acme": {"pct": acme}, "globex": {"pct": globex}}
        return (
            json.dumps(
                {"version": "flags-v1", "features": {"receipts": {"pct": 0, "tenants": tenants}}}
            )
            + "\n"
        )

    write(repo, flags_text(1, 1))
    commit(repo, NOW - timedelta(days=3), "start", "commit")
    write(repo, flags_text(5, 1))  # acme stepped up 5 hours ago; globex two days ago
    commit(repo, NOW - timedelta(hours=5), "step acme", "commit")

    assert (
        main(["-C", str(repo), "plan", "--health", "health.json", "--format", "json"], environ={})
        == 0
    )
    decisions = {d["tenant"]: d for d in json.loads(capsys.readouterr().out)["decisions"]}
    assert (decisions["globex"]["to"], decisions["globex"]["action"]) == (5, "up")
    assert (decisions["acme"]["to"], decisions["acme"]["action"]) == (5, "hold")
    assert decisions["acme"]["reasons"][0] == (
        "limit steps_per_day 1 reached for receipts/acme (1 steps up in the last 24h); "
        "next step after 2026-11-27 04:30 UTC"
    )
