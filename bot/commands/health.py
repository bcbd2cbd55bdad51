"""rampbot health: print each tenant's signals as read, for a person setting up a policy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import outbound
from bot.burn import Burn, BurnOutcome, judge_burn
from bot.commands.health_source import read_health
from bot.commands.options import add_health_options, add_policy_option
from bot.commands.planning import comparison_since, history_here
from bot.compare import Arms, Comparison, Outcome, counts_to_json, judge, points, ratio_text
from bot.decide import tenants_for
from bot.duration import format_duration
from bot.files import read_text
from bot.flags import parse_flags
from bot.health import Health, Reading
from bot.inputs import load_inputs, load_policy
from bot.policy import ComparisonSignal, Policy, SloSignal, format_number
from bot.terminal import printable

HELP = "print each tenant's signals over the bake window, as read from Prometheus or a snapshot"

EVERY_TENANT_ROW = "(every tenant)"


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
    named = flags_tenants(Path(policy.flags_file))
    since = None
    if policy.comparisons and args.health is None and Path(policy.flags_file).is_file():
        # Comparisons read as plan reads them: since each tenant's last change, from git.
        inputs = load_inputs(policy_path=args.policy, flags_path=None)
        since = comparison_since(inputs, history_here(inputs), at=args.now)
    health = read_health(args, policy, policy_path=args.policy, environ=environ, since=since)
    if args.format == "json":
        document = health_to_json(policy, health, flags_tenants=named)
        print(json.dumps(outbound.clean_data(document), indent=2))
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
                "kind": "threshold",
                "query": signal.query,
                "aggregate": signal.aggregate,
                "healthy": str(signal.healthy),
                "gate": signal.gate,
                "graph": health.query_urls.get(signal.name),
            }
            for signal in policy.signals
        ]
        + [
            {
                "name": signal.name,
                "kind": "comparison",
                "events": signal.events,
                "total": signal.total,
                "worse_by_more_than": signal.worse_by_more_than,
                "max_window": signal.max_window_text,
                "gate": signal.gate,
            }
            for signal in policy.comparisons
        ]
        + [
            {
                "name": signal.name,
                "kind": "slo",
                "objective": signal.objective,
                "windows": [
                    {"long": pair.long, "short": pair.short, "burn_rate": pair.rate}
                    for pair in signal.pairs
                ],
                "gate": signal.gate,
            }
            for signal in policy.slos
        ],
        "tenants": {
            tenant: {
                **{
                    signal.name: _reading_to_json(health.reading(tenant, signal.name))
                    for signal in policy.signals
                },
                **{
                    signal.name: _comparison_to_json(
                        _compared(signal, health, tenant),
                        window=_window(policy, health, tenant, signal),
                    )
                    for signal in policy.comparisons
                },
                **{
                    signal.name: _burn_to_json(_burned(signal, health, tenant))
                    for signal in policy.slos
                },
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
    header = (
        ["tenant"]
        + [
            f"{signal.name} ({signal.aggregate}, {signal.healthy}{_shadow(signal.gate)})"
            for signal in policy.signals
        ]
        + [
            f"{signal.name} (treatment - control, harm > {points(signal.worse_by_more_than)}"
            f"{_shadow(signal.gate)})"
            for signal in policy.comparisons
        ]
        + [
            f"{signal.name} (burn rate, SLO {signal.objective * 100:g} %{_shadow(signal.gate)})"
            for signal in policy.slos
        ]
    )
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
        for comparison in policy.comparisons:
            if tenant is None:
                row.append("")
                continue
            compared = _compared(comparison, health, tenant)
            breach = compared.outcome is Outcome.BREACHED
            breached = breached or breach
            cell = _comparison_cell(compared, window=_window(policy, health, tenant, comparison))
            row.append(printable(cell) + (" *" if breach else ""))
        for slo in policy.slos:
            if tenant is None:
                row.append("")
                continue
            burn = _burned(slo, health, tenant)
            breach = burn.outcome is BurnOutcome.BREACHED
            breached = breached or breach
            row.append(_burn_cell(burn) + (" *" if breach else ""))
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


def _compared(signal: ComparisonSignal, health: Health, tenant: str) -> Comparison:
    # The flag's percentage is per feature: the sample ratio is the plan's to check.
    return judge(
        health.arms.get(tenant, {}).get(signal.name) or Arms(None, None),
        margin=signal.worse_by_more_than,
        min_total=signal.min_total,
        alpha=signal.alpha,
        tuning=signal.tuning,
    )


def _burned(signal: SloSignal, health: Health, tenant: str) -> Burn:
    return judge_burn(
        health.burn_windows.get(tenant, {}).get(signal.name, {}),
        objective=signal.objective,
        pairs=signal.pairs,
    )


def _window(policy: Policy, health: Health, tenant: str, signal: ComparisonSignal) -> str:
    """How far back the tenant's counts reach: since its last change, else the bake time."""
    arms = health.arms.get(tenant, {}).get(signal.name)
    return format_duration(arms.window if arms and arms.window else policy.bake_time)


def _shadow(gate: bool) -> str:
    # A shadow signal (gate: false) is measured and shown, and decides nothing.
    return "" if gate else ", shadow: decides nothing"


def _comparison_cell(compared: Comparison, *, window: str) -> str:
    arms = f"T {ratio_text(compared.treatment)} · C {ratio_text(compared.control)} / {window}"
    if compared.difference is None or compared.low is None or compared.high is None:
        return f"{compared.reason} · {arms}"
    interval = f"[{points(compared.low)}, {points(compared.high)}]"
    return f"Δ {points(compared.difference)} {interval} · {arms}"


def _burn_cell(burn: Burn) -> str:
    if burn.outcome is BurnOutcome.NO_DATA:
        return burn.reason
    return ", ".join(
        f"{rate:.3g}x {window}" for window, rate in burn.rates.items() if rate is not None
    )


def _comparison_to_json(compared: Comparison, *, window: str) -> dict[str, Any]:
    has_interval = compared.low is not None and compared.high is not None
    return {
        "window": window,
        "outcome": compared.outcome.value,
        "reason": compared.reason,
        "treatment": counts_to_json(compared.treatment),
        "control": counts_to_json(compared.control),
        "difference": compared.difference,
        "interval": [compared.low, compared.high] if has_interval else None,
    }


def _burn_to_json(burn: Burn) -> dict[str, Any]:
    return {
        "outcome": burn.outcome.value,
        "reason": burn.reason,
        "burn_rates": dict(burn.rates),
    }


def _reading_to_json(reading: Reading) -> dict[str, Any]:
    return {
        "value": reading.value if reading.has_data else None,
        "samples": reading.samples,
    }
