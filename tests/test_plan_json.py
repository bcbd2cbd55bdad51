"""rampbot plan --format json: the pieces written fast are json.dumps' text, byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decide import (
    PAUSED_DASHBOARD,
    PAUSED_FEATURE,
    PAUSED_POLICY,
    PAUSED_TENANT,
    Action,
    Decision,
    Evidence,
    Kind,
    Plan,
    Verdict,
)
from bot.health import Alert
from bot.policy import Condition
from bot.render import JSON_BATCH, plan_json_pieces, plan_to_json
from tests.test_render import fleet_plan, realistic_plan

PAUSED_BY = [PAUSED_FEATURE, PAUSED_TENANT, PAUSED_POLICY, PAUSED_DASHBOARD]
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["acme", "ü", "😀", "\x7f", "\u2028", "a\x00b", '"\\']
)
numbers = st.floats(allow_nan=False) | st.sampled_from([1e-05, 1e16, 0.0001, -0.0, 97.0])


@st.composite
def evidence(draw: st.DrawFn) -> Evidence:
    value = draw(st.none() | numbers)
    verdicts = [Verdict.NO_DATA] if value is None else list(Verdict)  # decide's invariant
    return Evidence(
        signal=draw(texts),
        aggregate=draw(st.sampled_from(["min", "max"])),
        value=value,
        condition=Condition(draw(st.sampled_from([">=", "<="])), draw(numbers)),
        window=draw(texts),
        verdict=draw(st.sampled_from(verdicts)),
        critical=draw(st.booleans()),
        samples=draw(st.none() | st.integers(min_value=-(2**70), max_value=2**70)),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    shared = [tuple(draw(st.lists(evidence(), max_size=3))) for _ in range(3)]
    alerts = tuple(
        Alert(
            draw(texts), draw(st.none() | texts), draw(st.none() | texts), draw(st.none() | texts)
        )
        for _ in range(draw(st.integers(0, 2)))
    )

    def note(kind: Kind) -> str:
        # What decide and steer write there: who paused, else free text (a hold marker, ...).
        return draw(st.sampled_from(PAUSED_BY) if kind is Kind.PAUSED else texts)

    kinds = [draw(st.sampled_from(list(Kind))) for _ in range(draw(st.integers(0, 6)))]
    decisions = tuple(
        Decision(
            tenant=draw(texts),
            feature=draw(texts),
            from_pct=draw(st.integers(0, 100)),
            to_pct=draw(st.integers(0, 100)),
            action=draw(st.sampled_from(list(Action))),
            kind=kind,
            evidence=draw(st.sampled_from(shared)),  # shared, as a tenant's are across features
            alerts=draw(st.sampled_from([(), alerts])),
            note=note(kind),
            changed_at=NOW,
            age=draw(st.none() | st.integers(-100, 10_000)),
        )
        for kind in kinds
    )
    return Plan(decisions=decisions, evaluated_at=NOW, window=draw(texts))


def cleaned(value: Any, clean: Callable[[str], str]) -> Any:
    """bot.outbound.clean_data with ``clean``: every string, keys too."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {cleaned(key, clean): cleaned(item, clean) for key, item in value.items()}
    if isinstance(value, list):
        return [cleaned(item, clean) for item in value]
    return value


CLEANERS = [
    lambda text: text,
    lambda text: text.replace("a", "[x]"),  # a key ("evaluated_at") changes too
    lambda text: text.upper(),
]


@settings(max_examples=300, deadline=None)
@given(plans(), st.sampled_from(CLEANERS))
def test_the_pieces_are_json_dumps_text(plan: Plan, clean: Callable[[str], str]) -> None:
    expected = json.dumps(cleaned(plan_to_json(plan), clean), indent=2)
    assert "".join(plan_json_pieces(plan, clean=clean)) == expected
    assert "".join(plan_json_pieces(plan)) == json.dumps(plan_to_json(plan), indent=2)


def test_realistic_and_fleet_plans_over_several_batches() -> None:
    for plan in (realistic_plan(), fleet_plan(JSON_BATCH + 7)):
        assert "".join(plan_json_pieces(plan)) == json.dumps(plan_to_json(plan), indent=2)
