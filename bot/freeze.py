"""Freeze windows: the times in which nothing steps up, each in its own time zone.

Pure: the evaluation time comes in as an argument. A window is either a cron start with a
duration (``0 18 * * FRI`` for ``2d14h``: every weekend) or a range of local dates and times
(``2026-12-20`` to ``2027-01-04``). Both are read on the wall clock of the window's IANA time
zone, so a weekend freeze ends at 08:00 on Monday whether or not the clocks changed over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

# A window whose starts overlap (every hour, for a day) ends after the last overlapping one; this
# bounds the walk along them.
_MAX_OVERLAPS = 10_000
# Windows that carry a freeze on from one to the next (a weekend into the holidays); each hop may
# walk a cron's overlapping starts, so a window that never ends (every minute, for an hour) is
# cut here and the end named is the earliest it could be (32 hops: 1.5 s of CPU at worst).
_MAX_HOPS = 32


@dataclass(frozen=True)
class FreezeWindow:
    """One window of the policy's ``freeze:`` list."""

    name: str
    zone: ZoneInfo
    cron: str | None = None
    duration: timedelta | None = None
    start: datetime | None = None  # naive, on the zone's wall clock
    end: datetime | None = None  # naive, exclusive

    def ends_after(self, now: datetime) -> datetime | None:
        """When the window holding ``now`` ends (aware, in the window's zone); None if open."""
        local = now.astimezone(self.zone)
        if self.cron is not None:
            assert self.duration is not None
            return _cron_end(self.cron, self.duration, local)
        assert self.start is not None
        assert self.end is not None
        start = self.start.replace(tzinfo=self.zone)
        end = self.end.replace(tzinfo=self.zone)
        return end if start <= local < end else None


@dataclass(frozen=True)
class Frozen:
    """The window that holds the evaluation time, and when it ends."""

    window: str
    until: datetime  # aware, in the window's zone
    # The windows that hold the freeze before ``window`` takes it over, in order.
    before: tuple[str, ...] = ()

    def __str__(self) -> str:
        local = self.until.strftime("%Y-%m-%d %H:%M")
        zone = self.until.tzname() or ""
        names = ", then ".join([*self.before, self.window])
        return f"freeze window {names} until {local} {zone} ({self.until.tzinfo})"


def check_cron(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression cronsim reads, or None when it is."""
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    except CronSimError as error:
        return str(error)
    return None


def frozen_at(windows: Iterable[FreezeWindow], now: datetime) -> Frozen | None:
    """Until when no window lets a step up through from ``now``, or None when none holds it.

    The window holding ``now`` that ends last is named; a window that holds at its end (it began
    before) carries the freeze on and is named after it, since the hold reason promises no step
    up until the end it gives.
    """
    windows = list(windows)
    frozen: Frozen | None = None
    moment = now
    for _ in range(_MAX_HOPS):
        found = [
            (until, window.name)
            for window in windows
            if (until := window.ends_after(moment)) is not None
            and (frozen is None or until > frozen.until)
        ]
        if not found:
            break
        until, name = max(found, key=lambda item: item[0])
        before: tuple[str, ...] = ()
        if frozen is not None:
            # A window that carries on its own freeze (a cron's next start) is named once.
            before = frozen.before if frozen.window == name else (*frozen.before, frozen.window)
        frozen = Frozen(window=name, until=until, before=before)
        moment = until
    return frozen


def _cron_end(expression: str, duration: timedelta, local: datetime) -> datetime | None:
    # cronsim yields the times strictly before (reverse) or after the one it starts from; one
    # second later makes a start at exactly ``local`` count.
    latest = next(
        CronSim(expression, local.replace(microsecond=0) + timedelta(seconds=1), reverse=True), None
    )
    if latest is None:
        return None
    end = _wall_add(latest, duration)
    if end <= local:
        # The latest start's window is over; an earlier start cannot end later with the same
        # duration, so nothing holds ``local``.
        return None
    # Later starts that begin before this window ends extend it.
    for count, start in enumerate(CronSim(expression, local)):
        if start >= end or count >= _MAX_OVERLAPS:
            break
        end = max(end, _wall_add(start, duration))
    return end


def _wall_add(start: datetime, duration: timedelta) -> datetime:
    """``start`` plus ``duration`` on the wall clock (Python's aware arithmetic), normalised."""
    return (start + duration).astimezone(start.tzinfo)
