"""rampbot health: print each tenant's signals as read, for a person setting up a policy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.commands.options import add_health_options, add_policy_option
from bot.duration import format_duration
from bot.errors import InputError
from bot.health import Health, HealthSource, Reading
from bot.inputs import load_policy, load_snapshot
from bot.policy import Policy, format_number
from bot.prometheus import Connection, PrometheusHealth

HELP = "print each tenant's signals over the bake window, as read from Prometheus or a snapshot"

URL_VARIABLE = "RAMPBOT_PROMETHEUS_URL"
TOKEN_VARIABLE = "RAMPBOT_PROMETHEUS_TOKEN"
USER_VARIABLE = "RAMPBOT_PROMETHEUS_USER"
PASSWORD_VARIABLE = "RAMPBOT_PROMETHEUS_PASSWORD"
NO_SOURCE = (
    "no health source: pass --health FILE (a snapshot), or name a Prometheus server with "
    f"--prometheus-url, {URL_VARIABLE} or prometheus.url in {{policy}}"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_option(parser)
    add_health_options(parser)
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for people (default), json for scripts",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    policy = load_policy(args.policy)
    health = read_source(args, policy, policy_path=args.policy, environ=environ)
    if args.format == "json":
        print(json.dumps(health_to_json(policy, health), indent=2))
    else:
        print(health_to_table(policy, health), end="")
    return 0


def read_source(
    args: argparse.Namespace, policy: Policy, *, policy_path: Path, environ: Mapping[str, str]
) -> Health:
    """Health from ``--health FILE``, else from the Prometheus the options or policy name."""
    if args.health is not None:
        if args.prometheus_url is not None:
            raise InputError("pass either --health FILE or --prometheus-url URL, not both")
        return load_snapshot(args.health, policy)
    source = prometheus_source(args, policy, policy_path=policy_path, environ=environ)
    if source is None:
        raise InputError(NO_SOURCE.format(policy=policy_path))
    return source.read(policy, at=args.now)


def prometheus_source(
    args: argparse.Namespace, policy: Policy, *, policy_path: Path, environ: Mapping[str, str]
) -> HealthSource | None:
    """The Prometheus named by --prometheus-url, the environment or the policy, if any."""
    url = args.prometheus_url or environ.get(URL_VARIABLE) or policy.prometheus.url
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        where = "--prometheus-url" if args.prometheus_url else URL_VARIABLE
        raise InputError(f"{where}: {url!r} is not an http:// or https:// URL")
    return PrometheusHealth(connection(url, policy, policy_path=policy_path, environ=environ))


def connection(
    url: str, policy: Policy, *, policy_path: Path, environ: Mapping[str, str]
) -> Connection:
    """Connection settings: the policy's, with secrets from the environment only."""
    settings = policy.prometheus
    token = environ.get(TOKEN_VARIABLE) or None
    user = environ.get(USER_VARIABLE) or None
    password = environ.get(PASSWORD_VARIABLE) or None
    if token and (user or password):
        raise InputError(
            f"set either {TOKEN_VARIABLE} (bearer token) or {USER_VARIABLE} and "
            f"{PASSWORD_VARIABLE} (basic auth), not both"
        )
    if password and not user:
        raise InputError(f"{PASSWORD_VARIABLE} is set but {USER_VARIABLE} is not; set both")
    if settings.ca_bundle is not None and not Path(settings.ca_bundle).is_file():
        raise InputError(
            f"{policy_path}: prometheus.ca_bundle: no such file {settings.ca_bundle!r}; "
            "give a PEM file, relative to the repository's root",
            file=str(policy_path),
        )
    return Connection(
        url=url,
        timeout=settings.timeout,
        retries=settings.retries,
        headers=settings.headers,
        token=token,
        basic_auth=(user, password or "") if user else None,
        ca_bundle=settings.ca_bundle,
    )


def health_to_json(policy: Policy, health: Health) -> dict[str, Any]:
    """What ``rampbot health --format json`` prints."""
    return {
        "source": health.source,
        "evaluated_at": health.evaluated_at.isoformat() if health.evaluated_at else None,
        "window": format_duration(policy.bake_time),
        "signals": [
            {
                "name": signal.name,
                "query": signal.query,
                "aggregate": signal.aggregate,
                "healthy": str(signal.healthy),
                "graph": health.query_urls.get(signal.name),
            }
            for signal in policy.signals
        ],
        "tenants": {
            tenant: {
                signal.name: _reading_to_json(health.reading(tenant, signal.name))
                for signal in policy.signals
            }
            for tenant in _tenants(policy, health)
        },
        "alerts": [
            {"alertname": a.name, "severity": a.severity, "tenant": a.tenant, "summary": a.summary}
            for a in health.alerts
        ],
    }


def health_to_table(policy: Policy, health: Health) -> str:
    """One row per tenant, one column per signal: the window aggregate and its sample count."""
    at = health.evaluated_at.isoformat(timespec="seconds") if health.evaluated_at else "now"
    header = ["tenant"] + [
        f"{signal.name} ({signal.aggregate}, {signal.healthy})" for signal in policy.signals
    ]
    rows = [header]
    breached = False
    for tenant in _tenants(policy, health):
        row = [tenant]
        for signal in policy.signals:
            reading = health.reading(tenant, signal.name)
            cell = _cell(reading)
            if reading.value is not None and reading.has_data:
                breach = not signal.healthy.holds(reading.value)
                cell += " *" if breach else ""
                breached = breached or breach
            row.append(cell)
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        f"health from {health.source} at {at}, over {format_duration(policy.bake_time)} "
        "(value; (samples) where min_samples is set)"
    ]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if breached:
        lines.append("* outside the healthy condition")
    if health.alerts:
        firing = "; ".join(
            f"{alert.name} ({alert.severity or 'no severity'}) for {alert.tenant or 'every tenant'}"
            for alert in health.alerts
        )
        lines.append(f"firing alerts: {firing}")
    else:
        lines.append("firing alerts: none")
    return "\n".join(lines) + "\n"


def _tenants(policy: Policy, health: Health) -> list[str]:
    return list(policy.tenants) if policy.tenants is not None else sorted(health.readings)


def _cell(reading: Reading) -> str:
    samples = f" ({reading.samples})" if reading.samples is not None else ""
    if not reading.has_data or reading.value is None:
        return f"no data{samples}"
    return f"{format_number(reading.value)}{samples}"


def _reading_to_json(reading: Reading) -> dict[str, Any]:
    return {
        "value": reading.value if reading.has_data else None,
        "samples": reading.samples,
    }
