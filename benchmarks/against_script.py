"""rampbot against the nightly script it replaces, as whole processes, on the same files.

    python benchmarks/against_script.py [--big] [--huge]

Prints the table of issue 14: each rampbot figure beside the naive script (``json.load``, a
loop with three comparisons and the next step per tenant and feature, ``json.dump(indent=2)``)
measured in the same run, as a ratio. Medians of 5 runs at 10,000 tenants x 10 features (the
generator of benchmarks/plan_scale.py); ``--big`` adds 100,000 x 10 and ``--huge`` 900,000 x 2
(about 4 GB of memory for the script's side alone: run it on a quiet machine). Time is wall
time; CPU time of the process beside it, as the machine may be busy; peak memory is the
process's maximum resident set size.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).parent))
from plan_scale import make_files

RUNS = 5
INPUTS = ("--health", "health.json", "--policy", "rampbot.yml", "--flags", "flags.json")
BEFORE_THE_SNAPSHOT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC).timestamp()
NAIVE_SCRIPT = """\
import json, sys

STEPS = [0, 1, 5, 10, 25, 50, 100]
UP = {pct: next((s for s in STEPS if s > pct), 100) for pct in range(101)}
DOWN = {pct: next((s for s in reversed(STEPS) if s < pct), 0) for pct in range(101)}

with open(sys.argv[1]) as file:
    flags = json.load(file)
with open(sys.argv[2]) as file:
    health = json.load(file)["tenants"]
for feature in flags["features"].values():
    for tenant, entry in feature["tenants"].items():
        values = health[tenant]
        if values["divergence"] > 0 or values["coverage"] < 95 or values["anchor_p95_ms"] > 30:
            entry["pct"] = DOWN[entry["pct"]]
        else:
            entry["pct"] = UP[entry["pct"]]
flags["revision"] = flags.get("revision", 0) + 1
with open(sys.argv[1], "w") as file:
    json.dump(flags, file, indent=2)
    file.write("\\n")
"""


LAUNCHER = """\
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
wall = time.perf_counter() - started
if os.waitstatus_to_exitcode(status):
    sys.exit(f"exit {os.waitstatus_to_exitcode(status)}")
print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]))
"""


class Run(NamedTuple):
    wall: float
    cpu: float
    peak_mib: float


def run(command: Sequence[str], *, cwd: Path, prepare: Path | None = None) -> Run:
    """Run ``command`` once, from a fresh copy of the flags file when ``prepare`` names one."""
    if prepare is not None:
        shutil.copyfile(prepare, cwd / "flags.json")
        # Outside git, the file's last write dates every tenant's last change: a day before
        # the snapshot, so that the tenants are baked and move, as the script moves them.
        os.utime(cwd / "flags.json", (BEFORE_THE_SNAPSHOT, BEFORE_THE_SNAPSHOT))
    # Started from a small launcher, which reads the command's resource use: a child forked
    # from this process (large after the in-process figures) would count its pages as peak.
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], cwd=cwd, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    wall, cpu, peak_kib = json.loads(result.stdout)
    return Run(wall, cpu, peak_kib / 1024)


def median(command: Sequence[str], *, cwd: Path, prepare: Path | None, runs: int) -> Run:
    results = [run(command, cwd=cwd, prepare=prepare) for _ in range(runs)]
    return Run(
        statistics.median(r.wall for r in results),
        statistics.median(r.cpu for r in results),
        max(r.peak_mib for r in results),
    )


def one_tenant_per_line(path: Path) -> None:
    """Rewrite a flags file with one tenant per line: a layout json.dumps does not write."""
    document = json.loads(path.read_text())
    lines = ["{", f'  "version": {json.dumps(document["version"])},']
    lines.append(f'  "revision": {document["revision"]},')
    lines.append('  "features": {')
    features = list(document["features"].items())
    for index, (name, feature) in enumerate(features):
        lines.append(f'    {json.dumps(name)}: {{"pct": {feature["pct"]}, "tenants": {{')
        tenants = list(feature["tenants"].items())
        for number, (tenant, entry) in enumerate(tenants):
            comma = "," if number < len(tenants) - 1 else ""
            lines.append(f"      {json.dumps(tenant)}: {json.dumps(entry)}{comma}")
        lines.append("    }}" + ("," if index < len(features) - 1 else ""))
    lines += ["  }", "}", ""]
    path.write_text("\n".join(lines))


def row(label: str, measured: Run, script: Run | None, goal: str = "") -> None:
    ratio = f"{measured.wall / script.wall:5.2f}x" if script else "      "
    cpu_ratio = f"{measured.cpu / script.cpu:5.2f}x" if script else "      "
    print(
        f"{label:<46} {measured.wall:7.3f} s {measured.cpu:7.3f} s CPU {measured.peak_mib:7.0f} MiB"
        f"  {ratio} wall {cpu_ratio} CPU  {goal}"
    )


def rampbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def fleet(folder: Path, tenants: int, features: int) -> Path:
    folder.mkdir()
    make_files(folder, tenants, features)
    (folder / "naive.py").write_text(NAIVE_SCRIPT)
    pristine = folder / "flags.pristine.json"
    shutil.copyfile(folder / "flags.json", pristine)
    return pristine


def compare_apply(folder: Path, pristine: Path, *, label: str, runs: int, goal: str) -> None:
    script = median(
        [sys.executable, "naive.py", "flags.json", "health.json"],
        cwd=folder,
        prepare=pristine,
        runs=runs,
    )
    row(f"naive script, {label}", script, None)
    try:
        measured = median(rampbot("apply", *INPUTS), cwd=folder, prepare=pristine, runs=runs)
    except SystemExit as refused:  # a file past the input limits is refused, not measured
        print(f"rampbot apply --health, {label}: {refused}")
        return
    row(f"rampbot apply --health, {label}", measured, script, goal)


def in_process_decide(tenants: int, features: int, *, distinct: bool = False) -> float:
    """decide() alone, median of RUNS, in this process.

    ``distinct``: every tenant's readings drawn from a continuous range instead of the
    generator's three values each, as a real fleet's are: equal readings share their evidence.
    """
    from bot.decide import decide
    from bot.inputs import load_inputs, load_snapshot

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        make_files(folder, tenants, features)
        if distinct:
            rng = random.Random(3)
            snapshot = json.loads((folder / "health.json").read_text())
            for readings in snapshot["tenants"].values():
                readings["coverage"] = round(rng.uniform(92, 100), 3)
                readings["anchor_p95_ms"] = round(rng.uniform(5, 40), 3)
            (folder / "health.json").write_text(json.dumps(snapshot))
        inputs = load_inputs(policy_path=folder / "rampbot.yml", flags_path=folder / "flags.json")
        health = load_snapshot(folder / "health.json", inputs.policy)
    now = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    times = []
    for _ in range(RUNS):
        # CPU time: on a shared machine wall time measures the neighbours as much as decide.
        started = time.process_time()
        decide(inputs.policy, inputs.flags, health, now=now, last_change={})
        times.append(time.process_time() - started)
    return statistics.median(times)


def render_times() -> tuple[float, float]:
    """The pull request body and the job summary at 10,000 tenants (pr_body_size's fleet)."""
    from pr_body_size import fleet as body_fleet

    from bot.render import job_summary, pull_request_body

    plan = body_fleet(10_000)
    body, summary = [], []
    for _ in range(RUNS):
        started = time.process_time()
        pull_request_body(plan, base_commit="4d4ed45e" * 5)
        body.append(time.process_time() - started)
        started = time.process_time()
        job_summary(plan)
        summary.append(time.process_time() - started)
    return statistics.median(body), statistics.median(summary)


def import_time() -> float:
    """Importing bot.cli in a fresh interpreter, less the interpreter's own start (CPU)."""

    def best(code: str) -> float:  # CPU time of the process, as for decide()
        return statistics.median(
            run([sys.executable, "-c", code], cwd=Path.cwd()).cpu for _ in range(RUNS)
        )

    return best("import bot.cli") - best("pass")


def main() -> None:
    big, huge = "--big" in sys.argv, "--huge" in sys.argv
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        small = root / "10k"
        pristine = fleet(small, 10_000, 10)
        print(f"10,000 tenants x 10 features, medians of {RUNS}\n")
        started = time.perf_counter()
        script = median(
            [sys.executable, "naive.py", "flags.json", "health.json"],
            cwd=small,
            prepare=pristine,
            runs=RUNS,
        )
        row("naive script (json.load, loop, json.dump)", script, None)
        decide_10k = in_process_decide(10_000, 10)
        decide_50k = in_process_decide(50_000, 10)
        print(
            f"{'decide() CPU, 10k x 10 / 50k x 10':<46} {decide_10k:7.3f} s / {decide_50k:.3f} s: "
            f"50k is {decide_50k / decide_10k:.2f}x 10k   goal < 0.25 s, <= 5.2x"
        )
        distinct_10k = in_process_decide(10_000, 10, distinct=True)
        distinct_50k = in_process_decide(50_000, 10, distinct=True)
        print(
            f"{'  the same, every reading distinct':<46} {distinct_10k:7.3f} s / "
            f"{distinct_50k:.3f} s: 50k is {distinct_50k / distinct_10k:.2f}x 10k"
        )
        print(f"{'import bot.cli (CPU)':<46} {import_time():7.3f} s   goal < 0.12 s")
        body, summary = render_times()
        print(f"{'pull request body CPU, 10k tenants x 3 features':<46} {body:7.3f} s")
        print(f"{'job summary CPU, 10k tenants x 3 features':<46} {summary:7.3f} s")
        args = [
            "apply",
            "--health",
            "health.json",
            "--policy",
            "rampbot.yml",
            "--flags",
            "flags.json",
        ]
        measured = median(rampbot(*args), cwd=small, prepare=pristine, runs=RUNS)
        row("rampbot apply --health (json.dumps layout)", measured, script, "goal <= 1.0x")
        measured = median(rampbot("plan", *INPUTS), cwd=small, prepare=pristine, runs=RUNS)
        row("rampbot plan (default output)", measured, script)
        measured = median(
            rampbot("plan", "--format", "json", *INPUTS), cwd=small, prepare=pristine, runs=RUNS
        )
        row("rampbot plan --format json", measured, script, "goal <= 1.5x, < 250 MiB")
        lines = root / "lines"
        fleet(lines, 10_000, 10)
        one_tenant_per_line(lines / "flags.json")
        shutil.copyfile(lines / "flags.json", lines / "flags.pristine.json")
        compare_apply(
            lines,
            lines / "flags.pristine.json",
            label="one tenant per line",
            runs=RUNS,
            goal="goal <= 1.5x",
        )
        if big:
            print("\n100,000 tenants x 10 features, one run")
            folder = root / "100k"
            compare_apply(
                folder, fleet(folder, 100_000, 10), label="100k x 10", runs=1, goal="< 10 s, < 2 GB"
            )
            shutil.rmtree(folder)
        if huge:
            print("\n900,000 tenants x 2 features, one run")
            folder = root / "900k"
            compare_apply(
                folder, fleet(folder, 900_000, 2), label="900k x 2", runs=1, goal="< 30 s, < 4 GB"
            )
        print(f"\n(whole benchmark {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
