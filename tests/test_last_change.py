"""bot/last_change.py's last_changed over real first-parent histories, merges included."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import git as gitrepo
from bot.last_change import last_changed

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def flags(acme: int, globex: int = 5) -> str:
    return (
        json.dumps(
            {
                "version": "flags-v1",
                "features": {
                    "receipts": {
                        "pct": 0,
                        "tenants": {"acme": {"pct": acme}, "globex": {"pct": globex}},
                    }
                },
            }
        )
        + "\n"
    )


def commit(repo: Path, when: datetime, message: str, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": when.isoformat(),
        "GIT_COMMITTER_DATE": when.isoformat(),
    }
    subprocess.run(["git", *args, "-q", "-m", message], cwd=repo, env=env, check=True)


def write(repo: Path, text: str) -> None:
    (repo / "flags.json").write_text(text)
    subprocess.run(["git", "add", "flags.json"], cwd=repo, check=True)


def test_a_merge_dates_a_change_by_when_it_reached_main(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    write(repo, flags(10))
    commit(repo, T0, "start", "commit")
    # The step is authored at T0+1h on a branch, merged at T0+5h.
    subprocess.run(["git", "checkout", "-q", "-b", "rampbot/ramp"], cwd=repo, check=True)
    write(repo, flags(25))
    commit(repo, T0 + timedelta(hours=1), "step acme", "commit")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    (repo / "README").write_text("x")
    subprocess.run(["git", "add", "README"], cwd=repo, check=True)
    commit(repo, T0 + timedelta(hours=2), "unrelated", "commit")
    commit(repo, T0 + timedelta(hours=5), "merge", "merge", "--no-ff", "rampbot/ramp")
    handle = gitrepo.open_repository(repo)
    now = T0 + timedelta(hours=5, minutes=10)
    baseline, recent = gitrepo.flags_versions(
        handle, "flags.json", ref="main", since=now - timedelta(hours=1)
    )
    changed = last_changed(baseline, recent, tenants=["acme", "globex"])
    assert changed == {("receipts", "acme"): T0 + timedelta(hours=5)}
    # A wider window also sees the file's creation, for every tenant.
    baseline, recent = gitrepo.flags_versions(
        handle, "flags.json", ref="main", since=T0 - timedelta(days=1)
    )
    changed = last_changed(baseline, recent, tenants=["acme", "globex"])
    assert changed[("receipts", "globex")] == T0
    assert changed[("receipts", "acme")] == T0 + timedelta(hours=5)


def test_a_human_edit_on_main_counts_and_invalid_json_is_skipped(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    write(repo, flags(10))
    commit(repo, T0, "start", "commit")
    write(repo, "{ not json")
    commit(repo, T0 + timedelta(hours=1), "oops", "commit")
    write(repo, flags(10, globex=1))
    commit(repo, T0 + timedelta(hours=2), "person lowers globex", "commit")
    handle = gitrepo.open_repository(repo)
    baseline, recent = gitrepo.flags_versions(
        handle, "flags.json", ref="main", since=T0 + timedelta(minutes=30)
    )
    assert last_changed(baseline, recent, tenants=["acme", "globex"]) == {
        ("receipts", "globex"): T0 + timedelta(hours=2)
    }
