"""Health as read from a source (a snapshot file or Prometheus): values per tenant and signal.

A source reports what it measured; judging a value against the policy is the decision core's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.compare import Arms, Counts
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
    """Parse a health snapshot file, per tenant or today's global form, checking signal names."""
    document = parse_json(text, source=source, schema="health.schema.json", non_finite=True)
    known = {signal.name for signal in policy.signals}
    problems: list[InputError] = []

    def readings(values: Mapping[str, Any], path: list[str]) -> dict[str, Reading]:
        for name in values:
            if name not in known:
                where = ".".join([*path, name])
                problems.append(
                    InputError(
                        f"{source}: {where}: unknown signal {name!r}; "
                        f"the policy's signals are: {', '.join(sorted(known))}",
                        file=source,
                        line=line_at(text, [*path, name]),
                    )
                )
        return {name: Reading(_number(value)) for name, value in values.items() if name in known}

    by_tenant = {
        tenant: readings(values, ["tenants", tenant])
        for tenant, values in document.get("tenants", {}).items()
    }
    # Today's global file: values at the top level apply to every tenant.
    every_tenant = readings(
        {key: value for key, value in document.items() if key not in _SNAPSHOT_KEYS}, []
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
    )


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
