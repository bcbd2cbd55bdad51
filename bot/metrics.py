"""The Prometheus metrics adapter: the only module that imports prometheus_client.

Exports the ramp as gauges so dashboards show it next to the SLOs it was judged on, and what
the flags file's history says (lineage completeness, personal data redacted, rollbacks): to a
Pushgateway and/or as a textfile for node_exporter's textfile collector; and the counters and
histogram `rampbot serve` shows on /metrics. The dashboard that reads the first is
dashboards/rampbot.json.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
    write_to_textfile,
)
from prometheus_client.exposition import basic_auth_handler, default_handler

from bot.change_log import HistoryMetrics
from bot.errors import InputError, ServiceError
from bot.flags import Flags
from bot.urls import shown_url

PUSH_TIMEOUT_SECONDS = 10.0
JOB = "rampbot"


# Every kind, so that a dashboard shows a zero rather than no data for a kind never redacted.
REDACTION_KINDS = ("email", "ip", "phone", "redacted")


def ramp_registry(
    flags: Flags,
    *,
    tenants: list[str] | tuple[str, ...] = (),
    history: HistoryMetrics | None = None,
) -> CollectorRegistry:
    """A registry holding the ramp of ``flags``: one gauge per feature and tenant, and the revision.

    ``tenants`` are reported besides those the file names (they get the feature's pct). With the
    file's ``history``: the share of its changes whose lineage is complete, the spans of
    personal data redacted from its pull requests by kind, and its rollbacks by feature.
    """
    registry = CollectorRegistry()
    ramp = Gauge(
        "rampbot_ramp_pct",
        "Percentage of the tenant's traffic with the feature on, as published.",
        ["tenant", "feature"],
        registry=registry,
    )
    default = Gauge(
        "rampbot_ramp_default_pct",
        "The feature's percentage for tenants without their own entry.",
        ["feature"],
        registry=registry,
    )
    revision = Gauge(
        "rampbot_flags_revision",
        "The revision of the published flags file.",
        registry=registry,
    )
    for feature_name, feature in sorted(flags.features.items()):
        default.labels(feature=feature_name).set(feature.pct)
        for tenant in sorted({*tenants, *(feature.tenants or {})}):
            ramp.labels(tenant=tenant, feature=feature_name).set(feature.pct_for(tenant))
    revision.set(flags.revision or 0)
    if history is not None:
        _history_metrics(registry, history, features=tuple(flags.features))
    return registry


def _history_metrics(
    registry: CollectorRegistry, history: HistoryMetrics, *, features: tuple[str, ...]
) -> None:
    """The dashboards' metrics from the flags file's history (bot/change_log.py)."""
    if history.lineage_complete_ratio is not None:
        Gauge(
            "rampbot_lineage_complete_ratio",
            "Share of the flags file's percentage changes in history whose chain is complete: "
            "a decision, its parent and its pull request (0 to 1).",
            registry=registry,
        ).set(history.lineage_complete_ratio)
    # Counters: totals over the history, which only grows; Prometheus' increase() reads them.
    redacted = Counter(
        "rampbot_redactions",
        "Spans of personal data redacted from rampbot's pull requests, by kind, over the flags "
        "file's history (the PII block count).",
        ["kind"],
        registry=registry,
    )
    for kind in sorted({*REDACTION_KINDS, *history.redactions}):
        redacted.labels(kind=kind).inc(history.redactions.get(kind, 0))
    rollbacks = Counter(
        "rampbot_rollbacks_merged",
        "Rollbacks by rampbot that reached the base branch, by feature, over the flags file's "
        "history.",
        ["feature"],
        registry=registry,
    )
    for feature in sorted({*features, *history.rollbacks}):
        rollbacks.labels(feature=feature).inc(history.rollbacks.get(feature, 0))


def push(registry: CollectorRegistry, *, gateway: str, grouping: dict[str, str]) -> None:
    """Replace this job's group on the Pushgateway (PUT), so a removed tenant disappears.

    A ``user:password@`` in the URL is sent as HTTP basic auth, as the Pushgateway's
    --web.config.file asks, never as part of the host name.
    """
    address, handler = _with_basic_auth(gateway)
    try:
        push_to_gateway(
            address,
            job=JOB,
            registry=registry,
            grouping_key=grouping,
            timeout=PUSH_TIMEOUT_SECONDS,
            handler=handler,
        )
    except urllib.error.HTTPError as error:
        hint = (
            "give its user name and password in the URL: http://USER:PASSWORD@HOST:9091"
            if error.code == 401
            else "check the --pushgateway URL"
        )
        raise ServiceError(
            f"Pushgateway at {shown_url(gateway)} answered {error.code} {error.reason}; {hint}"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise ServiceError(
            f"Pushgateway at {shown_url(gateway)}: cannot connect ({reason}); "
            "check that it is running and the --pushgateway URL"
        ) from None


def _with_basic_auth(gateway: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """The URL without its credentials, and the handler that sends them, if it had any."""
    try:
        parts = urlsplit(gateway)
        username, password = parts.username, parts.password
    except ValueError:
        return gateway, default_handler  # push_to_gateway reports the broken URL
    if username is None and password is None:
        return gateway, default_handler
    address = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    user, secret = unquote(username or ""), unquote(password or "")

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, user, secret)

    return address, handler


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """Write the metrics for node_exporter's textfile collector; readers never see half a file."""
    if path.suffix != ".prom":
        # https://github.com/prometheus/node_exporter#textfile-collector reads only *.prom
        raise InputError(f"--textfile {path}: must end in .prom for node_exporter to read it")
    try:
        write_to_textfile(str(path), registry)
    except OSError as error:
        raise InputError(f"--textfile {path}: cannot write: {error.strerror}") from None


# Seconds from an alert's startsAt to its rollback pull request existing: Alertmanager's own
# group_wait (5 s in the example) and Prometheus' evaluation are inside, so the buckets reach
# past a minute, the goal of `rampbot serve`.
ALERT_TO_PULL_REQUEST_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600)


class ServeMetrics:
    """What `rampbot serve` exports on /metrics: webhooks, rollbacks, errors, latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "rampbot_webhooks",
            "Alertmanager webhooks received, by outcome (accepted, unauthorized, malformed, "
            "too_large).",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "rampbot_alerts",
            "Alerts handled, by outcome (rollback, held, ignored, resolved).",
            ["outcome"],
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "rampbot_rollbacks",
            "Rollback pull requests opened or updated (pushed, or its body changed).",
            ["result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "rampbot_errors",
            "Failures while handling alerts, by kind (github, git, input, conflict, internal); "
            "each is retried with backoff.",
            ["kind"],
            registry=self.registry,
        )
        self.pushes = Counter(
            "rampbot_pushes", "Pushes of the rollback branch.", registry=self.registry
        )
        self.queued = Gauge(
            "rampbot_alerts_queued", "Alerts waiting for the worker.", registry=self.registry
        )
        self.alert_to_pull_request = Histogram(
            "rampbot_alert_to_pull_request_seconds",
            "From an alert's startsAt to its rollback pull request existing.",
            buckets=ALERT_TO_PULL_REQUEST_BUCKETS,
            registry=self.registry,
        )
        for outcome in ("accepted", "unauthorized", "malformed", "too_large"):
            self.webhooks.labels(outcome)
        for kind in ("github", "git", "input", "conflict", "internal"):
            self.errors.labels(kind)
        for result in ("opened", "updated"):
            self.rollbacks.labels(result)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
