"""What the git history of the flags file says: when each tenant's percentage last changed.

Pure: the git adapter (bot/git.py) reads the versions; this module only compares them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# (feature, tenant) -> percentage
Percentages = dict[tuple[str, str], int]


@dataclass(frozen=True)
class FlagsVersion:
    """The flags file as one commit on the base branch left it."""

    commit: str
    committed_at: datetime  # when the commit reached the base branch (first-parent history)
    author: str
    message: str
    text: str | None  # None where the file is absent at that commit
    trailers: tuple[tuple[str, str], ...] = ()  # the message's trailer block, as git reads it


def effective_percentages(text: str | None, tenants: Iterable[str]) -> Percentages | None:
    """Each tenant's percentage per feature in one version; None if the text is not valid JSON.

    ``tenants`` are the tenants to report besides those the file names: a tenant without an entry
    gets the feature's pct, so a change of the feature's pct moves it too.
    """
    if text is None:
        return {}
    try:
        document: Any = json.loads(text)
        features: Mapping[str, Any] = document["features"]
        wanted = list(tenants)
        result: Percentages = {}
        for feature, entry in features.items():
            own = {
                name: tenant["pct"]
                for name, tenant in (entry.get("tenants") or {}).items()
                if "pct" in tenant
            }
            for name in wanted:
                result[feature, name] = own.get(name, entry["pct"])
            for name, pct in own.items():
                result[feature, name] = pct
        return result
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def last_changed(
    baseline: FlagsVersion | None,
    recent: Sequence[FlagsVersion],
    *,
    tenants: Iterable[str],
    until: datetime | None = None,
) -> dict[tuple[str, str], datetime]:
    """When each (feature, tenant) last changed percentage among the ``recent`` versions.

    ``recent`` runs oldest to newest and covers at least the bake window; ``baseline`` is the
    version just before it, or None when the file was created inside the window (then creation
    counts as a change). A pair absent from the result has not changed inside the window.
    A version that is not valid JSON is skipped: it changed nothing that could be served.
    Versions committed after ``until`` are left out: replaying a past time (``--now``) must not
    see changes made later.
    """
    names = set(tenants)
    changed: dict[tuple[str, str], datetime] = {}
    before = effective_percentages(baseline.text if baseline else None, names) or {}
    for version in recent:
        if until is not None and version.committed_at > until:
            break
        after = effective_percentages(version.text, names)
        if after is None:
            continue
        for key, pct in after.items():
            if before.get(key) != pct:
                changed[key] = version.committed_at
        before = after
    return changed
