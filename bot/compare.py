"""Treatment against control: the anytime-valid comparison and the sample ratio check.

Pure arithmetic on counts: no I/O, no clock. A comparison signal counts, per tenant and arm,
the requests (``total``) and the bad ones (``events``) over the window; this module judges
whether the treatment arm is worse than control by more than a margin.

The interval is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences"
(arXiv:2103.06476, eq. 9 and its one-sided form), parameterised as GrowthBook's sequential
testing does (gbstats ``frequentist/tests.py``: ``sequential_rho`` and the one-sided half-width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

DEFAULT_ALPHA = 0.05
# GrowthBook's default: the number of units at which the sequence is tightest; the interval is
# valid at every n, this only moves where it is narrowest.
DEFAULT_TUNING = 5_000
# Pearson's chi-square needs a few expected units per arm to mean anything (the usual rule of
# thumb is five); fewer, and the sample ratio is not checked.
SRM_MIN_EXPECTED = 5
SRM_P_VALUE = 0.001


@dataclass(frozen=True)
class Counts:
    """Bad events and all events of one arm (or one window) for one tenant."""

    events: float
    total: float

    @property
    def ratio(self) -> float:
        return self.events / self.total if self.total > 0 else math.nan

    @property
    def usable(self) -> bool:
        """Finite, not negative, and no more bad events than events."""
        return (
            math.isfinite(self.events)
            and math.isfinite(self.total)
            and 0 <= self.events <= self.total
        )


def counts_to_json(counts: Counts | None) -> dict[str, float | None] | None:
    """An arm's counts and ratio as JSON; no ratio without requests (JSON has no NaN)."""
    if counts is None:
        return None
    ratio = counts.ratio
    return {
        "events": counts.events,
        "total": counts.total,
        "ratio": ratio if math.isfinite(ratio) else None,
    }


@dataclass(frozen=True)
class Arms:
    """What one comparison signal measured for one tenant; None: the arm reported nothing."""

    treatment: Counts | None
    control: Counts | None
    # How far back the counts reach (from the tenant's last change), where the source knows it.
    window: timedelta | None = None


class Outcome(Enum):
    HEALTHY = "healthy"  # harm beyond the margin is ruled out
    BREACHED = "breached"  # harm beyond the margin is shown
    INCONCLUSIVE = "inconclusive"  # the interval straddles the margin
    TOO_FEW = "too few"  # an arm below min_total, or missing
    UNUSABLE = "unusable"  # counts that cannot be (NaN, negative, more errors than requests)
    SAMPLE_RATIO_MISMATCH = "sample ratio mismatch"
    NOT_COMPARED = "not compared"  # the flag at 0 % or 100 %: one arm only


@dataclass(frozen=True)
class Comparison:
    """The judged comparison of one tenant: both arms, the difference and its interval."""

    outcome: Outcome
    reason: str
    treatment: Counts | None
    control: Counts | None
    difference: float | None = None  # treatment ratio - control ratio
    low: float | None = None  # the interval on the difference
    high: float | None = None


def rho(*, alpha: float, tuning: float) -> float:
    """The mixing parameter of the one-sided sequence (GrowthBook's ``sequential_rho``).

    rho = sqrt((-2 ln(2 alpha) + ln(1 - 2 ln(2 alpha))) / N), with N the tuning constant; the
    one-sided form takes 2 alpha where the two-sided form (arXiv:2103.06476, eq. 161) takes alpha.
    """
    log_alpha = math.log(2 * alpha)
    return math.sqrt((-2 * log_alpha + math.log(1 - 2 * log_alpha)) / tuning)


def half_width(*, variance: float, n: float, alpha: float, tuning: float = DEFAULT_TUNING) -> float:
    """Half-width of the one-sided asymptotic confidence sequence after ``n`` units.

    width = sqrt(s2 * 2 (n rho^2 + 1) / (n rho)^2 * ln(1 + sqrt(n rho^2 + 1) / (2 alpha)))

    with s2 the variance per unit (the estimator's variance times n), as GrowthBook computes it
    for its one-sided sequential tests (arXiv:2103.06476, eq. 9, one-sided).
    """
    r = rho(alpha=alpha, tuning=tuning)
    n_rho2 = n * r * r
    return math.sqrt(
        variance
        * 2
        * (n_rho2 + 1)
        / (n * r) ** 2
        * math.log(1 + math.sqrt(n_rho2 + 1) / (2 * alpha))
    )


def interval(
    treatment: Counts, control: Counts, *, alpha: float, tuning: float = DEFAULT_TUNING
) -> tuple[float, float, float]:
    """The difference of ratios and its interval: (difference, low, high).

    ``low`` is the one-sided lower bound at ``alpha`` (is the treatment worse?) and ``high`` the
    one-sided upper bound at ``alpha`` (is it no worse?); each is wrong with probability at most
    ``alpha`` however often it is looked at.
    """
    p_t, p_c = treatment.ratio, control.ratio
    difference = p_t - p_c
    n = treatment.total + control.total
    # Variance of the difference of two proportions; per unit, as the paper's s2.
    standard_error2 = p_t * (1 - p_t) / treatment.total + p_c * (1 - p_c) / control.total
    if standard_error2 <= 0:
        # No error in either arm, or nothing but errors: nothing varies, so the interval is the
        # point. One bad request more would change that; a margin above zero still protects.
        return difference, difference, difference
    width = half_width(variance=standard_error2 * n, n=n, alpha=alpha, tuning=tuning)
    return difference, difference - width, difference + width


def sample_ratio_p_value(treatment_total: float, control_total: float, share: float) -> float:
    """Pearson's chi-square p-value (one degree of freedom) of the treatment share."""
    n = treatment_total + control_total
    expected_t, expected_c = n * share, n * (1 - share)
    statistic = (treatment_total - expected_t) ** 2 / expected_t + (
        control_total - expected_c
    ) ** 2 / expected_c
    # The chi-square survival function with one degree of freedom: erfc(sqrt(x / 2)).
    return math.erfc(math.sqrt(statistic / 2))


def judge(
    arms: Arms,
    *,
    margin: float,
    min_total: float,
    alpha: float = DEFAULT_ALPHA,
    tuning: float = DEFAULT_TUNING,
    share: float | None = None,
) -> Comparison:
    """Judge one tenant's arms: harm beyond ``margin`` shown, ruled out, or not known yet.

    ``share`` is the treatment share the flag says it serves (the tenant's percentage / 100);
    a sample ratio far from it means the arms are not what flags.json says.
    """
    treatment, control = arms.treatment, arms.control
    for name, counts in (("treatment", treatment), ("control", control)):
        if counts is not None and not counts.usable:
            return Comparison(
                Outcome.UNUSABLE,
                f"unusable counts in {name}: {_count(counts.events)} bad of "
                f"{_count(counts.total)} requests",
                treatment,
                control,
            )
    if share is not None and (share <= 0 or share >= 1):
        return _one_arm(treatment, control, share=share)
    for name, counts in (("control", control), ("treatment", treatment)):
        total = 0.0 if counts is None else counts.total
        if total < min_total:
            return Comparison(
                Outcome.TOO_FEW,
                f"inconclusive: {_count(total)} of {_count(min_total)} requests in {name}",
                treatment,
                control,
            )
    assert treatment is not None
    assert control is not None
    if share is not None and 0 < share < 1:
        n = treatment.total + control.total
        if min(n * share, n * (1 - share)) >= SRM_MIN_EXPECTED:
            p_value = sample_ratio_p_value(treatment.total, control.total, share)
            if p_value < SRM_P_VALUE:
                return Comparison(
                    Outcome.SAMPLE_RATIO_MISMATCH,
                    f"sample ratio mismatch: {_pct(treatment.total / n)} of requests in "
                    f"treatment, the flag says {_pct(share)} (chi-square p {_p_text(p_value)})",
                    treatment,
                    control,
                )
    difference, low, high = interval(treatment, control, alpha=alpha, tuning=tuning)
    shown = (
        f"difference {points(difference)}, interval [{points(low)}, {points(high)}], "
        f"harm when above {points(margin)}"
    )
    if low > margin:
        outcome, reason = Outcome.BREACHED, f"worse than control: {shown}"
    elif high < margin:
        outcome, reason = Outcome.HEALTHY, f"no worse than control: {shown}"
    else:
        outcome, reason = Outcome.INCONCLUSIVE, f"inconclusive: {shown}"
    return Comparison(outcome, reason, treatment, control, difference, low, high)


def _one_arm(treatment: Counts | None, control: Counts | None, *, share: float) -> Comparison:
    """At 0 % or 100 % there is one arm only: nothing to compare, unless the other one serves.

    Not compared is not doubt: at 0 % the feature reaches no one, so the first step up rests on
    the other signals, and at 100 % there is no control left to hold the treatment against.
    """
    served, empty = ("control", "treatment") if share <= 0 else ("treatment", "control")
    stray = treatment if share <= 0 else control
    if stray is not None and stray.total >= SRM_MIN_EXPECTED:
        other = control if share <= 0 else treatment
        n = stray.total + (other.total if other is not None and other.usable else 0)
        shown = stray.total / n if share <= 0 else 1 - stray.total / n
        return Comparison(
            Outcome.SAMPLE_RATIO_MISMATCH,
            f"sample ratio mismatch: {_pct(shown)} of requests in treatment, "
            f"the flag says {_pct(share)} ({_count(stray.total)} requests in {empty})",
            treatment,
            control,
        )
    return Comparison(
        Outcome.NOT_COMPARED,
        f"not compared at {_pct(share)}: every request is in {served}",
        treatment,
        control,
    )


def points(value: float) -> str:
    """A difference of ratios in percentage points, signed: ``+0.31 pp``."""
    return f"{value * 100:+.2f} pp"


def ratio_text(counts: Counts | None) -> str:
    """One arm as people read it: ``1.52% of 20,000``."""
    if counts is None:
        return "no data"
    if counts.total <= 0 or not counts.usable:
        return f"{_count(counts.events)} of {_count(counts.total)}"
    return f"{counts.ratio * 100:.2f}% of {_count(counts.total)}"


def _p_text(p_value: float) -> str:
    return f"= {p_value:.1g}" if p_value >= 1e-12 else "< 1e-12"


def _pct(share: float) -> str:
    return f"{share * 100:.3g} %"


def _count(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{round(value):,}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"
