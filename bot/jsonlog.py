"""Structured log lines for long-running commands: one JSON object per event, on one line.

Secrets given at start are replaced by ``***`` in every line, whatever field they hide in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO


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
        line = json.dumps(record, default=str, ensure_ascii=True)
        for secret in self._secrets:
            line = line.replace(secret, "***")
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


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
