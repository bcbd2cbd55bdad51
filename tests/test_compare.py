from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.compare import (
    Arms,
    Counts,
    Outcome,
    counts_to_json,
    half_width,
    interval,
    judge,
    rho,
    sample_ratio_p_value,
)


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def looks(rng: random.Random, *, p_t: float, p_c: float, batch: int, runs: int):
    """Cumulative counts of both arms after each of ``runs`` looks."""
    treatment = control = Counts(0, 0)
    for _ in range(runs):
        treatment = Counts(treatment.events + binomial(rng, batch, p_t), treatment.total + batch)
        control = Counts(control.events + binomial(rng, batch, p_c), control.total + batch)
        yield treatment, control


@pytest.mark.parametrize(("batch", "rate"), [(200, 0.05), (1_000, 0.01)])
def test_coverage_holds_under_repeated_looks_on_a_a_data(batch, rate):
    # 300 A/A sequences of 12 looks each: the one-sided bounds may cross zero, at any look, in
    # at most alpha of them. A fixed-sample interval looked at 12 times fails far more often.
    rng = random.Random(20261129)
    sequences = 300
    low_crossed = high_crossed = fixed_crossed = 0
    z = NormalDist().inv_cdf(0.95)
    for _ in range(sequences):
        low_hit = high_hit = fixed_hit = False
        for treatment, control in looks(rng, p_t=rate, p_c=rate, batch=batch, runs=12):
            difference, low, high = interval(treatment, control, alpha=0.05)
            low_hit |= low > 0
            high_hit |= high < 0
            error = math.sqrt(
                treatment.ratio * (1 - treatment.ratio) / treatment.total
                + control.ratio * (1 - control.ratio) / control.total
            )
            fixed_hit |= error > 0 and difference - z * error > 0
        low_crossed += low_hit
        high_crossed += high_hit
        fixed_crossed += fixed_hit
    assert low_crossed / sequences <= 0.05
    assert high_crossed / sequences <= 0.05
    assert fixed_crossed / sequences > 0.1  # why a confidence sequence: peeking breaks a z-test


def test_a_real_difference_is_found_as_the_data_grow():
    rng = random.Random(7)
    found = [
        low > 0
        for treatment, control in looks(rng, p_t=0.015, p_c=0.010, batch=20_000, runs=3)
        for _difference, low, _high in [interval(treatment, control, alpha=0.05)]
    ]
    assert found[-1]


@given(
    n=st.integers(min_value=2, max_value=10**8),
    more=st.integers(min_value=1, max_value=10**8),
    variance=st.floats(min_value=1e-6, max_value=0.25),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_the_half_width_shrinks_as_n_grows(n, more, variance, alpha):
    assert half_width(variance=variance, n=n + more, alpha=alpha) <= half_width(
        variance=variance, n=n, alpha=alpha
    )


@given(
    n=st.integers(min_value=10, max_value=10**8),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_the_sequence_is_wider_than_a_fixed_sample_interval(n, alpha):
    # The price of looking at every run: never narrower than the one-look z interval.
    fixed = NormalDist().inv_cdf(1 - alpha) * math.sqrt(0.25 / n)
    assert half_width(variance=0.25, n=n, alpha=alpha) > fixed


@given(
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
    n=st.integers(min_value=100, max_value=10**7),
)
def test_a_smaller_alpha_gives_a_wider_interval(alpha, n):
    assert half_width(variance=0.1, n=n, alpha=alpha / 2) > half_width(
        variance=0.1, n=n, alpha=alpha
    )


def test_rho_and_the_half_width_follow_growthbooks_one_sided_formula():
    # rho = sqrt((-2 ln(2a) + ln(1 - 2 ln(2a))) / N) with a = 0.05, N = 5,000.
    assert rho(alpha=0.05, tuning=5_000) == pytest.approx(0.035578, abs=1e-6)
    # At N units the width is about 2.78 standard errors (a one-look z-test: 1.64).
    width = half_width(variance=1.0, n=5_000, alpha=0.05)
    assert width * math.sqrt(5_000) == pytest.approx(2.779, abs=1e-3)


def test_no_variance_gives_the_point_as_the_interval():
    assert interval(Counts(0, 1_000), Counts(0, 1_000), alpha=0.05) == (0, 0, 0)


ARMS_1K = {"margin": 0.002, "min_total": 500, "share": 0.5}


@pytest.mark.parametrize(
    ("treatment", "control", "outcome", "reason"),
    [
        (
            Counts(200, 100_000),
            Counts(1_000, 100_000),
            Outcome.HEALTHY,
            "no worse than control: difference -0.80 pp, interval [-0.91 pp, -0.69 pp], "
            "harm when above +0.20 pp",
        ),
        (
            Counts(1_000, 100_000),
            Counts(200, 100_000),
            Outcome.BREACHED,
            "worse than control: difference +0.80 pp, interval [+0.69 pp, +0.91 pp], "
            "harm when above +0.20 pp",
        ),
        (
            Counts(300, 20_000),
            Counts(200, 20_000),
            Outcome.INCONCLUSIVE,
            "inconclusive: difference +0.50 pp, interval [+0.17 pp, +0.83 pp], "
            "harm when above +0.20 pp",
        ),
        (
            Counts(3, 1_000),
            Counts(2, 312),
            Outcome.TOO_FEW,
            "inconclusive: 312 of 500 requests in control",
        ),
        (
            Counts(0, 499),
            Counts(2, 1_000),
            Outcome.TOO_FEW,
            "inconclusive: 499 of 500 requests in treatment",
        ),
        (None, Counts(2, 1_000), Outcome.TOO_FEW, "inconclusive: 0 of 500 requests in treatment"),
        (
            Counts(20, 10),
            Counts(2, 1_000),
            Outcome.UNUSABLE,
            "unusable counts in treatment: 20 bad of 10 requests",
        ),
        (
            Counts(1, 1_000),
            Counts(math.nan, 1_000),
            Outcome.UNUSABLE,
            "unusable counts in control: nan bad of 1,000 requests",
        ),
        (
            Counts(1, 1_000),
            Counts(-1, 1_000),
            Outcome.UNUSABLE,
            "unusable counts in control: -1 bad of 1,000 requests",
        ),
    ],
)
def test_each_verdict_with_its_reason(treatment, control, outcome, reason):
    judged = judge(Arms(treatment, control), **ARMS_1K)
    assert (judged.outcome, judged.reason) == (outcome, reason)


def test_the_interval_shown_is_the_one_judged():
    judged = judge(Arms(Counts(1_000, 100_000), Counts(200, 100_000)), **ARMS_1K)
    assert judged.difference == pytest.approx(0.008)
    assert judged.low is not None
    assert judged.high is not None
    assert judged.low < judged.difference < judged.high
    assert judged.low > 0.002


def test_a_sample_ratio_far_from_the_flag_holds_with_both_shares():
    judged = judge(
        Arms(Counts(31, 3_100), Counts(69, 6_900)), margin=0.002, min_total=500, share=0.1
    )
    assert judged.outcome is Outcome.SAMPLE_RATIO_MISMATCH
    assert judged.reason.startswith(
        "sample ratio mismatch: 31 % of requests in treatment, the flag says 10 % "
        "(chi-square p < 1e-12)"
    )


@pytest.mark.parametrize(
    ("treatment_total", "control_total", "share", "mismatch"),
    [
        (1_000, 9_000, 0.1, False),  # exactly as the flag says
        (1_050, 8_950, 0.1, False),  # p ~ 0.1: noise
        (1_100, 8_900, 0.1, True),  # p ~ 0.0009: 11 % where the flag says 10 %, out of 10,000
        (550, 450, 0.5, False),  # p ~ 0.0016: not below 0.001
        (560, 440, 0.5, True),  # p ~ 0.00015
    ],
)
def test_the_sample_ratio_check_fires_below_p_0_001(
    treatment_total, control_total, share, mismatch
):
    p_value = sample_ratio_p_value(treatment_total, control_total, share)
    judged = judge(
        Arms(Counts(0, treatment_total), Counts(0, control_total)),
        margin=0.002,
        min_total=1,
        share=share,
    )
    assert (judged.outcome is Outcome.SAMPLE_RATIO_MISMATCH) == mismatch == (p_value < 0.001)


def test_too_few_expected_units_skip_the_sample_ratio_check():
    # 3 requests where the flag says 1 %: 0.03 expected in treatment, no test means anything.
    judged = judge(Arms(Counts(0, 2), Counts(0, 1)), margin=0.002, min_total=1, share=0.01)
    assert judged.outcome is not Outcome.SAMPLE_RATIO_MISMATCH


def test_the_chi_square_p_value_matches_the_normal_tail():
    # With one degree of freedom chi-square is a squared standard normal.
    p_value = sample_ratio_p_value(550, 450, 0.5)
    z = (550 - 500) / math.sqrt(1_000 * 0.25)
    assert p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)))


@pytest.mark.parametrize(
    ("arms", "share", "outcome", "reason"),
    [
        (
            Arms(None, Counts(20, 9_000)),
            0.0,
            Outcome.NOT_COMPARED,
            "not compared at 0 %: every request is in control",
        ),
        (
            Arms(Counts(0, 0), Counts(20, 9_000)),
            0.0,
            Outcome.NOT_COMPARED,
            "not compared at 0 %: every request is in control",
        ),
        (
            Arms(Counts(20, 9_000), None),
            1.0,
            Outcome.NOT_COMPARED,
            "not compared at 100 %: every request is in treatment",
        ),
        (
            Arms(Counts(10, 1_000), Counts(20, 9_000)),
            0.0,
            Outcome.SAMPLE_RATIO_MISMATCH,
            "sample ratio mismatch: 10 % of requests in treatment, the flag says 0 % "
            "(1,000 requests in treatment)",
        ),
        (
            Arms(Counts(20, 9_000), Counts(10, 1_000)),
            1.0,
            Outcome.SAMPLE_RATIO_MISMATCH,
            "sample ratio mismatch: 90 % of requests in treatment, the flag says 100 % "
            "(1,000 requests in control)",
        ),
    ],
)
def test_at_0_or_100_percent_there_is_one_arm_to_see(arms, share, outcome, reason):
    judged = judge(arms, margin=0.002, min_total=500, share=share)
    assert (judged.outcome, judged.reason) == (outcome, reason)


def test_an_arms_json_carries_its_ratio_and_none_without_requests():
    assert counts_to_json(Counts(30, 1_000)) == {"events": 30, "total": 1_000, "ratio": 0.03}
    assert counts_to_json(Counts(0, 0)) == {"events": 0, "total": 0, "ratio": None}
    assert counts_to_json(None) is None
