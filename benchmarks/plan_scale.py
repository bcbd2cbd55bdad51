"""Plan 10,000 tenants x 10 features from a health snapshot: wall time and peak memory per phase.

    python benchmarks/plan_scale.py [TENANTS] [FEATURES]

Phases: load + validate (parse and schema-check policy, flags and snapshot, cross-check),
decide, write (edit flags.json, re-validate the result, write it). Each phase runs once for
time and once more under tracemalloc for its peak memory, since tracing slows Python down.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.decide import Plan, decide
from bot.files import write_atomically
from bot.flags import apply_changes
from bot.inputs import Inputs, load_inputs, load_snapshot

STEPS = [1, 5, 10, 25, 50, 100]


def make_files(folder: Path, tenants: int, features: int) -> None:
    rng = random.Random(7)
    names = [f"tenant-{index:05d}" for index in range(tenants)]
    feature_names = [f"feature-{index}" for index in range(features)]
    flags = {
        "version": "flags-v1",
        "revision": 1,
        "features": {
            feature: {
                "pct": 0,
                "cohorts": ["A", "B", "C"],
                "tenants": {name: {"pct": rng.choice(STEPS)} for name in names},
            }
            for feature in feature_names
        },
    }
    (folder / "flags.json").write_text(json.dumps(flags, indent=2) + "\n")
    health = {
        "evaluated_at": "2026-11-26T09:30:00Z",
        "tenants": {
            name: {
                "coverage": rng.choice([97.5, 99.0, 93.0]),
                "anchor_p95_ms": rng.choice([12, 22, 41]),
                "divergence": rng.choice([0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            }
            for name in names
        },
    }
    (folder / "health.json").write_text(json.dumps(health))
    features_yaml = "".join(f"  {feature}:\n" for feature in feature_names)
    (folder / "rampbot.yml").write_text(
        "bake_time: 30m\n"
        "signals:\n"
        "  - {name: coverage, query: c, healthy: '>= 95'}\n"
        "  - {name: anchor_p95_ms, query: a, healthy: '<= 30'}\n"
        "  - {name: divergence, query: d, healthy: '<= 0', critical: true}\n"
        f"features:\n{features_yaml}"
    )


def measure(label: str, work: Callable[[], Any]) -> Any:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # CPU time beside wall time: on a busy machine the two differ, and CPU time is the
    # figure that does not depend on what else runs.
    print(f"{label:<18} {seconds:7.3f} s wall {cpu:7.3f} s CPU   peak {peak / 2**20:7.1f} MiB")
    return result, seconds


def main() -> None:
    tenants = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    features = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        make_files(folder, tenants, features)
        size = (folder / "flags.json").stat().st_size
        print(f"{tenants} tenants x {features} features; flags.json {size / 2**20:.1f} MiB")

        def load() -> tuple[Inputs, Any]:
            inputs = load_inputs(
                policy_path=folder / "rampbot.yml", flags_path=folder / "flags.json"
            )
            return inputs, load_snapshot(folder / "health.json", inputs.policy)

        (inputs, health), load_seconds = measure("load + validate", load)
        now = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
        plan: Plan
        plan, decide_seconds = measure(
            "decide", lambda: decide(inputs.policy, inputs.flags, health, now=now, last_change={})
        )

        def write() -> None:
            updated = apply_changes(inputs.flags, plan.flag_changes())
            write_atomically(folder / "flags.out.json", updated.text)

        _, write_seconds = measure("write", write)
        print(f"{len(plan.decisions)} decisions, {len(plan.changes)} changes")
        print(f"end to end         {load_seconds + decide_seconds + write_seconds:7.3f} s wall")


if __name__ == "__main__":
    main()
