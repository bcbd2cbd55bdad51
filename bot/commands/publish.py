"""rampbot publish: write the merged flags file to Redis and export the ramp as metrics."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

from bot import metrics, outbound
from bot.commands.context import DEFAULT_GIT_EMAIL
from bot.commands.flags_history import metrics_of_history
from bot.commands.named_files import flags_file, policy_if_any
from bot.commands.options import add_input_options
from bot.commands.secret_variables import REDIS_URL, secret
from bot.errors import ConflictError, InputError
from bot.files import read_text
from bot.flags import Flags, parse_flags
from bot.redis_store import PublishOutcome, PublishResult, RedisSpecStore
from bot.urls import shown_url

HELP = "publish the flags file to Redis (never an older revision) and export the ramp as metrics"

DEFAULT_NAMESPACE = "flags:v1"
REDIS_URL_VARIABLE = REDIS_URL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help=f"Redis to publish to, e.g. redis://:PASSWORD@host:6379/0 (default: "
        f"${REDIS_URL_VARIABLE}; prefer the variable: a password in an option shows in ps)",
    )
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"key prefix; the spec goes to <namespace>:spec (default: {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--pushgateway", metavar="URL", help="push the ramp gauges to this Pushgateway"
    )
    parser.add_argument(
        "--textfile",
        type=Path,
        metavar="PATH",
        help="write the ramp gauges to this .prom file for node_exporter's textfile collector",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    url = args.redis_url or secret(environ, REDIS_URL_VARIABLE)
    if not (url or args.pushgateway or args.textfile):
        raise InputError(
            f"nothing to publish to: pass --redis-url URL (or set {REDIS_URL_VARIABLE}), "
            "--pushgateway URL or --textfile PATH"
        )
    for service in (url, args.pushgateway):
        if service:
            outbound.trust(service)
    policy = policy_if_any(args)
    flags_path = flags_file(args, policy=policy)
    flags = parse_flags(
        read_text(flags_path, what="flags file", hint="pass --flags PATH"), source=str(flags_path)
    )
    if url:
        source = "--redis-url" if args.redis_url else REDIS_URL_VARIABLE
        result = publish_spec(url, namespace=args.namespace, flags=flags, source=source)
        print(describe(result, flags=flags, namespace=args.namespace))
        if result.outcome is PublishOutcome.REFUSED_OLDER:
            # What is served is newer than this file: its gauges would be wrong.
            print("metrics not exported: they would describe an older revision than Redis serves")
            return 0
    export_metrics(
        args,
        flags,
        tenants=(policy.tenants or ()) if policy else (),
        flags_path=flags_path,
        # Whose trailers count in the history: the bot's commit e-mail, as `rampbot run` sets it.
        bot_email=environ.get("RAMPBOT_GIT_EMAIL") or DEFAULT_GIT_EMAIL,
    )
    return 0


def spec_json(flags: Flags) -> str:
    """The whole spec as compact JSON: formatting changes alone never count as a new spec."""
    return json.dumps(json.loads(flags.text), separators=(",", ":"), ensure_ascii=False)


def publish_spec(
    url: str, *, namespace: str, flags: Flags, source: str = "the Redis URL"
) -> PublishResult:
    """Publish unless Redis holds a newer revision; a same-revision edit is a conflict."""
    store = RedisSpecStore(url, namespace=namespace, source=source)
    try:
        result = store.publish(revision=flags.revision or 0, spec=spec_json(flags))
    finally:
        store.close()
    if result.outcome is PublishOutcome.CONFLICT:
        raise ConflictError(
            f"{flags.source}: revision {result.revision} is already published to {store.where} "
            f"key {store.spec_key} with different content, so which is newer cannot be told; "
            f'raise "revision" in {flags.source} to {result.revision + 1} and publish again',
            file=flags.source,
        )
    return result


def describe(result: PublishResult, *, flags: Flags, namespace: str) -> str:
    key = f"{namespace}:spec"
    before = "nothing" if result.previous is None else f"revision {result.previous}"
    if result.outcome is PublishOutcome.PUBLISHED:
        return f"published: {flags.source} revision {result.revision} to {key} (was {before})"
    if result.outcome is PublishOutcome.ALREADY_CURRENT:
        return f"already current: {key} holds revision {result.revision}; nothing written"
    return (
        f"refused older: {key} holds revision {result.previous}, newer than {flags.source}'s "
        f"{result.revision}; nothing written"
    )


def export_metrics(
    args: argparse.Namespace,
    flags: Flags,
    *,
    tenants: tuple[str, ...],
    flags_path: Path,
    bot_email: str,
) -> None:
    if not (args.pushgateway or args.textfile):
        return
    # The lineage and redaction metrics come from the file's git history, when it has one.
    history = metrics_of_history(flags_path, bot_email=bot_email)
    registry = metrics.ramp_registry(flags, tenants=tenants, history=history)
    if args.textfile:
        metrics.write_textfile(registry, Path(args.textfile))
        print(f"wrote metrics to {args.textfile}")
    if args.pushgateway:
        metrics.push(registry, gateway=args.pushgateway, grouping={"namespace": args.namespace})
        print(f"pushed metrics to {shown_url(args.pushgateway)}")
