"""SLO burn-rate gates: the multiwindow, multi-burn-rate rule of the SRE workbook.

Pure arithmetic on counts. The burn rate of a window is its error ratio divided by the error
budget (1 - objective): 1x spends the budget exactly over the SLO period. A pair of windows is
breached when both burn above its rate: the long window shows the burn is significant, the short
one that it is still going on (https://sre.google/workbook/alerting-on-slos/, "Multiwindow,
Multi-Burn-Rate Alerts": page at 14.4x over 1h and 5m, and at 6x over 6h and 30m).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.compare import Counts


@dataclass(frozen=True)
class BurnPair:
    """A long and a short window (Prometheus durations) that must both burn above ``rate``."""

    long: str
    short: str
    rate: float


DEFAULT_PAIRS = (BurnPair("1h", "5m", 14.4), BurnPair("6h", "30m", 6.0))


class BurnOutcome(Enum):
    HEALTHY = "healthy"
    BREACHED = "breached"
    NO_DATA = "no data"


@dataclass(frozen=True)
class Burn:
    """The judged burn of one tenant: the rate of every window, and why."""

    outcome: BurnOutcome
    reason: str
    rates: Mapping[str, float | None]  # window -> burn rate, None without requests


def windows_of(pairs: tuple[BurnPair, ...]) -> tuple[str, ...]:
    """Every window the pairs need, each once, in the order they first appear."""
    return tuple(dict.fromkeys(window for pair in pairs for window in (pair.long, pair.short)))


def burn_rate(counts: Counts | None, *, objective: float) -> float | None:
    """The window's error ratio over the error budget; None when it had no usable requests."""
    if counts is None or not counts.usable or counts.total <= 0:
        return None
    return counts.ratio / (1 - objective)


def judge_burn(
    windows: Mapping[str, Counts], *, objective: float, pairs: tuple[BurnPair, ...]
) -> Burn:
    """Breached when both windows of a pair burn above its rate; no data if a window is empty."""
    rates = {
        window: burn_rate(windows.get(window), objective=objective) for window in windows_of(pairs)
    }
    slo = f"SLO {objective * 100:g} %"
    for pair in pairs:
        long, short = rates[pair.long], rates[pair.short]
        if long is not None and short is not None and long > pair.rate and short > pair.rate:
            return Burn(
                BurnOutcome.BREACHED,
                f"burning {_rate(long)} over {pair.long} and {_rate(short)} over {pair.short}, "
                f"both above {_rate(pair.rate)} ({slo})",
                rates,
            )
    empty = [window for window, rate in rates.items() if rate is None]
    if empty:
        return Burn(BurnOutcome.NO_DATA, f"no requests over {', '.join(empty)} ({slo})", rates)
    shown = ", ".join(f"{_rate(rate or 0)} over {window}" for window, rate in rates.items())
    return Burn(BurnOutcome.HEALTHY, f"burning {shown} ({slo})", rates)


def _rate(value: float) -> str:
    return f"{value:.3g}x"
