"""The pull request title and body, the job summary and the hidden block, read as GitHub would."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.decide import PAUSED_TENANT, Action, Decision, Kind, Plan, decide
from bot.flags import FeatureFlag, Flags, TenantFlag
from bot.health import Alert, Health, Reading
from bot.markdown import ZERO_WIDTH_JOINER
from bot.metadata import body_fingerprint, plan_fingerprint, read_body_metadata
from bot.policy import parse_policy
from bot.prometheus import graph_url
from bot.render import (
    JOB_SUMMARY_LIMIT,
    PULL_REQUEST_BODY_LIMIT,
    bar,
    github_length,
    job_summary,
    plan_to_markdown,
    pull_request_body,
    pull_request_title,
)
from tests.test_markdown import HOSTILE, find_all, parse_html, pings, render_html, shown, tables

GOLDEN = Path(__file__).parent / "data" / "golden" / "pr_body.md"
# RAMPBOT_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py rewrites the golden file.
UPDATE_GOLDEN = os.environ.get("RAMPBOT_UPDATE_GOLDEN") == "1"

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
BASE = "4d4ed45e0c1f2a3b4c5d6e7f8091a2b3c4d5e6f7"
PROMETHEUS = "https://prometheus.example.com"
POLICY = """\
bake_time: 30m
signals:
  - name: coverage
    query: min by (tenant) (receipts_shadow_coverage_ratio) * 100
    healthy: ">= 95"
  - name: anchor_p95_ms
    query: histogram_quantile(0.95, sum by (tenant, le) (rate(anchor_seconds_bucket[5m]))) * 1000
    healthy: "<= 30"
  - name: divergence
    query: sum by (tenant) (increase(receipts_divergence_total[5m]))
    healthy: "<= 0"
    critical: true
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
  attest:
    steps: [1, 5, 10, 25, 50, 100]
  ledger:
    step_up: 10
    max: 50
"""
GREEN = {"coverage": 98.5, "anchor_p95_ms": 21.0, "divergence": 0.0}
FEATURES = ("receipts", "attest", "ledger")


def make_plan(
    health: Mapping[str, Mapping[str, float | None]],
    *,
    pct: Mapping[tuple[str, str], int] | None = None,
    paused: frozenset[tuple[str, str]] = frozenset(),
    alerts: tuple[Alert, ...] = (),
    baking: frozenset[str] = frozenset(),
    policy_text: str = POLICY,
    default_pct: int = 10,
) -> Plan:
    """Decide with the real decision core; tenants come from the health, as when discovered."""
    policy = parse_policy(policy_text, source=".github/rampbot.yml")
    pct = pct or {}
    features = {
        feature: FeatureFlag(
            pct=default_pct,
            tenants={
                tenant: TenantFlag(
                    pct=pct.get((feature, tenant), default_pct),
                    paused=(feature, tenant) in paused,
                )
                for tenant in health
            },
        )
        for feature in policy.features
    }
    flags = Flags(version="flags-v1", revision=1, features=features, text="", source="flags.json")
    readings = {
        tenant: {signal: Reading(value) for signal, value in values.items()}
        for tenant, values in health.items()
    }
    last_change = {
        (feature, tenant): NOW - timedelta(minutes=12)
        for tenant in baking
        for feature in policy.features
    }
    return decide(
        policy,
        flags,
        Health(
            readings=readings,
            alerts=alerts,
            evaluated_at=NOW,
            query_urls={
                signal.name: graph_url(PROMETHEUS, signal.query, end=NOW, window=policy.bake_time)
                for signal in policy.signals
            },
        ),
        now=NOW,
        last_change=last_change,
    )


def realistic_plan() -> Plan:
    """3 features, 12 tenants: steps up, a breach, one rollback, one no-data hold, baking."""
    tenants = [
        "acme", "globex", "initech", "umbrella", "hooli", "soylent",
        "wayne", "stark", "tyrell", "cyberdyne", "wonka", "oscorp",
    ]  # fmt: skip
    health: dict[str, dict[str, float | None]] = {
        tenant: {**GREEN, "coverage": 96.0 + index * 0.3} for index, tenant in enumerate(tenants)
    }
    health["acme"]["coverage"] = 97.2
    health["globex"]["coverage"] = 93.1
    health["initech"]["divergence"] = 4.0
    health["umbrella"]["anchor_p95_ms"] = None
    pct = {("receipts", t): 10 for t in tenants} | {
        ("receipts", "initech"): 25,
        ("attest", "initech"): 0,
        ("ledger", "initech"): 0,
        ("ledger", "stark"): 50,
        ("receipts", "globex"): 5,
    }
    alerts = (
        Alert(
            name="ReceiptsDivergence",
            severity="critical",
            tenant="initech",
            summary="Shadow reads disagree for initech; paged oncall@initech.example from 10.0.3.17",
        ),
        Alert(name="SlowExport", severity="warning", tenant="acme", summary="export lag 4m"),
    )
    return make_plan(
        health,
        pct=pct,
        paused=frozenset({("attest", "umbrella"), ("ledger", "umbrella")}),
        alerts=alerts,
        baking=frozenset({"hooli", "soylent", "wayne"}),
    )


def fleet_plan(tenants: int, *, name: str = "tenant-{:05d}") -> Plan:
    """A large fleet: most step up, every 50th breaches, every 97th has no data."""
    health: dict[str, dict[str, float | None]] = {}
    for index in range(tenants):
        values: dict[str, float | None] = dict(GREEN)
        if index % 50 == 7:
            values["coverage"] = 91.0
        if index % 97 == 3:
            values["anchor_p95_ms"] = None
        health[name.format(index)] = values
    return make_plan(health)


# --- Golden file ------------------------------------------------------------------------------


def test_golden_pull_request_body() -> None:
    body = pull_request_body(realistic_plan(), base_commit=BASE)
    if UPDATE_GOLDEN:
        GOLDEN.write_text(body, encoding="utf-8")
    assert body == GOLDEN.read_text(encoding="utf-8"), (
        "the body changed; review it, then RAMPBOT_UPDATE_GOLDEN=1 python -m pytest "
        "tests/test_render.py rewrites tests/data/golden/pr_body.md"
    )


def test_realistic_plan_has_what_the_golden_file_promises() -> None:
    plan = realistic_plan()
    counts = {action: sum(d.action is action for d in plan.decisions) for action in Action}
    assert len(plan.decisions) == 36
    assert counts[Action.ROLLBACK] == 1
    no_data_holds = [
        d for d in plan.decisions if d.action is Action.HOLD and "no data" in " ".join(d.reasons)
    ]
    assert [(d.tenant, d.feature) for d in no_data_holds] == [("umbrella", "receipts")]


# --- Read as HTML -----------------------------------------------------------------------------


def _table_with(html: str, heading: str) -> list[dict[str, str]]:
    for table in tables(html):
        if table[0][:2] == ["feature", "tenant"] and any(heading in cell for cell in table[0]):
            header = table[0]
            assert all(len(row) == len(header) for row in table), "a row has the wrong cell count"
            return [dict(zip(header, row, strict=True)) for row in table[1:]]
    raise AssertionError(f"no table with {heading!r}")


def test_body_tables_as_html_cells() -> None:
    html = render_html(pull_request_body(realistic_plan(), base_commit=BASE))
    changes = _table_with(html, "coverage")
    by_key = {(row["feature"], row["tenant"]): row for row in changes}
    # Changes come first, rollbacks on top.
    assert changes[0]["action"] == "⏪ rollback"
    rollback = by_key["receipts", "initech"]
    assert rollback["from → to"] == "25% → 10%"
    assert rollback["rollout"] == "█░░░░░░░░░ 10%"
    assert rollback["divergence"] == "❌ max 4 / <= 0 / 30m (critical)"
    assert rollback["why"] == "alert ReceiptsDivergence (critical) firing"
    up = by_key["receipts", "acme"]
    assert up["from → to"] == "10% → 25%"
    assert up["action"] == "⬆️ up"
    assert up["coverage"] == "✅ min 97.2 / >= 95 / 30m"
    assert up["anchor_p95_ms"] == "✅ max 21 / <= 30 / 30m"
    assert by_key["ledger", "globex"]["coverage"] == "❌ min 93.1 / >= 95 / 30m"
    # The full table in the collapsed section has every decision, the no-data hold included.
    full = _table_with(html.split("<details>")[1], "coverage")
    assert len(full) == 36
    no_data = next(r for r in full if (r["feature"], r["tenant"]) == ("receipts", "umbrella"))
    assert no_data["anchor_p95_ms"] == "❔ no data / <= 30 / 30m"
    assert no_data["action"] == "⏸️ hold"


def test_signal_headers_link_to_the_graph_at_evaluation_time() -> None:
    html = render_html(pull_request_body(realistic_plan(), base_commit=BASE))
    links = [a.attrs["href"] or "" for a in find_all(parse_html(html).root, "a")]
    assert links, "no graph links"
    assert all(href.startswith(PROMETHEUS + "/graph?g0.expr=") for href in links)
    assert any("g0.end_input=2026-11-26+09%3A30%3A00" in href for href in links)
    assert any("g0.range_input=30m" in href for href in links)
    # Health from a snapshot has no Prometheus to link to.
    from_snapshot = dataclasses.replace(realistic_plan(), graph_links={})
    plain = render_html(pull_request_body(from_snapshot, base_commit=BASE))
    assert not find_all(parse_html(plain).root, "a")


def test_firing_alert_is_quoted_and_redacted() -> None:
    html = render_html(pull_request_body(realistic_plan(), base_commit=BASE))
    quotes = [q.text for q in find_all(parse_html(html).root, "blockquote")]
    assert len(quotes) == 1  # the warning did not drive a decision
    assert "ReceiptsDivergence · critical · initech (receipts)" in quotes[0]
    assert "paged [email] from [ip]" in quotes[0]
    assert "oncall@" not in html
    assert "10.0.3.17" not in html


def test_body_says_how_to_undo_and_what_happens_unmerged() -> None:
    body = pull_request_body(realistic_plan(), base_commit=BASE)
    assert "rampbot revert" in body
    assert "*Revert* button" in body
    assert "If nobody merges" in body


def test_holds_past_a_handful_are_summarised() -> None:
    html = render_html(pull_request_body(realistic_plan(), base_commit=BASE))
    holds = html.split("<h3>Holds</h3>")[1].split("<h3>")[0]
    items = [li.text for li in find_all(parse_html(holds).root, "li")]
    assert any(item.startswith("baking: 9 — ") for item in items)
    assert "no data: 1 — umbrella (receipts)" in items
    assert "paused: 2 — umbrella (attest), umbrella (ledger)" in items


def test_few_holds_are_listed() -> None:
    plan = make_plan({"acme": GREEN, "globex": {**GREEN, "coverage": None}})
    html = render_html(pull_request_body(plan, base_commit=BASE))
    holds = html.split("<h3>Holds</h3>")[1].split("<details>")[0]
    rows = tables(holds)[0]
    assert [row[1] for row in rows[1:]] == ["globex"] * 3


# --- Titles -----------------------------------------------------------------------------------

ONE_FEATURE = POLICY.split("  attest:")[0]


def test_title_of_a_ramp_with_holds() -> None:
    plan = make_plan(
        {
            "acme": GREEN,
            "globex": GREEN,
            "hooli": GREEN,
            "initech": {**GREEN, "coverage": None},
            "soylent": GREEN,
        },
        baking=frozenset({"hooli", "soylent"}),
        policy_text=ONE_FEATURE,
    )
    assert pull_request_title(plan) == "Ramp receipts to 25% for acme, globex; hold 3 tenants"


def test_title_of_a_rollback_names_the_breach() -> None:
    attest_only = POLICY.split("features:")[0] + "features:\n  attest: {}\n"
    plan = make_plan({"initech": {**GREEN, "divergence": 4.0}}, policy_text=attest_only)
    assert pull_request_title(plan) == "Rollback attest for initech (divergence 4 > 0)"


def test_title_without_changes() -> None:
    plan = make_plan({"acme": GREEN}, baking=frozenset({"acme"}), policy_text=ONE_FEATURE)
    assert pull_request_title(plan) == "No change: hold 1 tenant"


@pytest.mark.parametrize("tenants", [4, 40, 10_000])
def test_title_stays_short(tenants: int) -> None:
    title = pull_request_title(fleet_plan(tenants, name="a-rather-long-tenant-name-{:05d}"))
    assert len(title) <= 120
    assert "\n" not in title
    assert title.startswith("Step down " if tenants > 7 else "Ramp ")


def renamed(plan: Plan, placeholder: str, name: str) -> Plan:
    """``plan`` with a tenant renamed to a name the decision core would hold, not move.

    The renderer must stay safe whatever reaches it, so these tests hand it names straight.
    """
    return dataclasses.replace(
        plan,
        decisions=tuple(
            d._replace(tenant=name) if d.tenant == placeholder else d for d in plan.decisions
        ),
    )


def test_title_cannot_ping_or_break_a_line() -> None:
    plan = renamed(make_plan({"x": GREEN}, policy_text=ONE_FEATURE), "x", "@org/team\n#12")
    title = pull_request_title(plan)
    assert "\n" not in title
    assert f"@{ZERO_WIDTH_JOINER}org/team #{ZERO_WIDTH_JOINER}12" in title


# --- Hostile values ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_tenant_and_alert_cannot_break_the_body(value: str) -> None:
    alert = Alert(name=value, severity="critical", tenant="x", summary=value)
    plan = make_plan(
        {"x": {**GREEN, "divergence": 1.0}, "acme": GREEN},
        alerts=(alert,),
        policy_text=ONE_FEATURE,
    )
    plan = renamed(plan, "x", value)
    body = pull_request_body(plan, base_commit=BASE)
    html = render_html(body)
    tree = parse_html(html)
    assert not find_all(tree.root, "img")
    assert not find_all(tree.root, "b")
    assert not find_all(tree.root, "del")
    assert all(
        (a.attrs["href"] or "").startswith(PROMETHEUS + "/") for a in find_all(tree.root, "a")
    )
    assert len(find_all(tree.root, "details")) == 1
    assert html.count("<details>") == 1
    assert html.count("</details>") == 1
    assert pings(html) == []
    expected = " ".join(value.replace("\u2028", " ").split()).replace("\u202e", "")
    expected = expected.replace("\u202c", "")
    rows = _table_with(html, "coverage")
    assert shown(rows[0]["tenant"]) == expected
    assert rows[0]["action"] == "⏪ rollback"
    quote = find_all(tree.root, "blockquote")[0].text
    assert shown(quote).count(expected) >= 2
    # The hidden block keeps the exact name and still parses.
    metadata = read_body_metadata(body)
    assert metadata is not None
    assert [value, "receipts", 10, 5, "rollback"] in metadata["decisions"]


# --- Size -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tenants", [10, 1_000, 10_000])
def test_body_fits_github_at_any_fleet_size(tenants: int) -> None:
    plan = fleet_plan(tenants)
    body = pull_request_body(plan, base_commit=BASE)
    assert github_length(body) <= PULL_REQUEST_BODY_LIMIT
    assert len(body) <= PULL_REQUEST_BODY_LIMIT
    metadata = read_body_metadata(body)
    assert metadata is not None
    assert metadata["decisions_total"] == len(plan.decisions)
    assert metadata["fingerprint"] == plan_fingerprint(plan, base_commit=BASE)
    html = render_html(body)
    changes = _table_with(html, "coverage")
    assert changes[0]["action"] == "⬇️ down"  # changes first, the worst on top
    if tenants == 10_000:
        assert "does not fit here: it is in the job summary" in body
        assert "more changes, left out to fit" in body
        assert metadata["decisions_complete"] is False
        # Changes are listed before holds in the hidden block too.
        assert all(entry[4] != "hold" for entry in metadata["decisions"])


def test_body_with_long_hostile_names_at_10000_tenants_fits() -> None:
    plan = fleet_plan(10_000, name="|<img src=x onerror=alert(1)>@org/team#{:05d}" + "x" * 60)
    body = pull_request_body(plan, base_commit=BASE)
    assert github_length(body) <= PULL_REQUEST_BODY_LIMIT
    assert not find_all(parse_html(render_html(body)).root, "img")


def test_body_respects_a_smaller_limit() -> None:
    body = pull_request_body(fleet_plan(1_000), base_commit=BASE, limit=20_000)
    assert github_length(body) <= 20_000
    assert read_body_metadata(body) is not None


def test_job_summary_fits_one_mebibyte_at_10000_tenants() -> None:
    plan = fleet_plan(10_000)
    summary = job_summary(plan)
    assert len(summary.encode()) <= JOB_SUMMARY_LIMIT
    html = render_html(summary)
    detailed = _table_with(html, "coverage")
    assert detailed[0]["action"] == "⬇️ down"
    # Past the detailed rows, every other change is still named, grouped by step.
    listed = "".join(
        li.text
        for li in find_all(parse_html(html).root, "li")
        if li.text.startswith(("⬆️", "⬇️", "⏪"))
    )
    named = sum(listed.count(f"tenant-{index:05d}") for index in range(10_000))
    assert len(detailed) + named == len(plan.changes)
    assert "more changes, left out to fit" not in summary


def test_plan_markdown_lists_every_decision() -> None:
    plan = realistic_plan()
    html = render_html(plan_to_markdown(plan))
    assert len(_table_with(html.split("<details>")[1], "coverage")) == len(plan.decisions)
    assert "rampbot:metadata" not in plan_to_markdown(plan)


# --- Hidden block and fingerprint -------------------------------------------------------------


def test_metadata_round_trip() -> None:
    plan = realistic_plan()
    metadata = read_body_metadata(pull_request_body(plan, base_commit=BASE))
    assert metadata is not None
    assert metadata["format"] == "rampbot-pr/1"
    assert metadata["evaluated_at"] == "2026-11-26T09:30:00+00:00"
    assert metadata["base_commit"] == BASE
    assert set(metadata["queries"]) == {"coverage", "anchor_p95_ms", "divergence"}
    assert all(value.startswith("sha256:") for value in metadata["queries"].values())
    assert metadata["decisions_complete"] is True
    assert ["initech", "receipts", 25, 10, "rollback"] in metadata["decisions"]
    assert metadata["counts"] == {"up": 17, "down": 3, "rollback": 1, "hold": 15}


def test_metadata_survives_crlf_and_is_invisible() -> None:
    body = pull_request_body(realistic_plan(), base_commit=BASE)
    assert read_body_metadata(body.replace("\n", "\r\n")) == read_body_metadata(body)
    assert "rampbot:metadata" not in parse_html(render_html(body)).root.text


@pytest.mark.parametrize(
    "body",
    [
        "",
        "a body a person wrote",
        "<!-- rampbot:metadata\n{not json\n-->",
        '<!-- rampbot:metadata\n{"format": "other"}\n-->',
        "<!-- rampbot:metadata\n[1, 2]\n-->",
    ],
)
def test_no_metadata(body: str) -> None:
    assert read_body_metadata(body) is None


def test_unchanged_plan_keeps_its_fingerprint() -> None:
    """Values and time move between runs; the same decisions must not edit the pull request."""
    first = realistic_plan()
    later = make_plan(
        {"acme": {**GREEN, "coverage": 99.9}, "globex": GREEN},
        policy_text=ONE_FEATURE,
    )
    again = make_plan({"acme": GREEN, "globex": GREEN}, policy_text=ONE_FEATURE)
    body_later = pull_request_body(later, base_commit=BASE)
    body_again = pull_request_body(again, base_commit=BASE)
    assert body_later != body_again
    assert body_fingerprint(body_later) == body_fingerprint(body_again)
    first_body = pull_request_body(first, base_commit=BASE)
    assert body_fingerprint(first_body) != body_fingerprint(body_again)
    moved_base = pull_request_body(again, base_commit="0" * 40)
    assert body_fingerprint(moved_base) != body_fingerprint(body_again)
    breached = make_plan(
        {"acme": GREEN, "globex": {**GREEN, "coverage": 90}}, policy_text=ONE_FEATURE
    )
    assert body_fingerprint(pull_request_body(breached, base_commit=BASE)) != body_fingerprint(
        body_again
    )


def test_a_body_without_the_block_is_fingerprinted_by_its_text() -> None:
    assert body_fingerprint("edited by hand").startswith("body:sha256:")
    assert body_fingerprint("a") != body_fingerprint("b")


@pytest.mark.parametrize(
    ("pct", "text"),
    [(0, "░░░░░░░░░░ 0%"), (1, "█░░░░░░░░░ 1%"), (25, "███░░░░░░░ 25%"),
     (50, "█████░░░░░ 50%"), (100, "██████████ 100%")],
)  # fmt: skip
def test_bar(pct: int, text: str) -> None:
    assert bar(pct) == text


def test_holds_are_summarised_by_their_kind_not_their_words() -> None:
    # A hold marker is free text from flags.json; words of another rule in it change nothing.
    held = [
        Decision(f"t{n}", "receipts", 10, 10, Action.HOLD, Kind.HELD, note="x is paused")
        for n in range(6)
    ]
    paused = Decision("p", "receipts", 10, 10, Action.HOLD, Kind.PAUSED, note=PAUSED_TENANT)
    plan = Plan(decisions=(*held, paused), evaluated_at=NOW, window="30m")
    html = render_html(pull_request_body(plan, base_commit=BASE))
    holds = html.split("<h3>Holds</h3>")[1].split("<h3>")[0]
    items = [li.text for li in find_all(parse_html(holds).root, "li")]
    assert [item.split(" — ")[0] for item in items] == ["held after a rollback: 6", "paused: 1"]
