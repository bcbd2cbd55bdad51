"""Publish latency against a local redis-server: p50/p95 per publish, for two file sizes.

    python benchmarks/publish_latency.py [PUBLISHES]

Starts its own redis-server on 127.0.0.1 (no persistence), like the tests. For a realistic
flags file (3 features x 40 tenants) and a 10,000-tenant one it times, per publish:
- "publish": one `rampbot publish` to Redis as the command does it (connect, the
  compare-and-set script, close), each with a new revision, so every one writes;
- "already current": the same revision again (the script compares and writes nothing);
- "parse": reading and schema-checking the flags file, which the command does first.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commands.publish import publish_spec  # noqa: E402
from bot.flags import Flags, parse_flags  # noqa: E402
from bot.redis_store import PublishOutcome  # noqa: E402
from tests.fixtures.redis import start_redis  # noqa: E402


def flags_text(*, features: int, tenants: int, revision: int) -> str:
    document = {
        "version": "flags-v1",
        "revision": revision,
        "features": {
            f"feature{f}": {
                "pct": 0,
                "cohorts": ["A", "B", "C"],
                "tenants": {f"tenant{t:05d}": {"pct": (t * 7) % 101} for t in range(tenants)},
            }
            for f in range(features)
        },
    }
    return json.dumps(document, indent=2) + "\n"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)] * 1000
    return f"p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"


def timed(action: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def measure(url: str, *, name: str, features: int, tenants: int, count: int) -> None:
    namespace = f"bench:{name}"
    texts = [
        flags_text(features=features, tenants=tenants, revision=r) for r in range(1, count + 1)
    ]
    size = len(texts[0].encode())
    parse_samples = timed(lambda: parse_flags(texts[0], source="flags.json"), min(count, 20))
    versions: list[Flags] = [parse_flags(text, source="flags.json") for text in texts]
    results = []

    def publish_next() -> None:
        results.append(publish_spec(url, namespace=namespace, flags=versions[len(results)]))

    publish_samples = timed(publish_next, count)
    assert all(result.outcome is PublishOutcome.PUBLISHED for result in results)
    last = versions[-1]
    again = timed(lambda: publish_spec(url, namespace=namespace, flags=last), count)
    print(f"{name}: {features} features x {tenants} tenants, {size / 1024:.0f} KiB, {count} runs")
    print(f"  publish          {percentiles(publish_samples)}")
    print(f"  already current  {percentiles(again)}")
    print(f"  parse            {percentiles(parse_samples)}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory(prefix="rampbot-bench-") as directory:
        server = start_redis(Path(directory))
        try:
            measure(server.url, name="realistic", features=3, tenants=40, count=count)
            measure(server.url, name="large", features=1, tenants=10_000, count=count)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
