"""rampbot health: print each tenant's signals as read, for a person setting up a policy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.commands.options import add_health_options, add_policy_option
from bot.decide import tenants_for
from bot.duration import format_duration
from bot.errors import InputError
from bot.files import read_text
from bot.flags import parse_flags
from bot.health import Health, HealthSource, Reading
from bot.inputs import load_policy, load_snapshot
from bot.policy import Policy, format_number
from bot.prometheus import Connection, PrometheusHealth
from bot.terminal import printable
from bot.urls import shown_url

HELP = "print each tenant's signals over the bake window, as read from Prometheus or a snapshot"

URL_VARIABLE = "RAMPBOT_PROMETHEUS_URL"
TOKEN_VARIABLE = "RAMPBOT_PROMETHEUS_TOKEN"
USER_VARIABLE = "RAMPBOT_PROMETHEUS_USER"
PASSWORD_VARIABLE = "RAMPBOT_PROMETHEUS_PASSWORD"
EVERY_TENANT_ROW = "(every tenant)"
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
    named = flags_tenants(Path(policy.flags_file))
    if args.format == "json":
        print(json.dumps(health_to_json(policy, health, flags_tenants=named), indent=2))
    else:
        print(health_to_table(policy, health, flags_tenants=named), end="")
    return 0


def flags_tenants(path: Path) -> frozenset[str]:
    """Every tenant the flags file names under any feature; none when there is no such file."""
    if not path.is_file():
        return frozenset()
    flags = parse_flags(
        read_text(path, what="flags file", hint="set flags_file in the policy"), source=str(path)
    )
    return frozenset(
        tenant for feature in flags.features.values() for tenant in feature.tenants or ()
    )


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
    if args.prometheus_url:
        where = "--prometheus-url"
    elif environ.get(URL_VARIABLE):
        where = URL_VARIABLE
    else:
        where = f"{policy_path}: prometheus.url"
    _check_url(url, where=where)
    return PrometheusHealth(connection(url, policy, policy_path=policy_path, environ=environ))


def _check_url(url: str, *, where: str) -> None:
    """An InputError naming ``where`` for a URL requests could not use."""
    shown = shown_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise InputError(
            f"{where}: {shown!r} is not a valid URL ({error}); the form is "
            "http[s]://HOST[:PORT][/PATH]"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise InputError(f"{where}: {shown!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise InputError(f"{where}: {shown!r} is not a URL with a host; add the server's name")


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


def health_to_json(
    policy: Policy, health: Health, *, flags_tenants: frozenset[str] = frozenset()
) -> dict[str, Any]:
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
            for tenant in tenants_for(policy, health, named=flags_tenants)
        },
        # Readings without a tenant (a global snapshot, a series without the tenant label)
        # count for every tenant without its own.
        "every_tenant": {
            signal.name: _reading_to_json(health.every_tenant[signal.name])
            for signal in policy.signals
            if signal.name in health.every_tenant
        },
        "alerts": [
            {"alertname": a.name, "severity": a.severity, "tenant": a.tenant, "summary": a.summary}
            for a in health.alerts
        ],
    }


def health_to_table(
    policy: Policy, health: Health, *, flags_tenants: frozenset[str] = frozenset()
) -> str:
    """One row per tenant, one column per signal: the window aggregate and its sample count."""
    at = health.evaluated_at.isoformat(timespec="seconds") if health.evaluated_at else "now"
    header = ["tenant"] + [
        f"{signal.name} ({signal.aggregate}, {signal.healthy})" for signal in policy.signals
    ]
    rows = [header]
    breached = False
    tenants: list[str | None] = list(tenants_for(policy, health, named=flags_tenants))
    if health.every_tenant:
        tenants.append(None)
    for tenant in tenants:
        # A tenant name comes from Prometheus labels or a snapshot: escaped before it is
        # measured, so that a newline or an escape sequence can neither break nor shift a row.
        row = [printable(tenant) if tenant is not None else EVERY_TENANT_ROW]
        for signal in policy.signals:
            reading = (
                health.reading(tenant, signal.name)
                if tenant is not None
                else health.every_tenant.get(signal.name, Reading(None))
            )
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
            printable(
                f"{alert.name} ({alert.severity or 'no severity'}) for "
                f"{alert.tenant or 'every tenant'}"
            )
            for alert in health.alerts
        )
        lines.append(f"firing alerts: {firing}")
    else:
        lines.append("firing alerts: none")
    return "\n".join(lines) + "\n"


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
