"""GitHub API requests per `rampbot run`: first run, unchanged re-run, updated plan.

Runs rampbot against the GitHub test double (tests/github_double) over a real bare repository,
as the end-to-end tests do, and prints the requests each run sent. Run from the repository root:
``python benchmarks/github_requests.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli import main  # noqa: E402
from tests.github_double import BareRepo, GitHubDouble  # noqa: E402

TENANTS = ("acme", "globex", "initech", "umbrella")
HOURLY_BUDGET = 1000  # GITHUB_TOKEN's requests per hour and repository


def health(path: Path, **changes: dict[str, float]) -> Path:
    tenants = {
        name: {"coverage": 99.0, "anchor_p95_ms": 20, "divergence": 0, **changes.get(name, {})}
        for name in TENANTS
    }
    path.write_text(json.dumps({"tenants": tenants, "alerts": []}), encoding="utf-8")
    return path


def measure() -> list[tuple[str, int, list[str]]]:
    demo = ROOT / "examples" / "demo"
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        os.environ.update(
            GIT_AUTHOR_NAME="Bench",
            GIT_AUTHOR_EMAIL="bench@example.invalid",
            GIT_COMMITTER_NAME="Bench",
            GIT_COMMITTER_EMAIL="bench@example.invalid",
        )
        origin = BareRepo.create(
            tmp / "origin.git",
            {
                "flags.json": (demo / "flags.json").read_text(encoding="utf-8"),
                ".github/rampbot.yml": (demo / ".github/rampbot.yml").read_text(encoding="utf-8"),
            },
        )
        work = tmp / "work"
        subprocess.run(["git", "clone", "-q", origin.url, str(work)], check=True)
        double = GitHubDouble(origin).start()
        env = {
            "GITHUB_TOKEN": double.token,
            "GITHUB_REPOSITORY": double.full_name,
            "GITHUB_API_URL": double.url,
            "GITHUB_WORKSPACE": str(work),
        }
        now = datetime.now(UTC) + timedelta(hours=1)
        runs = [
            ("first run", health(tmp / "a.json"), now),
            ("unchanged re-run", health(tmp / "a.json"), now + timedelta(minutes=30)),
            (
                "updated plan",
                health(tmp / "b.json", globex={"coverage": 90.0}),
                now + timedelta(hours=1),
            ),
        ]
        results = []
        try:
            for name, snapshot, moment in runs:
                double.reset_log()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = main(
                        ["run", "--health", str(snapshot), "--now", moment.isoformat()],
                        environ=env,
                    )
                if code != 0:
                    raise SystemExit(f"{name}: rampbot exited {code}")
                results.append((name, double.count(), double.requests()))
        finally:
            double.stop()
        double.assert_no_violations()
        return results


def report() -> None:
    results = measure()
    for name, count, requests in results:
        print(f"{name}: {count} GitHub API requests")
        for line in requests:
            print(f"    {line}")
    unchanged = results[1][1]
    per_hour = unchanged * 2  # a schedule of every 30 minutes
    print(
        f"unchanged plan on a 30-minute schedule: {per_hour} requests/hour, "
        f"{100 * per_hour / HOURLY_BUDGET:.1f}% of GITHUB_TOKEN's {HOURLY_BUDGET}/hour"
    )


if __name__ == "__main__":
    report()
