"""The ramp dashboard's body at 10 and 10,000 tenants x 10 features: size and render time.

Each feature has a 30-day chart with rollback days; every 97th tenant rolls back, every 50th is
held after a rollback (a Resume box each, at most 20 written). Prints the body's length as
GitHub counts it (UTF-16 units; the limit is 65,536), its bytes, the matrix rows shown and left
out, and the CPU time of rendering (``time.process_time``). Run from the repository root:
``python benchmarks/dashboard_size.py``.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.dashboard import BODY_LIMIT, DashboardView, DayPoint, render_dashboard  # noqa: E402
from bot.render import github_length  # noqa: E402
from tests.builders import fleet  # noqa: E402

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
FEATURES = 10


def series() -> dict[str, list[DayPoint]]:
    start = NOW.date() - timedelta(days=29)
    return {
        f"feature{f}": [
            DayPoint(
                day=start + timedelta(days=i),
                median=min(100.0, 5.0 * (i // 3)),
                low=0,
                high=min(100, 10 * (i // 3)),
                rollbacks=1 if (i + f) % 11 == 4 else 0,
            )
            for i in range(30)
        ]
        for f in range(FEATURES)
    }


def main() -> None:
    for tenants in (10, 10_000):
        plan = fleet(tenants, FEATURES, evaluated_at=NOW)
        view = DashboardView(series=series(), last_change={"tenant-00003": "2026-11-25"})
        started = time.process_time()
        body = render_dashboard(plan, view)
        spent = time.process_time() - started
        shown = body.count("\n| tenant-")
        left = re.search(r"…and ([0-9,]+) more tenants, left out", body)
        print(
            f"{tenants:>6,} tenants x {FEATURES} features: {github_length(body):,} characters "
            f"(limit {BODY_LIMIT:,}), {len(body.encode()):,} bytes, {shown:,} matrix rows, "
            f"{left[1] if left else 0} left out, "
            f"{body.count('rampbot:resume')} Resume boxes, {body.count('```mermaid')} charts; "
            f"rendered in {spent * 1000:.0f} ms of CPU"
        )


if __name__ == "__main__":
    main()
