"""Where health comes from: a snapshot file (--health) or the Prometheus that the options, the
environment or the policy name, with its secrets from the environment (plan, apply, run, health).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot import outbound
from bot.commands.secret_variables import PROMETHEUS_PASSWORD, PROMETHEUS_TOKEN, secret
from bot.errors import InputError
from bot.health import Health, HealthSource
from bot.inputs import load_snapshot
from bot.policy import Policy
from bot.since_change import ChangeTimes
from bot.urls import shown_url

if TYPE_CHECKING:
    from bot.prometheus import Connection

URL_VARIABLE = "RAMPBOT_PROMETHEUS_URL"
USER_VARIABLE = "RAMPBOT_PROMETHEUS_USER"
TOKEN_VARIABLE = PROMETHEUS_TOKEN
PASSWORD_VARIABLE = PROMETHEUS_PASSWORD
NO_SOURCE = (
    "no health source: pass --health FILE (a snapshot), or name a Prometheus server with "
    f"--prometheus-url, {URL_VARIABLE} or prometheus.url in {{policy}}"
)


def read_health(
    args: argparse.Namespace,
    policy: Policy,
    *,
    policy_path: Path,
    environ: Mapping[str, str],
    since: ChangeTimes | None = None,
) -> Health:
    """Health from ``--health FILE``, else from the Prometheus the options or policy name;
    comparisons from each tenant's last change in ``since`` (a snapshot has its own counts)."""
    if args.health is not None:
        if args.prometheus_url is not None:
            raise InputError("pass either --health FILE or --prometheus-url URL, not both")
        return outbound.clean_health(load_snapshot(args.health, policy))
    source = prometheus_source(args, policy, policy_path=policy_path, environ=environ)
    if source is None:
        raise InputError(NO_SOURCE.format(policy=policy_path))
    # Alert text is cleaned where it enters, before anything cuts it to a length.
    return outbound.clean_health(source.read(policy, at=args.now, since=since))


def prometheus_source(
    args: argparse.Namespace, policy: Policy, *, policy_path: Path, environ: Mapping[str, str]
) -> HealthSource | None:
    """The Prometheus named by --prometheus-url, the environment or the policy, if any."""
    url = args.prometheus_url or environ.get(URL_VARIABLE) or policy.prometheus.url
    if not url:
        return None
    outbound.trust(url)  # the operator's own server: its address is named in messages
    if args.prometheus_url:
        where = "--prometheus-url"
    elif environ.get(URL_VARIABLE):
        where = URL_VARIABLE
    else:
        where = f"{policy_path}: prometheus.url"
    check_url(url, where=where)
    # Imported here: requests and the Prometheus client are not needed for a snapshot file.
    from bot.prometheus import PrometheusHealth

    return PrometheusHealth(
        prometheus_connection(url, policy, policy_path=policy_path, environ=environ)
    )


def check_url(url: str, *, where: str) -> None:
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


def prometheus_connection(
    url: str, policy: Policy, *, policy_path: Path, environ: Mapping[str, str]
) -> Connection:
    """Connection settings: the policy's, with secrets from the environment only."""
    outbound.trust(url)
    from bot.prometheus import Connection

    settings = policy.prometheus
    token = secret(environ, TOKEN_VARIABLE)
    user = environ.get(USER_VARIABLE) or None
    password = secret(environ, PASSWORD_VARIABLE)
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
