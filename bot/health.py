"""Health as read from a source (a snapshot file or Prometheus): values per tenant and signal.

A source reports what it measured; judging a value against the policy is the decision core's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.burn import windows_of
from bot.compare import Arms, Counts
from bot.duration import format_duration, parse_duration
from bot.errors import InputError, InputErrors
from bot.jsontext import line_at
from bot.policy import Policy
from bot.schema import parse_json
from bot.since_change import ChangeTimes

ALL_TENANTS = None  # an alert without a tenant label concerns every tenant
_SNAPSHOT_KEYS = ("tenants", "alerts", "evaluated_at")


@dataclass(frozen=True)
class Reading:
    """One signal for one tenant over the window: its aggregate, or None for no data."""

    value: float | None
    samples: int | None = None  # points in the window, where the source can count them

    @property
    def has_data(self) -> bool:
        # ±Inf is a division by zero, not a measurement: it must never satisfy ">= 95" (issue 9).
        return self.value is not None and math.isfinite(self.value)

    @property
    def not_finite(self) -> bool:
        """A value that came back as NaN or ±Inf: no data, for a reason worth naming."""
        return self.value is not None and not math.isfinite(self.value)


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str | None
    tenant: str | None  # None: applies to every tenant
    summary: str | None = None


@dataclass(frozen=True)
class Health:
    """Readings per tenant and signal, and the alerts firing, at one evaluation time."""

    readings: Mapping[str, Mapping[str, Reading]]
    every_tenant: Mapping[str, Reading] = field(default_factory=dict)  # today's global file
    alerts: tuple[Alert, ...] = ()
    evaluated_at: datetime | None = None
    source: str = "snapshot"
    query_urls: Mapping[str, str] = field(default_factory=dict)  # signal -> graph link
    # Comparison signals: tenant -> signal -> both arms' counts over the window.
    arms: Mapping[str, Mapping[str, Arms]] = field(default_factory=dict)
    # SLO signals: tenant -> signal -> window ("1h") -> counts over that window.
    burn_windows: Mapping[str, Mapping[str, Mapping[str, Counts]]] = field(default_factory=dict)

    @property
    def tenants(self) -> set[str]:
        """Every tenant some signal reported."""
        return set(self.readings) | set(self.arms) | set(self.burn_windows)

    def reading(self, tenant: str, signal: str) -> Reading:
        found = self.readings.get(tenant, {}).get(signal) or self.every_tenant.get(signal)
        return found or Reading(None)

    def alerts_for(self, tenant: str) -> tuple[Alert, ...]:
        return tuple(alert for alert in self.alerts if alert.tenant in (tenant, ALL_TENANTS))


class HealthSource(Protocol):
    """Where health comes from besides a snapshot file: Prometheus or an engine like it."""

    def read(
        self, policy: Policy, *, at: datetime | None, since: ChangeTimes | None = None
    ) -> Health:
        """Every signal of ``policy`` over its bake window ending at ``at`` (else the present),
        comparisons from each tenant's last change in ``since`` where it is given."""
        ...


def parse_snapshot(text: str, *, source: str, policy: Policy) -> Health:
    """Parse a health snapshot file, per tenant or today's global form, checking signal names.

    Threshold signals take a number (or null), comparison signals both arms' counts, SLO
    signals the counts of each window; counts must be finite, not negative, and no more bad
    requests than requests.
    """
    document = parse_json(text, source=source, schema="health.schema.json", non_finite=True)
    kinds = {signal.name: "threshold" for signal in policy.signals}
    kinds |= {signal.name: "comparison" for signal in policy.comparisons}
    kinds |= {signal.name: "slo" for signal in policy.slos}
    slo_windows = {signal.name: windows_of(signal.pairs) for signal in policy.slos}
    problems: list[InputError] = []
    # Equal values share one Reading: a snapshot of 900,000 tenants repeats few values, and
    # each Reading is an object of its own (issue 14). repr keeps -0.0 apart from 0.0.
    shared: dict[str, Reading] = {}

    def reading(value: Any) -> Reading:
        key = repr(value)
        found = shared.get(key)
        if found is None:
            found = shared[key] = Reading(_number(value))
        return found

    def problem(path: list[str], message: str) -> None:
        problems.append(
            InputError(
                f"{source}: {'.'.join(path)}: {message}", file=source, line=line_at(text, path)
            )
        )

    def known(name: str, path: list[str]) -> str | None:
        if name not in kinds:
            problem(
                path,
                f"unknown signal {name!r}; the policy's signals are: {', '.join(sorted(kinds))}",
            )
            return None
        return kinds[name]

    def counts(value: Any, path: list[str]) -> Counts | None:
        events, total = value["events"], value["total"]
        good = True
        for key, number in (("events", events), ("total", total)):
            if number is None or not math.isfinite(number):
                shown = "null" if number is None else _number_text(number)
                problem([*path, key], f"{shown} is not a finite number; {_COUNT_HINT}")
                good = False
            elif number < 0:
                problem([*path, key], f"{_number_text(number)} is negative; {_COUNT_HINT}")
                good = False
        if good and events > total:
            problem(
                path,
                f"events {_number_text(events)} is more than total {_number_text(total)}; "
                "events counts the bad requests among total, so it is at most total",
            )
            good = False
        return Counts(float(events), float(total)) if good else None

    def tenant_values(
        tenant: str, values: Mapping[str, Any]
    ) -> tuple[dict[str, Reading], dict[str, Arms], dict[str, dict[str, Counts]]]:
        readings: dict[str, Reading] = {}
        arms: dict[str, Arms] = {}
        windows: dict[str, dict[str, Counts]] = {}
        for name, value in values.items():
            path = ["tenants", tenant, name]
            kind = known(name, path)
            if kind is None:
                continue
            if not isinstance(value, dict):
                if kind == "threshold":
                    readings[name] = reading(value)
                else:
                    problem(path, f"got {_number_text(value)}; {_EXPECTED[kind]}")
                continue
            if kind == "threshold":
                problem(path, f"got an object; {_EXPECTED[kind]}")
            elif kind == "comparison":
                if not {"treatment", "control"} & set(value):
                    problem(path, f"no treatment nor control; {_EXPECTED[kind]}")
                    continue
                arm = {
                    side: None if value.get(side) is None else counts(value[side], [*path, side])
                    for side in ("treatment", "control")
                }
                window = value.get("window")
                arms[name] = Arms(
                    treatment=arm["treatment"],
                    control=arm["control"],
                    window=None if window is None else parse_duration(window),
                )
            else:
                allowed = slo_windows[name]
                by_window: dict[str, Counts] = {}
                for written, entry in value.items():
                    window = _window_name(written)
                    if window not in allowed:
                        problem(
                            [*path, written],
                            f"{written} is not a window of signal {name} "
                            f"({', '.join(allowed)}); give the counts of those windows",
                        )
                        continue
                    if entry is None:
                        continue  # null, as a window left out: no data for that window
                    found = counts(entry, [*path, written])
                    if found is not None:
                        by_window[window] = found
                windows[name] = by_window
        return readings, arms, windows

    by_tenant: dict[str, dict[str, Reading]] = {}
    arms: dict[str, dict[str, Arms]] = {}
    burn_windows: dict[str, dict[str, dict[str, Counts]]] = {}
    for tenant, values in document.get("tenants", {}).items():
        readings, compared, burned = tenant_values(tenant, values)
        by_tenant[tenant] = readings
        if compared:
            arms[tenant] = compared
        if burned:
            burn_windows[tenant] = burned
    # Today's global file: values at the top level apply to every tenant (thresholds only).
    every_tenant: dict[str, Reading] = {}
    for name, value in document.items():
        if name in _SNAPSHOT_KEYS:
            continue
        kind = known(name, [name])
        if kind == "threshold":
            every_tenant[name] = Reading(_number(value))
        elif kind is not None:
            problem(
                [name],
                f"a {kind} signal is measured per tenant; put its counts under "
                f"tenants.<tenant>.{name}",
            )
    if problems:
        raise InputErrors(problems)
    evaluated_at = document.get("evaluated_at")
    return Health(
        readings=by_tenant,
        every_tenant=every_tenant,
        alerts=tuple(_alert(entry) for entry in document.get("alerts", [])),
        evaluated_at=_utc(datetime.fromisoformat(evaluated_at)) if evaluated_at else None,
        source=source,
        arms=arms,
        burn_windows=burn_windows,
    )


_COUNT_HINT = "give a count of requests, 0 or more"
_EXPECTED = {
    "threshold": "a threshold signal takes: a number, or null for no data",
    "comparison": (
        'a comparison signal takes: {"treatment": {"events": 31, "total": 3000}, '
        '"control": {"events": 270, "total": 27000}}'
    ),
    "slo": (
        'an SLO signal takes: its counts per window, {"1h": {"events": 12, "total": 60000}, ...}'
    ),
}


def _number_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except OverflowError:  # an integer of 400 digits: no measurement either
        return math.inf


def _alert(entry: Mapping[str, Any]) -> Alert:
    return Alert(
        name=entry["alertname"],
        severity=entry.get("severity"),
        tenant=entry.get("tenant"),
        summary=entry.get("summary"),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window_name(written: str) -> str | None:
    """A window as Prometheus writes it (60m is 1h), or None for a key that is no duration.

    The schema lets an SLO signal's value through when it has a comparison's shape instead
    (``treatment``, ``window``): those keys are no window of the signal, not an internal error.
    """
    try:
        return format_duration(parse_duration(written))
    except ValueError:
        return None
