"""Reading health for 1,000 and 10,000 tenants from a local Prometheus.

Run from the repository's root: ``python benchmarks/prometheus_health.py``. Starts Prometheus on
127.0.0.1 with backfilled history (three signals, one sample a minute), reads health over a 30m
window, and prints the queries sent, the wall time of the read and the peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.policy import parse_policy
from bot.prometheus import Connection, PrometheusHealth
from tests.fixtures.prometheus import history_end, many_tenants, start_prometheus

SIZES = (1_000, 10_000)
POLICY = """\
bake_time: 30m
signals:
  - name: coverage
    query: avg by (tenant) (shadow_coverage_pct{{case="{case}"}})
    healthy: ">= 95"
  - name: anchor_p95_ms
    query: max by (tenant) (anchor_latency_ms{{case="{case}"}})
    healthy: "<= 30"
  - name: divergence
    query: sum by (tenant) (shadow_divergence{{case="{case}"}})
    healthy: "<= 0"
    critical: true
features:
  receipts:
"""


def main() -> None:
    end = history_end()
    at = datetime.fromtimestamp(end, UTC)
    series = [s for size in SIZES for s in many_tenants(end, size, case=f"n{size}")]
    with tempfile.TemporaryDirectory(prefix="rampbot-bench-") as directory:
        started = time.perf_counter()
        server = start_prometheus(Path(directory), series=series, end=end)
        print(
            f"backfilled {len(series):,} series and started Prometheus in "
            f"{time.perf_counter() - started:.1f}s"
        )
        try:
            for size in SIZES:
                policy = parse_policy(POLICY.format(case=f"n{size}"), source="benchmark")
                source = PrometheusHealth(Connection(url=server.url))
                source.read(policy, at=at)  # warm Prometheus' caches, as a second run would
                source.requests_sent = 0
                started = time.perf_counter()
                health = source.read(policy, at=at)
                wall = time.perf_counter() - started
                tracemalloc.start()
                PrometheusHealth(Connection(url=server.url)).read(policy, at=at)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                tenants = len(health.readings)
                assert tenants == size, tenants
                print(
                    f"{size:>6,} tenants x {len(policy.signals)} signals: "
                    f"{source.requests_sent} queries, health read {wall * 1000:.0f} ms, "
                    f"peak Python memory {peak / 2**20:.1f} MiB"
                )
        finally:
            server.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process, building the backfill data included: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
