"""bot/metadata.py: the fingerprints' quick ways against the rules written out (issue 14)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.decide import Action, Decision, Evidence, Kind, Plan, Verdict
from bot.health import Alert
from bot.metadata import changes_fingerprint, metadata_block, read_body_metadata
from bot.policy import Condition

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

evidence = st.builds(
    Evidence,
    signal=st.sampled_from(["coverage", "p95", "divergence"]),
    aggregate=st.just("min"),
    value=st.just(1.0),
    condition=st.just(Condition.parse(">= 95")),
    window=st.just("30m"),
    verdict=st.sampled_from(list(Verdict)),
    critical=st.booleans(),
    gate=st.booleans(),
)
alerts = st.lists(
    st.builds(
        Alert, name=st.sampled_from(["A", "B"]), severity=st.just("critical"), tenant=st.none()
    ),
    max_size=2,
).map(tuple)


@st.composite
def plans(draw):
    # Some tenants share one evidence tuple across features, as decide's decisions do.
    shared = draw(
        st.lists(st.tuples(st.lists(evidence, max_size=3).map(tuple), alerts), min_size=1)
    )
    decisions = []
    for tenant in draw(st.lists(st.sampled_from(["acme", "globex", "t1", "t2"]), unique=True)):
        for feature in draw(st.lists(st.sampled_from(["receipts", "attest"]), unique=True)):
            judged, firing = draw(st.sampled_from(shared))
            before, after = draw(st.integers(0, 100)), draw(st.integers(0, 100))
            decisions.append(
                Decision(
                    tenant,
                    feature,
                    before,
                    after,
                    draw(st.sampled_from(list(Action))),
                    Kind.HEALTHY,
                    judged,
                    firing,
                )
            )
    return Plan(decisions=tuple(draw(st.permutations(decisions))), evaluated_at=NOW, window="30m")


def reference_changes_fingerprint(plan: Plan) -> str:
    """The fingerprint as first written: each change's entry, sorted, as canonical JSON."""
    claim = sorted(
        [
            d.tenant,
            d.feature,
            d.from_pct,
            d.to_pct,
            d.action.value,
            sorted(e.signal for e in d.evidence if e.gate and e.verdict is not Verdict.HEALTHY),
            sorted(alert.name for alert in d.alerts),
        ]
        for d in plan.decisions
        if d.changed
    )
    canonical = json.dumps(claim, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@settings(max_examples=200, deadline=None)
@given(plans())
def test_the_changes_fingerprint_is_the_one_written_out(plan):
    assert changes_fingerprint(plan) == reference_changes_fingerprint(plan)


@settings(max_examples=100, deadline=None)
@given(plans())
def test_the_block_counts_each_action(plan):
    document = read_body_metadata(metadata_block(plan, base_commit="4d4ed45e" * 5, budget=65_000))
    assert document is not None
    counted = Counter(d.action.value for d in plan.decisions)
    assert document["counts"] == {action.value: counted[action.value] for action in Action}
    assert document["changes_fingerprint"] == reference_changes_fingerprint(plan)
