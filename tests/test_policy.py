from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.errors import InputError, InputErrors
from bot.policy import Condition, NoData, Ramp, RollbackTo, parse_policy
from tests.builders import POLICY_YAML


def parse(text: str):
    return parse_policy(text, source=".github/rampbot.yml")


def problems(text: str) -> list[str]:
    with pytest.raises(InputErrors) as caught:
        parse(text)
    return [p.message for p in caught.value.problems]


def test_defaults():
    policy = parse(POLICY_YAML)
    assert policy.flags_file == "flags.json"
    assert policy.base_branch == "main"
    assert policy.bake_time == timedelta(minutes=30)
    assert policy.no_data is NoData.HOLD
    assert policy.rollback is RollbackTo.STEP
    assert policy.rollback_severities == {"critical"}
    # the default aggregate is the worst case for the condition
    assert [s.aggregate for s in policy.signals] == ["min", "max", "max"]


def test_feature_inherits_defaults_and_overrides_them():
    text = POLICY_YAML.replace(
        "features:\n  receipts:\n    steps: [1, 5, 10, 25, 50, 100]\n",
        "defaults:\n  step_up: 10\n  max: 60\nfeatures:\n  receipts:\n  attest:\n    max: 30\n",
    )
    policy = parse(text)
    assert policy.features["receipts"] == Ramp(None, 10, 10, 0, 60)
    assert policy.features["attest"] == Ramp(None, 10, 10, 0, 30)


def test_a_feature_without_steps_gets_the_default_schedule():
    text = POLICY_YAML.replace("    steps: [1, 5, 10, 25, 50, 100]\n", "")
    assert parse(text).features["receipts"].steps == (1, 5, 10, 25, 50, 100)


@pytest.mark.parametrize(
    ("pct", "up", "down"),
    [(0, 1, 0), (1, 5, 0), (7, 10, 5), (50, 100, 25), (100, 100, 50)],
)
def test_schedule_steps(pct, up, down):
    ramp = Ramp(steps=(1, 5, 10, 25, 50, 100), step_up=None, step_down=None, min=0, max=100)
    assert (ramp.up(pct), ramp.down(pct)) == (up, down)


def test_conditions():
    assert Condition.parse(">= 95").holds(95)
    assert not Condition.parse("<= 30").holds(30.5)
    assert Condition.parse(" > 0.5 ").breach_text() == "<= 0.5"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('healthy: ">= 95"', 'healthy: "at least 95"'),
            ".github/rampbot.yml: signals[0].healthy: 'at least 95' is not valid: "
            'a comparison and a number, such as ">= 95" or "<= 30"',
        ),
        (
            ("bake_time: 30m", "bake_time: 30 minutes"),
            ".github/rampbot.yml: bake_time: '30 minutes' is not valid: "
            "a duration such as 90s, 30m, 1h30m or 2d",
        ),
        (
            ("    steps: [1, 5, 10, 25, 50, 100]", "    steps: [1, 5, 10, 250]"),
            ".github/rampbot.yml: features.receipts.steps[3]: 250 is greater than the maximum of 100",
        ),
        (
            ("bake_time: 30m", "bake_tme: 30m"),
            ".github/rampbot.yml: (top level): unknown key 'bake_tme'; expected one of: $schema, "
            "alerts, bake_time, base_branch, defaults, features, flags_file, freeze, limits, "
            "no_data, paused, prometheus, pull_request, redact, rings, rollback, serve, signals, "
            "tenant_label, tenants",
        ),
        (
            ("    steps: [1, 5, 10, 25, 50, 100]", "    steps: [1, 5]\n    step_up: 5"),
            ".github/rampbot.yml: features.receipts: give either steps or step_up/step_down, not both",
        ),
        (
            ("    steps: [1, 5, 10, 25, 50, 100]", "    min: 50\n    max: 10"),
            ".github/rampbot.yml: features.receipts: min 50 is greater than max 10",
        ),
        (
            ("  - name: anchor_p95_ms", "  - name: coverage"),
            ".github/rampbot.yml: signals[1].name: 'coverage' is used by another signal",
        ),
    ],
)
def test_policy_errors_say_where_and_what(change, message):
    old, new = change
    assert old in POLICY_YAML
    assert problems(POLICY_YAML.replace(old, new)) == [message]


def test_schema_error_lines_point_into_the_yaml():
    with pytest.raises(InputErrors) as caught:
        parse(POLICY_YAML.replace('healthy: "<= 30"', 'healthy: "30"'))
    assert caught.value.problems[0].line == 9


def test_malformed_yaml_gives_line_and_column():
    with pytest.raises(InputError) as caught:
        parse("signals: [\nfeatures: {}\n")
    assert caught.value.message == (
        ".github/rampbot.yml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
    )


def test_a_feature_s_own_kind_of_ramp_replaces_the_inherited_kind():
    text = POLICY_YAML.replace(
        "features:\n  receipts:\n    steps: [1, 5, 10, 25, 50, 100]\n",
        "defaults:\n  steps: [1, 5, 10]\nfeatures:\n  receipts:\n    step_up: 20\n  attest:\n",
    )
    policy = parse(text)
    assert policy.features["receipts"] == Ramp(None, 20, 20, 0, 100)
    assert policy.features["attest"].steps == (1, 5, 10)


STEERING = """\
paused: false
limits:
  tenants_per_run: 5
  steps_per_day: 2
rings:
  - name: canary
    tenants: [acme]
  - name: rest
freeze:
  - name: weekend
    cron: "0 18 * * FRI"
    duration: 2d14h
    timezone: Europe/Berlin
  - name: holidays
    from: 2026-12-20
    to: 2027-01-04T08:00
    timezone: America/New_York
"""


def test_steering_keys_are_read():
    chosen = parse(STEERING + POLICY_YAML)
    assert chosen.paused is False
    assert (chosen.limits.tenants_per_run, chosen.limits.steps_per_day) == (5, 2)
    assert [(ring.name, ring.tenants) for ring in chosen.rings] == [
        ("canary", ("acme",)),
        ("rest", None),
    ]
    assert (chosen.ring_of("acme"), chosen.ring_of("globex")) == (0, 1)
    weekend, holidays = chosen.freeze
    assert (weekend.cron, weekend.duration, str(weekend.zone)) == (
        "0 18 * * FRI",
        timedelta(days=2, hours=14),
        "Europe/Berlin",
    )
    assert (holidays.start, holidays.end) == (datetime(2026, 12, 20), datetime(2027, 1, 4, 8))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("tenants_per_run: 5", "tenants_per_run: 0"),
            ".github/rampbot.yml: limits.tenants_per_run: 0 is less than the minimum of 1; "
            "write a whole number of 1 or more, or leave the key out for no limit",
        ),
        (
            ("tenants_per_run: 5", "tenants_per_run: -2"),
            ".github/rampbot.yml: limits.tenants_per_run: -2 is less than the minimum of 1; "
            "write a whole number of 1 or more, or leave the key out for no limit",
        ),
        (
            ("steps_per_day: 2", "steps_per_day: 1.5"),
            ".github/rampbot.yml: limits.steps_per_day: 1.5 is not of type 'integer'; "
            "write a whole number of 1 or more, or leave the key out for no limit",
        ),
        (
            ("steps_per_day: 2", "steps_per_day: '2'"),
            ".github/rampbot.yml: limits.steps_per_day: '2' is not of type 'integer'; "
            "write a whole number of 1 or more, or leave the key out for no limit",
        ),
        (
            ("paused: false", "paused: 'yes'"),
            ".github/rampbot.yml: paused: 'yes' is not of type 'boolean'; write true or false",
        ),
        (
            ("duration: 2d14h", "duration: 0s"),
            ".github/rampbot.yml: freeze[0].duration: '0s' is not longer than zero; give a "
            "duration such as 2d14h",
        ),
        (
            ("    timezone: Europe/Berlin\n", ""),
            ".github/rampbot.yml: freeze[0]: 'timezone' is a required property; give each "
            "window a name, a timezone, and either cron with duration or from with to",
        ),
        (
            ("tenants: [acme]", "tenants: []"),
            ".github/rampbot.yml: rings[0].tenants: [] should be non-empty; name each tenant "
            "of the ring once, or leave tenants out in the last ring for every other tenant",
        ),
        (
            ("rings:\n  - name: canary\n    tenants: [acme]\n  - name: rest\n", "rings: []\n"),
            ".github/rampbot.yml: rings: [] should be non-empty; list at least one ring, or "
            "leave rings out",
        ),
        (
            ("tenants: [acme]", "tenants: [acme, acme]"),
            ".github/rampbot.yml: rings[0].tenants: ['acme', 'acme'] has non-unique elements; "
            "name each tenant of the ring once, or leave tenants out in the last ring for every "
            "other tenant",
        ),
        (
            ("timezone: Europe/Berlin", "timezone: Europe/Bonn"),
            ".github/rampbot.yml: freeze[0].timezone: 'Europe/Bonn' is not an IANA time zone; "
            "use a name such as Europe/Berlin, America/New_York or UTC",
        ),
        (
            ('cron: "0 18 * * FRI"', 'cron: "0 25 * * FRI"'),
            ".github/rampbot.yml: freeze[0].cron: '0 25 * * FRI' is not a cron expression "
            "(Bad hour); write five fields such as '0 18 * * FRI'",
        ),
        (
            ("    duration: 2d14h\n", ""),
            ".github/rampbot.yml: freeze[0]: 'cron' is given without 'duration'; give each "
            "window a name, a timezone, and either cron with duration or from with to",
        ),
        (
            ("    from: 2026-12-20\n    to: 2027-01-04T08:00\n", ""),
            ".github/rampbot.yml: freeze[1].name: window 'holidays' needs either cron and "
            "duration, or from and to",
        ),
        (
            ("from: 2026-12-20", "from: 2027-02-01"),
            ".github/rampbot.yml: freeze[1].to: '2027-01-04T08:00' is not after from "
            "'2027-02-01'; give a to later than from",
        ),
        (
            ("from: 2026-12-20", "from: '2026-13-20'"),
            ".github/rampbot.yml: freeze[1].from: '2026-13-20' is not a date such as 2026-12-24 "
            "or 2026-12-24T18:00",
        ),
        (
            ("from: 2026-12-20", "from: 2026-12-20 25:00"),
            ".github/rampbot.yml: freeze[1].from: '2026-12-20 25:00' is not a date such as "
            "2026-12-24 or 2026-12-24T18:00",
        ),
        (
            ("  - name: rest\n", "  - name: rest\n  - name: late\n    tenants: [globex]\n"),
            ".github/rampbot.yml: rings[1]: ring 'rest' has no tenants; only the last ring may "
            "leave them out (it then holds every other tenant)",
        ),
        (
            ("  - name: rest\n", "  - name: canary\n    tenants: [globex]\n"),
            ".github/rampbot.yml: rings[1].name: 'canary' is used by another ring; give each "
            "ring its own name",
        ),
        (
            ("  - name: rest\n", "  - name: early\n    tenants: [acme]\n"),
            ".github/rampbot.yml: rings[1].tenants[0]: 'acme' is already in ring 'canary'; a "
            "tenant belongs to one ring",
        ),
        (
            ("tenants: [acme]", "tenants: [acme, hooli]"),
            ".github/rampbot.yml: rings[0].tenants[1]: 'hooli' is not in tenants; add it there "
            "or remove it from the ring",
        ),
    ],
)
def test_steering_errors_say_where_and_what(change, message):
    old, new = change
    text = STEERING + POLICY_YAML
    assert old in text
    assert problems(text.replace(old, new)) == [message]


def test_an_impossible_unquoted_date_is_an_error_not_a_crash():
    with pytest.raises(InputError) as caught:
        parse(STEERING.replace("from: 2026-12-20", "from: 2026-13-20") + POLICY_YAML)
    assert caught.value.message == (
        ".github/rampbot.yml: invalid YAML: month must be in 1..12; "
        "write dates as 2026-12-24 or 2026-12-24T18:00"
    )


def test_redact_settings_are_read_with_their_defaults():
    assert parse(POLICY_YAML).redact.phone_regions == ("US", "GB", "DE", "FR", "IN")
    policy = parse(
        POLICY_YAML
        + "redact:\n  phone_regions: [gb, ie]\n  deny: ['acme\\.example']\n  allow: ['@\\dx\\.png']\n"
    )
    assert policy.redact.phone_regions == ("GB", "IE")
    assert policy.redact.deny == (r"acme\.example",)
    assert policy.redact.allow == (r"@\dx\.png",)


@pytest.mark.parametrize(
    ("redact", "message"),
    [
        (
            "phone_regions: [US, XX]",
            ".github/rampbot.yml: redact.phone_regions[1]: 'XX' is not a region libphonenumber "
            "knows; use ISO 3166-1 codes such as GB or IN",
        ),
        (
            "deny: ['(acme']",
            ".github/rampbot.yml: redact.deny[0]: '(acme' is not a regular expression (missing ), "
            "unterminated subpattern at position 0); fix it, or escape the special characters "
            "(\\. for a dot, \\( for a bracket)",
        ),
        (
            "allow: ['x', 'a*']",
            ".github/rampbot.yml: redact.allow[1]: 'a*' matches the empty text, so everywhere; make "
            "it need one character",
        ),
    ],
)
def test_redact_errors_name_the_entry_and_what_to_do(redact, message):
    assert problems(POLICY_YAML + f"redact:\n  {redact}\n") == [message]
