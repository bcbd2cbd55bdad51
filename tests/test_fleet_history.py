"""The dashboard's history: each tenant's last change and a point a day per feature, from versions
read one at a time (pure), and from a real git repository through the shell."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot import git as gitrepo
from bot.commands.dashboard_issue import dashboard_history
from bot.dashboard import DayPoint
from bot.decide import Action, Decision, Kind, Plan
from bot.fleet_history import fleet_history

DAY1, DAY2, DAY3 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
DAYS = [
    (DAY1, datetime.combine(DAY2, time(), tzinfo=UTC)),
    (DAY2, datetime.combine(DAY3, time(), tzinfo=UTC)),
    (DAY3, NOW),
]


def text(receipts: dict[str, int], *, pct: int = 0, attest: int | None = None) -> bytes:
    features: dict[str, Any] = {
        "receipts": {"pct": pct, "tenants": {t: {"pct": p} for t, p in receipts.items()}}
    }
    if attest is not None:
        features["attest"] = {"pct": attest}
    return json.dumps({"version": "flags-v1", "features": features}, indent=2).encode()


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def test_each_tenant_s_last_change_and_each_day_s_spread():
    baseline = (at(DAY1, 0) - timedelta(days=3), text({"acme": 5, "globex": 5}, attest=1))
    versions = [
        (at(DAY1, 9), text({"acme": 10, "globex": 5}, attest=1)),  # acme
        (at(DAY2, 9), text({"acme": 10, "globex": 5}, attest=5)),  # attest's pct moves everyone
        (at(DAY2, 10), b"{not json"),  # skipped: it changed nothing that could be served
        (at(DAY3, 0), text({"acme": 10, "globex": 25}, attest=5)),  # at midnight: DAY2's end
    ]
    last, series = fleet_history(
        baseline,
        iter(versions),
        days=DAYS,
        tenants=["acme", "globex", "initech"],
        features=["receipts", "attest"],
        rollbacks={("receipts", DAY2): 2},
    )
    assert last == {"acme": "2026-11-25", "globex": "2026-11-26", "initech": "2026-11-25"}
    assert series["receipts"] == [
        DayPoint(DAY1, 5.0, 0, 10),  # acme 10, globex 5, initech the feature's 0
        DayPoint(DAY2, 10.0, 0, 25, rollbacks=2),  # globex's step at midnight counts here
        DayPoint(DAY3, 10.0, 0, 25),
    ]
    assert series["attest"] == [
        DayPoint(DAY1, 1.0, 1, 1),
        DayPoint(DAY2, 5.0, 5, 5),
        DayPoint(DAY3, 5.0, 5, 5),
    ]


def test_an_unparsable_last_version_of_a_day_leaves_that_day_without_a_point():
    versions = [(at(DAY1, 9), text({"acme": 10})), (at(DAY2, 9), b'{"features": 3}')]
    _, series = fleet_history(
        None, versions, days=DAYS, tenants=["acme"], features=["receipts"], rollbacks={}
    )
    assert [point.day for point in series["receipts"]] == [DAY1]


def test_before_the_file_exists_there_is_nothing_to_show():
    versions = [(at(DAY2, 9), text({"acme": 10}))]
    last, series = fleet_history(
        None, versions, days=DAYS, tenants=["acme"], features=["receipts"], rollbacks={}
    )
    # Created within the days: its creation is every tenant's change.
    assert last == {"acme": "2026-11-25"}
    assert [point.day for point in series["receipts"]] == [DAY2, DAY3]


def git(repo: Path, *args: str, when: datetime | None = None) -> None:
    env = dict(os.environ)
    if when is not None:
        stamp = f"{int(when.timestamp())} +0000"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_the_dashboard_reads_the_history_from_git(tmp_path: Path) -> None:
    repo = tmp_path / "flags"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    history = [
        (at(DAY1, 0) - timedelta(days=40), text({"acme": 1, "globex": 1})),  # the baseline
        (at(DAY1, 8), text({"acme": 5, "globex": 1})),
        (at(DAY2, 8), text({"acme": 5, "globex": 10})),
    ]
    for when, content in history:
        (repo / "flags.json").write_bytes(content)
        git(repo, "add", "flags.json")
        git(repo, "commit", "-qm", "step", when=when)
    (repo / "other.txt").write_text("not the flags file\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-qm", "other", when=at(DAY3, 8))
    plan = Plan(
        decisions=tuple(
            Decision(t, "receipts", 5, 10, Action.UP, Kind.HEALTHY) for t in ("acme", "globex")
        ),
        evaluated_at=NOW,
        window="30m",
    )
    last, series = dashboard_history(
        gitrepo.open_repository(repo), ref="main", path="flags.json", plan=plan
    )
    assert last == {"acme": "2026-11-24", "globex": "2026-11-25"}
    points = series["receipts"]
    assert len(points) == 30  # the baseline shows on the days before the first change
    assert points[-3:] == [
        DayPoint(DAY1, 3.0, 1, 5),
        DayPoint(DAY2, 7.5, 5, 10),
        DayPoint(DAY3, 7.5, 5, 10),
    ]
