"""rampbot serve: receive Alertmanager webhooks and open or update the rollback pull request.

The shell of the long-running service: it reads the environment (RAMPBOT_WEBHOOK_TOKEN,
GITHUB_TOKEN or a GitHub App, GITHUB_REPOSITORY, GITHUB_API_URL), starts the worker and serves
HTTP until SIGTERM. The decision is bot/alert_rollback.py's; the steps on GitHub, run's.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from bot import git as gitrepo
from bot import outbound
from bot.commands.alert_worker import AlertWorker, Timing
from bot.commands.context import Context, add_git_options, connect_github, git_identity
from bot.commands.options import add_policy_option
from bot.commands.secret_variables import WEBHOOK_TOKEN, secret
from bot.errors import InputError
from bot.inputs import load_policy
from bot.jsonlog import EventLog
from bot.metrics import ServeMetrics
from bot.webhook import Receiver, make_app, serve_forever

HELP = "receive Alertmanager webhooks and open or update the rollback pull request at once"

DEFAULT_LISTEN = "127.0.0.1:9095"
ANY_LISTEN = "0.0.0.0:9095"
_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s]+):(?P<port>[0-9]{1,5})$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve on (default: {DEFAULT_LISTEN})",
    )
    add_policy_option(parser)
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="a clone of the repository with the remote to push to (default: the current "
        "directory); it is fetched, never checked out, on every batch of alerts",
    )
    add_git_options(parser)
    parser.add_argument(
        "--coalesce",
        type=float,
        default=Timing.coalesce,
        metavar="SECONDS",
        help=f"wait this long after an alert for the rest of a burst (default: {Timing.coalesce})",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    # Where serve listens is the operator's configuration, not anyone's personal data: its
    # messages name these addresses as they are.
    for address in (DEFAULT_LISTEN, ANY_LISTEN, args.listen):
        outbound.trust(address)
    host, port = _listen(args.listen)
    token = secret(environ, WEBHOOK_TOKEN) or ""
    if not token.strip():
        raise InputError(
            f"{WEBHOOK_TOKEN} is not set: rampbot serve refuses webhooks without a bearer "
            "token; set it to a long random secret and give Alertmanager the same one "
            "(http_config.authorization.credentials_file)"
        )
    if args.coalesce < 0 or args.coalesce > 60:
        raise InputError(f"--coalesce: {args.coalesce} is not between 0 and 60 seconds")
    repo = gitrepo.open_repository(args.repo)
    root = repo.top
    if not gitrepo.has_remote(repo, args.remote):
        raise InputError(
            f"{root}: no git remote {args.remote!r} to push to; clone the repository there, "
            "or pass --remote NAME"
        )
    policy_path = args.policy if args.policy.is_absolute() else root / args.policy
    policy_rel = gitrepo.relative_path(repo, policy_path)
    load_policy(policy_path)  # a broken policy stops the start, not the first alert
    github = connect_github(environ, required=True)
    assert github is not None
    context = Context(
        repo=repo,
        remote=args.remote,
        identity=git_identity(args, environ),
        github=github,
        dry_run=False,
    )
    metrics = ServeMetrics()
    log = EventLog(sys.stderr, secrets=[token, *github.secrets()])
    worker = AlertWorker(
        context,
        policy_rel=policy_rel,
        metrics=metrics,
        log=log,
        timing=Timing(coalesce=args.coalesce),
    ).start()

    def healthy() -> str | None:
        if not worker.alive:
            return "the worker stopped"
        if gitrepo.find_repository(root) is None:
            return f"{root}: the working copy is not a git repository any more"
        return None

    app = make_app(
        Receiver(token=token, accept=worker.submit, healthy=healthy, metrics=metrics, log=log)
    )
    log.event(
        "start",
        listen=f"{host}:{port}",
        repository=github.repository,
        working_copy=str(root),
        policy=policy_rel,
    )
    try:
        serve_forever(app, host=host.strip("[]"), port=port)
    finally:
        worker.stop()
        log.event("stop")
    return 0


def _listen(text: str) -> tuple[str, int]:
    match = _LISTEN.match(text)
    if not match or not 0 < int(match.group("port")) < 65536:
        raise InputError(
            f"--listen: {text!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN}, {ANY_LISTEN})"
        )
    return match.group("host"), int(match.group("port"))
