"""Alertmanager's webhook body (version 4) as values: which alerts fire, for which tenant.

Pure: bytes in, values out. Format:
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.errors import InputError, InputErrors
from bot.health import Alert
from bot.schema import parse_json

SOURCE = "webhook body"
FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertEvent:
    """One alert of a webhook: what rampbot's core reads of it, and what the log quotes."""

    fingerprint: str
    status: str  # firing or resolved
    name: str
    labels: tuple[tuple[str, str], ...]
    summary: str | None
    starts_at: datetime

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    def alert(self, *, tenant_label: str) -> Alert:
        """The alert as the decision core reads it, its tenant named by ``tenant_label``."""
        labels = dict(self.labels)
        return Alert(
            name=self.name,
            severity=labels.get("severity"),
            tenant=labels.get(tenant_label) or None,  # an empty label is no label in Prometheus
            summary=self.summary,
        )


def parse_webhook(body: bytes) -> tuple[AlertEvent, ...]:
    """The alerts of a webhook body; InputError names the place of the first problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{SOURCE}: not UTF-8 (byte {error.start})") from None
    try:
        document = parse_json(text, source=SOURCE, schema="alertmanager-webhook.schema.json")
    except InputErrors as errors:
        raise InputError(errors.problems[0].message) from None
    return tuple(_event(entry) for entry in document["alerts"])


def _event(entry: dict[str, Any]) -> AlertEvent:
    labels: dict[str, str] = entry["labels"]
    annotations: dict[str, str] = entry.get("annotations") or {}
    started = datetime.fromisoformat(entry["startsAt"])
    return AlertEvent(
        fingerprint=entry["fingerprint"],
        status=entry["status"],
        name=labels["alertname"],
        labels=tuple(sorted(labels.items())),
        summary=annotations.get("summary"),
        starts_at=started if started.tzinfo else started.replace(tzinfo=UTC),
    )
