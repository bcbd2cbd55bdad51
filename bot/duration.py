"""Durations as Prometheus writes them: 90s, 30m, 1h30m, 2d."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``30m`` or ``1h30m``; the schema has already checked the form."""
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 1h30m or 2d")
    return timedelta(seconds=sum(int(number) * _SECONDS[unit] for number, unit in parts))


def format_duration(duration: timedelta) -> str:
    """Write a duration the way Prometheus does (``1h30m``), for range selectors and reasons."""
    seconds = int(duration.total_seconds())
    if seconds == 0:
        return "0s"
    text = ""
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _SECONDS[unit])
        if count:
            text += f"{count}{unit}"
    return text
