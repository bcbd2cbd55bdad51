"""Redaction quality per class on the labelled corpora, and its cost on a 10,000-tenant body.

Run: python benchmarks/redaction.py [CORPUS ...]  (default: both corpora in tests/data/)

Per class (email, ip, phone): precision, recall, and the false-positive rate, the share of
lines without that kind in which that kind was redacted anyway. Overall: the false-positive
rate over lines without any personal data, the figure the goals name (<= 2 %), and recall over
the three kinds together (>= 0.98).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests/

from bot.redact import Redactor
from tests.redaction_scoring import CORPORA, load, score

REPEATS = 5


def quality(paths: list[Path]) -> None:
    for path in paths:
        result = score(load(path), Redactor())
        print(f"{path.name}: {result.lines} lines, {result.negatives} without personal data")
        print(
            f"  {'class':6} {'precision':>9} {'recall':>7} {'FP rate':>8} {'found':>6} "
            f"{'wrong':>6} {'missed':>6}"
        )
        for kind, per in result.per_kind.items():
            print(
                f"  {kind:6} {per.precision:9.3f} {per.recall:7.3f} {per.false_positive_rate:8.2%} "
                f"{per.true_positives:6} {per.false_positives:6} {per.false_negatives:6}"
            )
        print(
            f"  all    {result.precision:9.3f} {result.recall:7.3f} "
            f"{result.false_positive_rate:8.2%}  (FP rate: lines without personal data)"
        )
        for miss in result.misses:
            print("    " + miss)


def cost() -> None:
    """Redacting a whole 10,000-tenant pull request body, against rendering it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from pr_body_size import fleet  # a sibling script: the same fleet as the size benchmark

    from bot.render import pull_request_body

    plan = fleet(10_000)
    redactor = Redactor()
    render_times, redact_times = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        body = pull_request_body(plan, base_commit="0" * 40)
        render_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        redactor.redact(body)
        redact_times.append(time.perf_counter() - started)
    render, redact = min(render_times), min(redact_times)
    print(
        f"10,000 tenants: render {render * 1000:.1f} ms, redact the body ({len(body):,} chars) "
        f"{redact * 1000:.1f} ms = {redact / render:.1%} of the render time (best of {REPEATS}); "
        f"the proposal and the boundary each redact once: {2 * redact / render:.1%} in all"
    )


if __name__ == "__main__":
    quality([Path(arg) for arg in sys.argv[1:]] or list(CORPORA))
    cost()
