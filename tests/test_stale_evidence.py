"""Health measured before a tenant's last change never moves it up (issue 9).

Real git repositories dated with GIT_*_DATE, the demo snapshot, and the real Prometheus of
tests/fixtures/prometheus.py replayed at the end of its known history.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli import main
from tests.fixtures.prometheus import at_history_end
from tests.prometheus_repo import write_repo

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"
SNAPSHOT_TIME = "2026-11-26T09:30:00Z"
A_WEEK_BEFORE = "2026-11-20T09:00:00Z"
THE_DAY_AFTER = "2026-11-27T08:00:00Z"


def git(repo: Path, *args: str, date: str | None = None) -> None:
    environ = dict(os.environ)
    if date is not None:
        environ |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=environ)


def commit_all(repo: Path, message: str, *, date: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, date=date)


def set_pct(repo: Path, feature: str, tenant: str, pct: int) -> None:
    path = repo / "flags.json"
    document = json.loads(path.read_text())
    document["features"][feature].setdefault("tenants", {}).setdefault(tenant, {})["pct"] = pct
    path.write_text(json.dumps(document, indent=2) + "\n")


def set_mtime(path: Path, moment: str) -> None:
    seconds = datetime.fromisoformat(moment).timestamp()
    os.utime(path, (seconds, seconds))


def green_demo(tmp_path: Path) -> Path:
    """The demo with globex healthy too, so that two tenants could step up."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    health = json.loads((repo / "health.json").read_text())
    health["tenants"]["globex"] = dict(health["tenants"]["acme"])
    health["alerts"] = []
    (repo / "health.json").write_text(json.dumps(health, indent=2) + "\n")
    return repo


def decisions(repo: Path, capsys: Any, *args: str) -> dict[tuple[str, str], tuple[str, int, list]]:
    assert main(["-C", str(repo), "plan", "--format", "json", *args], environ={}) == 0, (
        capsys.readouterr().err
    )
    plan = json.loads(capsys.readouterr().out)
    return {
        (d["feature"], d["tenant"]): (d["action"], d["to"], d["reasons"]) for d in plan["decisions"]
    }


def stale(*, pct: int, measured: str, changed: str) -> str:
    return (
        f"health evaluated at {measured} is older than the change to {pct}% at {changed}; "
        "a step up needs health measured after it"
    )


def test_a_step_committed_after_the_snapshot_is_not_judged_by_it(tmp_path, capsys):
    # The repro: the demo committed a week before the snapshot, then acme 10 -> 25 the
    # day after it. The snapshot knows acme at 10%, not at 25%.
    repo = green_demo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "demo", date=A_WEEK_BEFORE)
    set_pct(repo, "receipts", "acme", 25)
    commit_all(repo, "acme to 25%", date=THE_DAY_AFTER)
    found = decisions(repo, capsys, "--health", "health.json")
    action, to, reasons = found["receipts", "acme"]
    assert (action, to) == ("hold", 25)
    assert reasons[0] == stale(pct=25, measured=SNAPSHOT_TIME, changed=THE_DAY_AFTER)
    # Replaying the snapshot still works for the tenant that did not change since.
    assert found["receipts", "globex"][:2] == ("up", 10)


def test_a_later_time_given_with_now_does_not_make_the_snapshot_newer(tmp_path, capsys):
    repo = green_demo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "demo", date=A_WEEK_BEFORE)
    set_pct(repo, "receipts", "acme", 25)
    commit_all(repo, "acme to 25%", date=THE_DAY_AFTER)
    found = decisions(repo, capsys, "--health", "health.json", "--now", "2026-11-28T00:00:00Z")
    assert found["receipts", "acme"][:2] == ("hold", 25)
    assert found["receipts", "acme"][2][0] == stale(
        pct=25, measured=SNAPSHOT_TIME, changed=THE_DAY_AFTER
    )


def test_a_breach_in_old_health_still_steps_down(tmp_path, capsys):
    # Stale health never moves a tenant up; a breach it shows still rolls back or steps down.
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "demo", date=A_WEEK_BEFORE)
    set_pct(repo, "receipts", "initech", 50)
    commit_all(repo, "initech to 50%", date=THE_DAY_AFTER)
    found = decisions(repo, capsys, "--health", "health.json")
    assert found["receipts", "initech"][:2] == ("rollback", 25)


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_replaying_prometheus_holds_only_the_tenants_changed_since(tmp_path, prometheus, capsys):
    # --now at the end of the known history; "green" was stepped to 25% ten minutes after it,
    # "old_dip" was not touched since a week before.
    end = at_history_end(prometheus)
    repo = write_repo(tmp_path, prometheus.url, tenants=["green", "old_dip"])
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "flags", date=utc(end - timedelta(days=7)))
    changed = end + timedelta(minutes=10)
    set_pct(repo, "receipts", "green", 25)
    commit_all(repo, "green to 25%", date=utc(changed))
    found = decisions(repo, capsys, "--now", end.isoformat())
    assert found["receipts", "green"][:2] == ("hold", 25)
    assert found["receipts", "green"][2][0] == stale(
        pct=25, measured=utc(end), changed=utc(changed)
    )
    assert found["receipts", "old_dip"][:2] == ("up", 25)


def apply(repo: Path, capsys: Any, *args: str) -> str:
    assert main(["-C", str(repo), "apply", *args], environ={}) == 0, capsys.readouterr().err
    return capsys.readouterr().err


def pcts(repo: Path) -> dict[str, Any]:
    return json.loads((repo / "flags.json").read_text())["features"]["receipts"]["tenants"]


INITECH_HOLD = "rolled back from 25% (divergence > 0)"


def test_apply_twice_without_a_commit_steps_once(tmp_path, capsys):
    repo = green_demo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "demo", date=A_WEEK_BEFORE)
    assert apply(repo, capsys, "--health", "health.json") == "wrote flags.json (revision 1)\n"
    assert pcts(repo)["acme"] == {"pct": 25}
    assert pcts(repo)["initech"] == {"pct": 10, "hold": INITECH_HOLD}
    # The uncommitted step counts from when the file was written, which is after the snapshot;
    # the rollback goes on (rollbacks are never held back) and keeps its marker's origin.
    assert apply(repo, capsys, "--health", "health.json") == "wrote flags.json (revision 2)\n"
    assert pcts(repo)["acme"] == {"pct": 25}
    assert pcts(repo)["globex"] == {"pct": 10}
    assert pcts(repo)["initech"] == {"pct": 5, "hold": INITECH_HOLD}


def test_an_uncommitted_change_bakes_from_when_the_file_was_written(tmp_path, capsys):
    repo = green_demo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "demo", date=A_WEEK_BEFORE)
    set_pct(repo, "receipts", "acme", 25)
    set_mtime(repo / "flags.json", "2026-11-26T09:10:00Z")  # 20 minutes before the snapshot
    action, to, reasons = decisions(repo, capsys, "--health", "health.json")["receipts", "acme"]
    assert (action, to) == ("hold", 25)
    assert reasons[0] == "at 25% for 20m, less than the bake time of 30m"
    set_mtime(repo / "flags.json", "2026-11-26T08:50:00Z")  # baked by the snapshot's time
    assert decisions(repo, capsys, "--health", "health.json")["receipts", "acme"][:2] == (
        "up",
        50,
    )


def test_outside_git_the_file_s_last_write_dates_every_change(tmp_path, capsys):
    repo = green_demo(tmp_path)
    set_mtime(repo / "flags.json", "2026-11-25T09:30:00Z")
    assert apply(repo, capsys, "--health", "health.json") == "wrote flags.json (revision 1)\n"
    assert pcts(repo)["acme"] == {"pct": 25}
    apply(repo, capsys, "--health", "health.json")
    assert pcts(repo)["acme"] == {"pct": 25}
    assert pcts(repo)["globex"] == {"pct": 10}
    action, to, reasons = decisions(repo, capsys, "--health", "health.json")["receipts", "acme"]
    assert (action, to) == ("hold", 25)
    assert reasons[0].startswith("health evaluated at 2026-11-26T09:30:00Z is older than the ")


def test_apply_twice_against_prometheus_steps_once(tmp_path, prometheus, capsys):
    # Present-time health: the first apply steps now_green and rolls now_alerted back; the
    # second sees the uncommitted step as made now, less than the bake time ago.
    repo = write_repo(tmp_path, prometheus.url, case="now", bake_time="1h", step="1s")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "flags", date="2026-01-01T00:00:00Z")
    assert main(["-C", str(repo), "apply"], environ={}) == 0
    capsys.readouterr()
    first = pcts(repo)
    assert first["now_green"] == {"pct": 25}
    assert first["now_alerted"] == {
        "pct": 5,
        "hold": "rolled back from 10% (alert ShadowDivergence)",
    }
    found = decisions(repo, capsys)
    action, to, reasons = found["receipts", "now_green"]
    assert (action, to) == ("hold", 25)
    assert reasons[0].startswith("at 25% for ")
    assert reasons[0].endswith(", less than the bake time of 1h")
    # Rollbacks are never held back, and the marker keeps the first rollback's origin.
    assert main(["-C", str(repo), "apply"], environ={}) == 0
    second = pcts(repo)
    assert second["now_green"] == {"pct": 25}
    assert second["now_alerted"] == {
        "pct": 1,
        "hold": "rolled back from 10% (alert ShadowDivergence)",
    }
