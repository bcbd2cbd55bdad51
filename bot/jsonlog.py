"""Structured log lines for long-running commands: one JSON object per event, on one line.

Secrets given at start are replaced by ``***`` in every line, whatever field they hide in, and
personal data by its marker (bot.outbound): every string of the event is cleaned before it is
written as JSON, where a non-ASCII address would be escaped out of a line-level redactor's sight.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot import outbound


class EventLog:
    """Writes ``{"time", "event", ...}`` lines to a stream, safe to share between threads."""

    def __init__(
        self,
        stream: TextIO,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._stream = stream
        self._secrets = [secret for secret in secrets if secret]
        self._clock = clock
        self._lock = threading.Lock()

    def event(self, name: str, **fields: Any) -> None:
        record = {"time": self._clock().isoformat(timespec="milliseconds"), "event": name}
        record.update(fields)
        line = json.dumps(outbound.clean_data(_plain(record)), ensure_ascii=True)
        for secret in self._secrets:
            line = line.replace(secret, "***")
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def _plain(value: Any) -> Any:
    """``value`` with what JSON cannot hold as text (times, paths, enums) turned into strings."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class LogWriter:
    """A text stream that turns each printed line into a log event (what shared code prints)."""

    def __init__(self, log: EventLog, event: str) -> None:
        self._log = log
        self._event = event
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.strip():
                self._log.event(self._event, message=line)
        return len(text)

    def flush(self) -> None:
        pass
