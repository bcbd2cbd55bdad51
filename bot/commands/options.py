"""Options several commands share."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bot.policy import DEFAULT_POLICY_PATH


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        type=Path,
        default=Path(DEFAULT_POLICY_PATH),
        metavar="PATH",
        help=f"the ramp policy (default: {DEFAULT_POLICY_PATH})",
    )


def add_input_options(parser: argparse.ArgumentParser) -> None:
    add_policy_option(parser)
    parser.add_argument(
        "--flags",
        type=Path,
        metavar="PATH",
        help="the flags file (default: the policy's flags_file, else flags.json)",
    )


def add_health_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--health",
        type=Path,
        metavar="FILE",
        help="read health from this snapshot file instead of Prometheus",
    )
    parser.add_argument(
        "--now",
        type=timestamp,
        metavar="ISO8601",
        help="evaluate at this time (default: the snapshot's evaluated_at, else now)",
    )
    parser.add_argument(
        "--prometheus-url",
        metavar="URL",
        help="read health from this Prometheus (default: $RAMPBOT_PROMETHEUS_URL, else the "
        "policy's prometheus.url)",
    )


def timestamp(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-11-26T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
