"""How well a comparison signal judges simulated tenants whose truth is known.

Run from the repository's root: ``pip install -e '.[bench]' && python benchmarks/judge.py``.
Each tenant gets binomial counts per arm for every run of a ramp of 12 runs, one bake window
(30m) apart, judged through ``bot.compare.judge`` (the code the bot runs) in two ways:

- since the change (what rampbot does): the counts accumulate from the tenant's last change of
  percentage, up to ``max_window`` (6h: 12 windows), as bot/since_change.py reads them;
- one window (what it did before): every run judged on its own bake window.

Three populations of 2,000 tenants:

- A/A: both arms fail 1.0 % of requests; traffic 100 to 1,000,000 requests a window
  (log-uniform), the treatment share following the ramp 5, 10, 25 then 50 %.
- Power: 1.0 % in control, 1.5 % in treatment, 20,000 requests per arm per window.
- A 30 % regression: 0.8 % in control, 1.04 % in treatment; traffic 100 to 1,000,000, half
  in treatment.

Side by side, the same data through a fixed threshold on the treatment arm alone
(``ratio <= 1.2 %``, with the same minimum of requests).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.compare import Arms, Counts, Outcome, judge

SEED = 20261129
TENANTS = 2_000
RUNS = 12
ALPHA = 0.05
MIN_TOTAL = 500
THRESHOLD = 0.012
MARGINS = (0.0, 0.001, 0.002)
RAMP = (5, 5, 10, 10, 25, 25, 50, 50, 50, 50, 50, 50)  # the treatment percentage at each run
MAX_WINDOWS = 12  # max_window 6h over a bake time of 30m
BUCKETS = ((100, 1_000), (1_000, 10_000), (10_000, 100_000), (100_000, 1_000_001))


@dataclass(frozen=True)
class Population:
    traffic: np.ndarray  # requests a window, per tenant
    shares: np.ndarray  # treatment share per run
    treatment: np.ndarray  # (tenant, run, [events, total])
    control: np.ndarray


def simulate(
    rng: np.random.Generator,
    *,
    traffic: np.ndarray,
    shares: tuple[float, ...],
    rate_treatment: float,
    rate_control: float,
) -> Population:
    """Binomial counts per tenant, run and arm; the arm sizes themselves binomial too."""
    share = np.array(shares)
    total_t = rng.binomial(traffic[:, None], share[None, :])
    total_c = traffic[:, None] - total_t
    events_t = rng.binomial(total_t, rate_treatment)
    events_c = rng.binomial(total_c, rate_control)
    return Population(
        traffic=traffic,
        shares=share,
        treatment=np.stack([events_t, total_t], axis=-1),
        control=np.stack([events_c, total_c], axis=-1),
    )


def log_uniform_traffic(rng: np.random.Generator) -> np.ndarray:
    return np.round(10 ** rng.uniform(2, 6, TENANTS)).astype(np.int64)


def first_breach(population: Population, breached: Callable[[int, int], bool]) -> np.ndarray:
    """The first run (1-based) each tenant is judged breached, 0 for never."""
    found = np.zeros(TENANTS, dtype=np.int64)
    for tenant in range(TENANTS):
        for run in range(RUNS):
            if breached(tenant, run):
                found[tenant] = run + 1
                break
    return found


def since_change(population: Population) -> Population:
    """The counts each run reads when they accumulate from the last change of percentage."""
    treatment = np.zeros_like(population.treatment)
    control = np.zeros_like(population.control)
    start = 0
    for run in range(RUNS):
        if run and population.shares[run] != population.shares[run - 1]:
            start = run  # a new percentage: a new sequence
        first = max(start, run - MAX_WINDOWS + 1)  # past max_window the window slides
        treatment[:, run] = population.treatment[:, first : run + 1].sum(axis=1)
        control[:, run] = population.control[:, first : run + 1].sum(axis=1)
    return Population(population.traffic, population.shares, treatment, control)


def comparison(population: Population, *, margin: float) -> Callable[[int, int], bool]:
    def breached(tenant: int, run: int) -> bool:
        t_events, t_total = population.treatment[tenant, run]
        c_events, c_total = population.control[tenant, run]
        judged = judge(
            Arms(Counts(float(t_events), float(t_total)), Counts(float(c_events), float(c_total))),
            margin=margin,
            min_total=MIN_TOTAL,
            alpha=ALPHA,
            share=float(population.shares[run]),
        )
        return judged.outcome is Outcome.BREACHED

    return breached


def threshold(population: Population) -> Callable[[int, int], bool]:
    def breached(tenant: int, run: int) -> bool:
        events, total = population.treatment[tenant, run]
        return bool(total >= MIN_TOTAL and events / total > THRESHOLD)

    return breached


def wilson(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial share."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials**2))
    spread /= 1 + z * z / trials
    return max(0.0, centre - spread), min(1.0, centre + spread)


def share_text(count: int, of: int) -> str:
    low, high = wilson(count, of)
    return f"{count / of:6.1%} ({count:,} of {of:,}; 95% CI {low:.1%} to {high:.1%})"


def by_bucket(population: Population, found: np.ndarray) -> str:
    cells = []
    for low, high in BUCKETS:
        members = (population.traffic >= low) & (population.traffic < high)
        count = int(members.sum())
        hit = int((found[members] > 0).sum())
        cells.append(f"{hit / count:6.1%}" if count else "   —  ")
    return " | ".join(cells)


def bucket_header() -> str:
    names = [f"{low:,}-{high - 1:,}" for low, high in BUCKETS]
    return " | ".join(f"{name:>6}" for name in names)


def main() -> None:
    rng = np.random.default_rng(SEED)
    shares = tuple(pct / 100 for pct in RAMP)
    print(f"{TENANTS:,} tenants x {RUNS} runs per population, alpha {ALPHA}, min_total {MIN_TOTAL}")
    print(
        "'since change': counts from the last change of percentage (max_window 12 windows); "
        "'one window': each run on its own window; 'ever' = breached at any run\n"
    )
    a_a = simulate(
        rng,
        traffic=log_uniform_traffic(rng),
        shares=shares,
        rate_treatment=0.01,
        rate_control=0.01,
    )
    a_a_since = since_change(a_a)
    print("A/A (1.0 % vs 1.0 %, traffic 100..1,000,000, ramp 5 -> 50 %): tenants ever breached")
    for margin in MARGINS:
        for name, data in (("since change", a_a_since), ("one window  ", a_a)):
            found = first_breach(data, comparison(data, margin=margin))
            print(
                f"  comparison {name}, margin {margin:.3f}: "
                f"{share_text(int((found > 0).sum()), TENANTS)}"
            )
    fixed = first_breach(a_a, threshold(a_a))
    fixed_share = share_text(int((fixed > 0).sum()), TENANTS)
    print(f"  threshold ratio <= 1.2 %:                {fixed_share}")
    print(f"  by requests a window:                    {bucket_header()}")
    for name, data in (("since change", a_a_since), ("one window  ", a_a)):
        found = first_breach(data, comparison(data, margin=0.0))
        print(f"    comparison {name} (margin 0):    {by_bucket(a_a, found)}")
    print(f"    threshold (false rollbacks):         {by_bucket(a_a, fixed)}\n")

    power = simulate(
        rng,
        traffic=np.full(TENANTS, 40_000),
        shares=(0.5,) * RUNS,
        rate_treatment=0.015,
        rate_control=0.010,
    )
    power_since = since_change(power)
    print("Power (1.0 % -> 1.5 %, 20,000 requests per arm per window): breached within 3 runs")
    for margin in MARGINS:
        for name, data in (("since change", power_since), ("one window  ", power)):
            found = first_breach(data, comparison(data, margin=margin))
            within = int(((found > 0) & (found <= 3)).sum())
            runs = [int(((found > 0) & (found <= run)).sum()) for run in range(1, RUNS + 1)]
            needed = next((run for run, hit in enumerate(runs, 1) if hit >= 0.8 * TENANTS), None)
            print(
                f"  comparison {name}, margin {margin:.3f}: {share_text(within, TENANTS)}; "
                f"by run 1/2/3: {runs[0] / TENANTS:.1%}/{runs[1] / TENANTS:.1%}/"
                f"{runs[2] / TENANTS:.1%}; 80 % of tenants after {needed} run(s)"
            )
    fixed = first_breach(power, threshold(power))
    within = int(((fixed > 0) & (fixed <= 3)).sum())
    print(f"  threshold ratio <= 1.2 %:                {share_text(within, TENANTS)}\n")

    regression = simulate(
        rng,
        traffic=log_uniform_traffic(rng),
        shares=(0.5,) * RUNS,
        rate_treatment=0.0104,
        rate_control=0.008,
    )
    regression_since = since_change(regression)
    print("A 30 % regression (0.8 % -> 1.04 %, traffic 100..1,000,000, 50 % in treatment)")
    print(f"  caught at any run, by requests a window: {bucket_header()}")
    for name, data in (("since change", regression_since), ("one window  ", regression)):
        found = first_breach(data, comparison(data, margin=0.0))
        print(f"    comparison {name} (margin 0):    {by_bucket(regression, found)}")
    fixed = first_breach(regression, threshold(regression))
    print(f"    threshold ratio <= 1.2 %:            {by_bucket(regression, fixed)}")
    print(f"\nCPU time: {time.process_time():.1f} s")


if __name__ == "__main__":
    main()
