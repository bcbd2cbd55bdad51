"""bot/consistency.py with plain values: the flags file against the policy's features and ramps."""

from __future__ import annotations

import json
from typing import Any

from bot.consistency import cross_check
from bot.errors import InputError
from bot.flags import parse_flags
from tests.builders import policy

POLICY = """\
tenants: [acme, globex]
bake_time: 30m
signals:
  - name: coverage
    query: coverage_pct
    healthy: ">= 95"
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
  attest:
    step_up: 10
    min: 10
    max: 80
"""


def problems(features: dict[str, Any]) -> list[InputError]:
    flags = parse_flags(flags_text(features), source="flags.json")
    return cross_check(policy(POLICY), flags, policy_source=".github/rampbot.yml")


def flags_text(features: dict[str, Any]) -> str:
    return json.dumps({"version": "flags-v1", "features": features}, indent=2) + "\n"


def line(features: dict[str, Any], number: int | None) -> str:
    """The flags file's line ``number``, stripped."""
    assert number is not None
    return flags_text(features).splitlines()[number - 1].strip()


def test_flags_on_their_ramps_agree() -> None:
    assert (
        problems(
            {
                "receipts": {
                    "pct": 0,
                    "tenants": {"acme": {"pct": 25}, "globex": {"paused": True}},
                },
                "attest": {"pct": 10, "tenants": {"acme": {"pct": 80}}},
                "unramped": {"pct": 33},  # a feature the policy does not ramp is not its business
            }
        )
        == []
    )


def test_a_feature_the_policy_ramps_must_be_in_the_flags() -> None:
    [problem] = problems({"receipts": {"pct": 0}})
    assert problem.message == (
        "flags.json: features: no feature 'attest', which .github/rampbot.yml ramps; "
        "add it (with its pct) or remove it from the policy"
    )
    assert problem.file == "flags.json"
    assert line({"receipts": {"pct": 0}}, problem.line) == '"features": {'


def test_a_percentage_off_the_schedule_names_the_schedule() -> None:
    features = {"receipts": {"pct": 0, "tenants": {"globex": {"pct": 7}}}, "attest": {"pct": 10}}
    [problem] = problems(features)
    assert problem.message == (
        "flags.json: features.receipts.tenants.globex.pct: 7 is not on the schedule of "
        "features.receipts in .github/rampbot.yml (0, 1, 5, 10, 25, 50, 100); "
        "use one of these or add 7 to its steps"
    )
    assert line(features, problem.line) == '"pct": 7'


def test_a_percentage_outside_the_bounds_names_them() -> None:
    features = {"receipts": {"pct": 0}, "attest": {"pct": 5, "tenants": {"acme": {"pct": 90}}}}
    found = problems(features)
    assert [problem.message for problem in found] == [
        "flags.json: features.attest.pct: 5 is outside [10, 80], the bounds of features.attest "
        "in .github/rampbot.yml",
        "flags.json: features.attest.tenants.acme.pct: 90 is outside [10, 80], the bounds of "
        "features.attest in .github/rampbot.yml",
    ]
    assert [line(features, problem.line) for problem in found] == ['"pct": 5,', '"pct": 90']


def test_an_increment_ramp_holds_any_percentage_within_its_bounds() -> None:
    assert problems({"receipts": {"pct": 100}, "attest": {"pct": 37}}) == []


def test_every_problem_is_reported_in_policy_order() -> None:
    found = problems(
        {"receipts": {"pct": 3, "tenants": {"acme": {"pct": 101 - 1}, "b": {"pct": 2}}}}
    )
    assert [problem.message.split(":")[1].strip() for problem in found] == [
        "features.receipts.pct",
        "features.receipts.tenants.b.pct",
        "features",
    ]
