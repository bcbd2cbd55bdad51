"""The ramp dashboard's history reads: 10,000 tenants x 10 features, 30 days of flags versions.

`rampbot run` refreshes the dashboard from the flags file's git history: each tenant's last
change and each feature's daily rollout over the last 30 days. This builds a real git repository
with that history (``--per-day`` merged versions a day, each stepping 2% of the tenants of one
feature) and prints the CPU time (this process and its git children, ``resource.getrusage``) and
the peak memory of reading it as the dashboard does. Run from the repository root:
``python benchmarks/dashboard_history.py [--tenants 10000] [--features 10] [--per-day 4]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import git as gitrepo  # noqa: E402
from bot.commands.dashboard_issue import dashboard_history  # noqa: E402
from bot.dashboard import CHART_DAYS  # noqa: E402
from bot.decide import Action, Decision, Kind, Plan  # noqa: E402

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
STEPS = (1, 5, 10, 25, 50, 100)


def build_history(path: Path, *, tenants: int, features: int, per_day: int) -> int:
    """A repository whose main branch holds the flags file's versions; returns how many."""
    names = [f"tenant-{t:05d}" for t in range(tenants)]
    pcts = {f"feature{f}": dict.fromkeys(names, 1) for f in range(features)}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    start = NOW - timedelta(days=CHART_DAYS + 1)
    count = (CHART_DAYS + 1) * per_day
    moved = max(tenants // 50, 1)
    importer = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert importer.stdin is not None
    for n in range(count):
        feature = f"feature{n % features}"
        for t in range(moved):
            name = names[(n * moved + t) % tenants]
            now = pcts[feature][name]
            pcts[feature][name] = STEPS[min(STEPS.index(now) + 1, len(STEPS) - 1)]
        document = {
            "version": "flags-v1",
            "revision": n + 1,
            "features": {
                feature: {"pct": 0, "tenants": {t: {"pct": p} for t, p in values.items()}}
                for feature, values in pcts.items()
            },
        }
        text = (json.dumps(document, indent=2) + "\n").encode()
        when = int((start + timedelta(days=n / per_day)).timestamp())
        message = f"rampbot: step {feature} for {moved} tenants\n".encode()
        importer.stdin.write(
            b"commit refs/heads/main\n"
            + f"committer Bench <bench@example.invalid> {when} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + f"M 100644 inline flags.json\ndata {len(text)}\n".encode()
            + text
            + b"\n"
        )
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "main"], check=True)
    return count


def plan(tenants: int, features: int) -> Plan:
    decisions = tuple(
        Decision(f"tenant-{t:05d}", f"feature{f}", 5, 10, Action.UP, Kind.HEALTHY)
        for f in range(features)
        for t in range(tenants)
    )
    return Plan(decisions=decisions, evaluated_at=NOW, window="30m")


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(path: Path, *, tenants: int, features: int) -> None:
    """Read the history as the dashboard does, in this process, and print what it cost."""
    repo = gitrepo.open_repository(path)
    the_plan = plan(tenants, features)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before, wall_before = cpu(), time.perf_counter()
    last_change, series = dashboard_history(repo, ref="main", path="flags.json", plan=the_plan)
    spent, wall = cpu() - cpu_before, time.perf_counter() - wall_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    points = sum(len(points) for points in series.values())
    print(f"  tenants with a last change: {len(last_change):,}; chart points: {points}")
    print(f"  CPU time (rampbot and its git processes): {spent:.2f} s (wall {wall:.2f} s)")
    print(
        f"  peak memory of the process: {peak / 1024:.0f} MB "
        f"({rss_before / 1024:.0f} MB with the plan, before reading)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--per-day", type=int, default=4)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, tenants=args.tenants, features=args.features)
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "flags"
        versions = build_history(
            path, tenants=args.tenants, features=args.features, per_day=args.per_day
        )
        size = (path / "flags.json").stat().st_size
        print(
            f"{args.tenants:,} tenants x {args.features} features, {versions} versions over "
            f"{CHART_DAYS + 1} days ({size / 1e6:.1f} MB each)",
            flush=True,
        )
        # A process of its own, so that its peak memory is the reading's, not the building's.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(path),
                f"--tenants={args.tenants}",
                f"--features={args.features}",
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
