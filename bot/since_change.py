"""How far back a comparison reads: from each tenant's last change, up to ``max_window``.

Pure: the change times come from the flags file's git history (bot/last_change.py), the moment
from the caller. The asymptotic confidence sequence of bot/compare.py holds uniformly over a
growing sample (arXiv:2103.06476: it covers at every n at once, not at one chosen n), so the
counts since the tenant's last change, read again at every run, are one sequence looked at many
times. A fixed bake window would slide instead, and judge a sample of the same size each run.
GrowthBook does the same: a safe rollout analyses everything since it started, and a change of
traffic starts a new phase whose analysis starts afresh
(https://docs.growthbook.io/app/making-experiment-changes).

A change of percentage starts a new sequence: the treatment share changes, and counts from before
and after it mix two shares (the sample ratio check would flag them). Every window starts at a
whole minute, rounded up from the change, so tenants changed by merges within one minute share
one window, hence one query, and a tenant's start stays the same from run to run (the windows
grow, one inside the next, as the sequence needs). Past ``max_window`` the window slides: its
looks are no longer one sequence, each is still a valid interval at its size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_GRID = 60  # seconds: starts are rounded up to the minute


@dataclass(frozen=True)
class ChangeTimes:
    """When each tenant's percentage last changed (under any feature), as git history says."""

    tenants: Mapping[str, datetime] = field(default_factory=dict)
    # Tenants the flags file does not name follow each feature's pct: its last change, or None
    # when no feature's pct changed within the history read.
    others: datetime | None = None


@dataclass(frozen=True)
class Windows:
    """The window each tenant's comparison is read over."""

    tenants: Mapping[str, timedelta]
    others: timedelta

    def of(self, tenant: str) -> timedelta:
        return self.tenants.get(tenant, self.others)

    @property
    def distinct(self) -> tuple[timedelta, ...]:
        """Every window to query once, longest first."""
        return tuple(sorted({*self.tenants.values(), self.others}, reverse=True))


def window_since(
    changed_at: datetime | None, *, moment: datetime, max_window: timedelta, bake_time: timedelta
) -> timedelta:
    """From the minute after ``changed_at`` to ``moment``, at most ``max_window``.

    ``changed_at`` None: no change within the history read, which reaches ``max_window`` back.
    With no whole second since that minute (a change within the last minute, or after the
    moment judged, as in a replay with ``--now``) there are no counts of the new percentage
    yet: the last ``bake_time`` is the freshest evidence there is. The tenant bakes, so it
    cannot step up on that evidence, but harm shown in it still rolls back.
    """
    if changed_at is None:
        return max_window
    start = math.ceil(changed_at.timestamp() / _GRID) * _GRID
    seconds = math.floor(moment.timestamp() - start)
    if seconds <= 0:
        return bake_time
    return min(timedelta(seconds=seconds), max_window)


def windows(
    changes: ChangeTimes | None,
    *,
    moment: datetime | None,
    max_window: timedelta,
    bake_time: timedelta,
) -> Windows:
    """Each tenant's window; without history (``changes`` None) every tenant's is the bake time.

    ``moment`` (when the windows end) is needed with ``changes`` only.
    """
    if changes is None:
        return Windows(tenants={}, others=bake_time)
    if moment is None:
        raise ValueError("windows since a change need the moment they end at")
    moment = moment.astimezone(UTC)
    return Windows(
        tenants={
            tenant: window_since(when, moment=moment, max_window=max_window, bake_time=bake_time)
            for tenant, when in changes.tenants.items()
        },
        others=window_since(
            changes.others, moment=moment, max_window=max_window, bake_time=bake_time
        ),
    )
