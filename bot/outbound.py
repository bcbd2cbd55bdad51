"""The boundary: every text that leaves rampbot passes through :func:`clean` on its way out.

Pull request titles and bodies, comments and commit statuses (bot/github.py), commit messages
(bot/commands/run.py), the job summary, step outputs and annotations (bot/actions.py), and every
line printed or logged (:class:`RedactingStream` and the log record factory, installed by
bot/cli.py) go through here, with the policy's redaction settings (``redact`` in the policy,
set by :func:`configure` when a policy is loaded). Alert text is also cleaned where it enters
(:func:`clean_health`, :func:`clean_incoming`: the health source and `rampbot serve`'s
webhook), before anything cuts it to a length. A new way out (a notification, an
issue, a log handler) calls :func:`clean` or :func:`clean_data` on what it sends.

This is the one module with state: the settings of the run and a tally of what was redacted
and skipped, so that the run can end with suggestions (counts only, never the values). Escaping
control characters (bot/terminal.py) is separate and applies after redaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:  # only for annotations: importing bot.health costs the policy's parser
    from bot.health import Health

from bot.redact import PLACEHOLDERS, Kind, NearMiss, Redactor, RedactSettings, redactor_for

SUGGESTION = (
    "to redact more, add a pattern to redact.deny in the policy; to keep a look-alike, add one "
    "to redact.allow (README: Personal data)"
)


@dataclass
class Tally:
    """Distinct values redacted in this run, and skipped in alert text, kept as hashes only."""

    redacted: dict[Kind, set[str]] = field(default_factory=dict)
    skipped: dict[NearMiss, set[str]] = field(default_factory=dict)

    def counts(self) -> tuple[Counter[Kind], Counter[NearMiss]]:
        """Distinct values redacted by kind, and distinct near misses by kind and reason."""
        return (
            Counter({kind: len(values) for kind, values in self.redacted.items()}),
            Counter({miss: len(values) for miss, values in self.skipped.items()}),
        )


class _Boundary:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.settings = RedactSettings()
        self.trusted: tuple[str, ...] = ()
        self.redactor: Redactor = redactor_for(self.settings)
        self.tally = Tally()

    def rebuild(self) -> None:
        allow = self.settings.allow + self.trusted
        self.redactor = redactor_for(replace(self.settings, allow=allow))

    def clean(self, text: str, *, near_misses: bool) -> str:
        result = self.redactor.redact(text)
        for item in result.found:
            self.tally.redacted.setdefault(item.kind, set()).add(_digest(item.text))
        # Near misses count in text from outside only: rampbot's own lines hold dates, counts
        # and ids that are nobody's personal data and no list needs to hear about.
        for skipped in result.skipped if near_misses else ():
            value = text[skipped.start : skipped.end]
            self.tally.skipped.setdefault(skipped.near_miss, set()).add(_digest(value))
        return result.text


_BOUNDARY = _Boundary()


def begin(settings: RedactSettings | None = None) -> None:
    """Start a run: the default settings (or ``settings``) and an empty tally."""
    _BOUNDARY.reset()
    if settings is not None:
        configure(settings)


def configure(settings: RedactSettings) -> None:
    """Redact with the policy's settings from now on."""
    _BOUNDARY.settings = settings
    _BOUNDARY.rebuild()


def trust(url: str) -> None:
    """Never redact the host of a service rampbot was told to use (Prometheus, Redis, GitHub).

    It is the operator's configuration, not anyone's personal data, and a message about a
    failed connection must say which server failed: "Redis at redis://10.0.0.7:6379/0".
    """
    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:  # too broken to split, still named in the message that says so
        host = url.partition("://")[2].partition("/")[0].rpartition("@")[2].strip("[]")
    if not host:
        return
    # The host alone, not a longer address that starts with it: 10.0.0.7 but not 10.0.0.71.
    pattern = rf"(?<![\w.:]){re.escape(host)}(?!\w|\.\d)"
    if pattern not in _BOUNDARY.trusted:
        _BOUNDARY.trusted += (pattern,)
        _BOUNDARY.rebuild()


def settings() -> RedactSettings:
    """The settings in force."""
    return _BOUNDARY.settings


def clean(text: str) -> str:
    """``text`` with personal data replaced: ``[email]``, ``[ip]``, ``[phone]``, ``[redacted]``."""
    return _BOUNDARY.clean(text, near_misses=False)


def clean_data(value: Any) -> Any:
    """A JSON-like value with every string in it (keys too) cleaned; numbers stay numbers."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean_data(key): clean_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(item) for item in value]
    return value


def clean_incoming(text: str) -> str:
    """Like :func:`clean`, for text from outside (alert annotations): near misses count too."""
    return _BOUNDARY.clean(text, near_misses=True)


def clean_health(health: Health) -> Health:
    """Health whose alert summaries are cleaned, where they enter: before any cut to a length."""
    if not any(alert.summary for alert in health.alerts):
        return health
    alerts = tuple(
        replace(alert, summary=clean_incoming(alert.summary)) if alert.summary else alert
        for alert in health.alerts
    )
    return replace(health, alerts=alerts)


def tally() -> Tally:
    """What this run redacted and skipped so far."""
    return _BOUNDARY.tally


def suggestions() -> str | None:
    """The end-of-run line: distinct kinds redacted and near misses skipped, counts only."""
    redacted, skipped = _BOUNDARY.tally.counts()
    if not redacted and not skipped:
        return None
    parts = []
    if redacted:
        shown = ", ".join(f"{n} {PLACEHOLDERS[kind]}" for kind, n in sorted(redacted.items()))
        parts.append(f"redacted {shown}")
    if skipped:
        shown = "; ".join(
            f"{count} {miss.kind.value} ({miss.reason.value})"
            for miss, count in sorted(skipped.items(), key=lambda item: (-item[1], str(item[0])))
        )
        parts.append(f"left as they are: {shown}")
    return f"rampbot: personal data: {'; '.join(parts)} (distinct values); {SUGGESTION}"


def _digest(value: str) -> str:
    # Only to count distinct values; the values themselves are never kept.
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class Writable(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class RedactingStream:
    """A text stream that cleans whole lines before passing them on.

    ``print`` writes a line in pieces and ``json.dump`` in tokens: a value is only judged with
    its context once its line is complete, so text waits here until a newline or a flush.
    """

    def __init__(self, stream: Writable) -> None:
        self.stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in text:
            complete, _, self._pending = self._pending.rpartition("\n")
            self.stream.write(clean(complete) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self.stream.write(clean(pending))
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def install_log_cleaning() -> Callable[[], None]:
    """Clean every log record's message, whatever handler writes it; returns the undo."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logging shows both
            message = f"{record.msg} {record.args!r}"
        record.msg = clean(message)
        record.args = None
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
