"""What the flags file's last 30 days show on the ramp dashboard: each tenant's last change and
each feature's daily spread of percentages.

Pure: the shell reads the versions from git (bot/git.py) and hands them over oldest first, one
at a time, as bytes; each is parsed once and only the one before it is kept, so 30 days of a
5 MB file at 10,000 tenants x 10 features cost two parsed versions of memory, not 120. A
feature whose entry did not change from the version before is not compared tenant by tenant.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import orjson

from bot.dashboard import DayPoint

# A version that is not a flags document (no JSON, no "features", an entry without "pct"):
# it changed nothing that could be served, so it is skipped.
_MALFORMED = (KeyError, TypeError, AttributeError, ValueError)
Version = tuple[datetime, bytes | None]  # when it reached the branch, the file (None: absent)


def fleet_history(
    baseline: Version | None,
    versions: Iterable[Version],
    *,
    days: Sequence[tuple[date, datetime]],
    tenants: Collection[str],
    features: Sequence[str],
    rollbacks: Mapping[tuple[str, date], int],
) -> tuple[dict[str, str], dict[str, list[DayPoint]]]:
    """Each tenant's last change within ``versions`` (a date), and per feature a point a day.

    ``baseline`` is the newest version before ``versions`` (None: the file did not exist);
    ``days`` are the chart's days with when each ends: a day shows the newest version committed
    by its end. ``tenants`` without an entry of their own get their feature's percentage.
    """
    wanted = list(tenants)
    series: dict[str, list[DayPoint]] = {feature: [] for feature in features}
    cache: dict[str, tuple[Any, tuple[float, int, int] | None]] = {}
    last: dict[str, str] = {}
    # The features of the newest version read: None while there is none, or it is malformed.
    shown: Mapping[str, Any] | None = None
    before: Mapping[str, Any] = {}  # the newest well-formed version's features
    pending = iter(days)
    day = next(pending, None)

    def close_days(until: datetime | None) -> None:
        nonlocal day
        while day is not None and (until is None or day[1] < until):
            if shown is not None:
                _add_points(series, shown, day[0], wanted, cache=cache, rollbacks=rollbacks)
            day = next(pending, None)

    if baseline is not None:
        shown = _features(baseline[1])
        before = shown or {}
    for committed_at, data in versions:
        close_days(committed_at)
        shown = _features(data)
        if shown is None:
            continue
        changed = _changed_tenants(before, shown, wanted)
        if changed is None:
            shown = None
            continue
        stamp = committed_at.strftime("%Y-%m-%d")
        for tenant in changed:
            last[tenant] = stamp
        before = shown
    close_days(None)
    return last, series


def _features(data: bytes | None) -> Mapping[str, Any] | None:
    if data is None:
        return {}  # absent: no tenant has a percentage
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # numbers past 64 bits, which json reads
            document = json.loads(data)
        except ValueError:
            return None
    features = document.get("features") if isinstance(document, dict) else None
    return features if isinstance(features, dict) else None


def _percentages(entry: Any, wanted: Sequence[str]) -> dict[str, int]:
    """Each tenant's percentage in one feature: its own, else the feature's."""
    percentages = dict.fromkeys(wanted, entry["pct"])
    for name, tenant in (entry.get("tenants") or {}).items():
        if "pct" in tenant:
            percentages[name] = tenant["pct"]
    return percentages


def _changed_tenants(
    before: Mapping[str, Any], after: Mapping[str, Any], wanted: Sequence[str]
) -> set[str] | None:
    """The tenants whose percentage differs in some feature; None if ``after`` is malformed."""
    changed: set[str] = set()
    try:
        for feature, entry in after.items():
            old = before.get(feature)
            if old == entry:
                continue  # compared in C, without a dict of percentages
            now = _percentages(entry, wanted)
            then = _percentages(old, wanted) if old is not None else {}
            changed.update(tenant for tenant, pct in now.items() if then.get(tenant) != pct)
    except _MALFORMED:
        return None
    return changed


def _add_points(
    series: dict[str, list[DayPoint]],
    features: Mapping[str, Any],
    day: date,
    wanted: Sequence[str],
    *,
    cache: dict[str, tuple[Any, tuple[float, int, int] | None]],
    rollbacks: Mapping[tuple[str, date], int],
) -> None:
    for feature, points in series.items():
        entry = features.get(feature)
        known = cache.get(feature)
        if known is not None and known[0] == entry:
            spread = known[1]
        else:
            spread = _spread(entry, wanted)
            cache[feature] = (entry, spread)
        if spread is not None:
            median, low, high = spread
            points.append(
                DayPoint(day, median, low, high, rollbacks=rollbacks.get((feature, day), 0))
            )


def _spread(entry: Any, wanted: Sequence[str]) -> tuple[float, int, int] | None:
    """The median, lowest and highest percentage of one feature; None without any."""
    if entry is None:
        return None
    try:
        values = list(_percentages(entry, wanted).values())
        if not values:
            return None
        return float(statistics.median(values)), min(values), max(values)
    except _MALFORMED:
        return None
