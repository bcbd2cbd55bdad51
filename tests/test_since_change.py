"""Comparison windows from each tenant's last change (bot/since_change.py), and the change times
the shell reads from the flags file's git history for them (bot/commands/planning.py)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.commands.planning import OTHERS, FlagsLocation, comparison_since
from bot.inputs import load_inputs
from bot.since_change import ChangeTimes, window_since, windows

END = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)
BAKE = timedelta(minutes=30)
LIMITS = {"max_window": SIX_HOURS, "bake_time": BAKE}


def test_a_window_starts_at_the_whole_minute_after_the_change():
    assert window_since(END - timedelta(hours=2), moment=END, **LIMITS) == timedelta(hours=2)
    # A change at 09:59:30 counts from 10:00: no request from before the change is counted.
    changed = END - timedelta(hours=2, seconds=30)
    assert window_since(changed, moment=END, **LIMITS) == timedelta(hours=2)
    # The moment need not be a whole minute: the window ends there.
    later = END + timedelta(seconds=17)
    assert window_since(changed, moment=later, **LIMITS) == timedelta(hours=2, seconds=17)


def test_a_window_grows_run_after_run_up_to_max_window_then_slides():
    changed = END - timedelta(minutes=45, seconds=10)
    looks = [
        window_since(changed, moment=END + timedelta(minutes=30 * run), **LIMITS)
        for run in range(14)
    ]
    assert looks[:3] == [timedelta(minutes=45), timedelta(minutes=75), timedelta(minutes=105)]
    assert all(a < b for a, b in itertools.pairwise(looks[:12]))
    assert looks[11:] == [SIX_HOURS] * 3
    assert window_since(None, moment=END, **LIMITS) == SIX_HOURS


def test_the_bake_time_for_a_change_after_the_moment_or_within_its_minute():
    # No counts of the new percentage yet: the last bake time is the freshest evidence.
    assert window_since(END + timedelta(minutes=5), moment=END, **LIMITS) == BAKE
    assert window_since(END - timedelta(seconds=20), moment=END, **LIMITS) == BAKE
    assert window_since(END - timedelta(seconds=61), moment=END, **LIMITS) == timedelta(minutes=1)


def test_tenants_changed_in_one_minute_share_a_window_hence_a_query():
    changes = ChangeTimes(
        tenants={
            "acme": END - timedelta(hours=1, seconds=40),
            "globex": END - timedelta(hours=1, seconds=5),  # another merge, the same minute
            "initech": END - timedelta(hours=3),
            "umbrella": END + timedelta(minutes=1),
        },
        others=END - timedelta(hours=9),
    )
    found = windows(changes, moment=END, **LIMITS)
    assert found.distinct == (SIX_HOURS, timedelta(hours=3), timedelta(hours=1), BAKE)
    assert found.of("acme") == found.of("globex") == timedelta(hours=1)
    assert found.of("umbrella") == BAKE
    assert found.of("hooli") == SIX_HOURS  # not named: follows the feature's pct


def test_without_history_every_window_is_the_bake_time():
    found = windows(None, moment=None, max_window=SIX_HOURS, bake_time=timedelta(minutes=30))
    assert found.distinct == (timedelta(minutes=30),)
    assert found.of("acme") == timedelta(minutes=30)


POLICY = """\
bake_time: 30m
signals:
  - name: errors_vs_control
    compare:
      events: 'sum by (tenant, variant) (increase(errors_total[$window]))'
      total: 'sum by (tenant, variant) (increase(requests_total[$window]))'
      worse_by_more_than: 0.002
      max_window: {max_window}
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
  search:
    steps: [10, 50, 100]
"""


def commit(repo: Path, when: datetime, receipts: dict, search: dict) -> None:
    document = {"version": "flags-v1", "features": {"receipts": receipts, "search": search}}
    (repo / "flags.json").write_text(json.dumps(document, indent=2) + "\n")
    stamp = {"GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat()}
    git = ["git", "-c", "user.name=ramp", "-c", "user.email=ramp@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "x"], cwd=repo, env={**os.environ, **stamp}, check=True
    )


def since_in(tmp_path: Path, *, max_window: str = "6h") -> ChangeTimes | None:
    from bot import git as gitrepo

    (tmp_path / "policy.yml").write_text(POLICY.format(max_window=max_window))
    inputs = load_inputs(policy_path=tmp_path / "policy.yml", flags_path=tmp_path / "flags.json")
    repo = gitrepo.find_repository(tmp_path)
    return comparison_since(inputs, FlagsLocation(repo, "HEAD", "flags.json"), at=END)


def test_each_tenants_latest_change_under_any_feature_dates_its_comparison(tmp_path):
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    acme = {"acme": {"pct": 5}}
    commit(tmp_path, END - timedelta(hours=20), {"pct": 1, "tenants": acme}, {"pct": 10})
    # acme moves in receipts 4h ago, in search (with everyone) 2h ago.
    commit(
        tmp_path,
        END - timedelta(hours=4),
        {"pct": 1, "tenants": {"acme": {"pct": 10}}},
        {"pct": 10},
    )
    commit(
        tmp_path,
        END - timedelta(hours=2),
        {"pct": 1, "tenants": {"acme": {"pct": 10}}},
        {"pct": 50},
    )
    since = since_in(tmp_path)
    assert since == ChangeTimes(
        tenants={"acme": END - timedelta(hours=2)}, others=END - timedelta(hours=2)
    )
    # History is read back to max_window only: older changes are "none within it".
    assert since_in(tmp_path, max_window="1h") == ChangeTimes(tenants={}, others=None)
    assert OTHERS not in since.tenants


def test_a_tenant_unchanged_while_the_features_pct_moves_keeps_its_own_start(tmp_path):
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    own = {"tenants": {"acme": {"pct": 10}}}
    commit(tmp_path, END - timedelta(hours=20), {"pct": 1, **own}, {"pct": 10, **own})
    commit(tmp_path, END - timedelta(hours=3), {"pct": 5, **own}, {"pct": 10, **own})
    since = since_in(tmp_path)
    assert since == ChangeTimes(tenants={}, others=END - timedelta(hours=3))
