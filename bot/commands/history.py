"""rampbot history: every change of each tenant's percentage, rebuilt from git."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot import git, outbound
from bot.change_log import Change, ledger, select
from bot.commands.context import DEFAULT_GIT_EMAIL
from bot.commands.flags_history import read_history
from bot.commands.named_files import flags_file, policy_if_any
from bot.commands.options import add_input_options
from bot.errors import InputError
from bot.terminal import printable

HELP = "show every change of each tenant's percentage: when, from -> to, by whom, PR, evidence"

BLOCKS = "▁▂▃▄▅▆▇█"
CHART_WIDTH = 48

_COLUMNS = ("when (UTC)", "feature", "tenant", "change", "by", "PR", "decision", "parent", "why")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument("--tenant", help="only this tenant")
    parser.add_argument("--feature", help="only this feature")
    parser.add_argument(
        "--ref",
        default="HEAD",
        help="the base branch's history to read (default: HEAD, the checked-out branch)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a plain table for people (default), json for scripts",
    )
    parser.add_argument(
        "--git-email",
        metavar="EMAIL",
        help="the e-mail of rampbot's commits, whose decision trailers count (default: "
        "RAMPBOT_GIT_EMAIL, else GitHub Actions')",
    )
    parser.add_argument(
        "--chart",
        action="store_true",
        help="also draw each tenant's percentage over time as a text sparkline",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    path = flags_file(args, policy=policy_if_any(args))
    repo = git.open_repository(path.resolve().parent)
    relative = git.relative_path(repo, path)
    if git.resolve(repo, args.ref) is None:
        raise InputError(f"--ref {args.ref}: no such branch or commit in {repo.top}")
    baseline, versions, merged = read_history(repo, relative, ref=args.ref)
    if not versions:
        raise InputError(f"{path}: no commit on {args.ref} touches it; check --flags and --ref")
    bot_email = args.git_email or environ.get("RAMPBOT_GIT_EMAIL") or DEFAULT_GIT_EMAIL
    changes = select(
        ledger(versions, bot_email=bot_email, merged=merged, baseline=baseline),
        **_filters(args),
    )
    if args.format == "json":
        document = {"changes": [change_to_json(c) for c in changes]}
        print(json.dumps(outbound.clean_data(document), indent=2))
    else:
        print(table(changes), end="")
        if args.chart:
            print(charts(changes), end="")
    return 0


def _filters(args: argparse.Namespace) -> dict[str, str | None]:
    return {"tenant": args.tenant, "feature": args.feature}


def change_to_json(change: Change) -> dict[str, Any]:
    return {
        "at": change.at.isoformat(),
        "feature": change.feature,
        "tenant": change.tenant,
        "from": change.from_pct,
        "to": change.to_pct,
        "by": change.by.value,
        "author": change.author,
        "commit": change.commit,
        "pr": change.pr,
        "evidence": change.evidence,
        "decision": change.decision,
        "parent": change.parent,
        "reverts": list(change.reverts),
        "reverted_pr": change.reverted_pr,
        "chain_ok": change.chain_ok,
        "claimed_decision": change.claimed,
    }


def table(changes: Sequence[Change]) -> str:
    """A plain text table, one line per change, columns padded to their widest cell."""
    if not changes:
        return "no change of a percentage in the history\n"
    # Cells are escaped before they are measured: an author's name or a tenant's may hold a
    # control character, which would shift the columns or reach the terminal raw.
    rows = [_COLUMNS, *(tuple(map(printable, _row(change))) for change in changes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _row(change: Change) -> tuple[str, ...]:
    by = change.by.value
    if change.by.value == "person":
        by = change.author.split(" <")[0]
    if change.claimed:
        by = f"by {by}, claims a rampbot decision"
    why = change.evidence or ""
    if change.reverts or change.reverted_pr:
        undone = ", ".join(change.reverts)
        pr = f" (PR #{change.reverted_pr})" if change.reverted_pr else ""
        why = f"reverts {undone}{pr}".replace("reverts  (", "reverts (")
    if not change.chain_ok and not change.claimed:
        why = f"{why} [parent is not the previous decision]".strip()
    return (
        change.at.strftime("%Y-%m-%d %H:%M"),
        change.feature,
        change.tenant,
        f"{_pct(change.from_pct)} -> {_pct(change.to_pct)}",
        by,
        f"#{change.pr}" if change.pr else "-",
        change.decision or "-",
        change.parent or "-",
        why,
    )


def _pct(value: int | None) -> str:
    return "-" if value is None else f"{value}%"


def charts(changes: Sequence[Change]) -> str:
    """One sparkline per feature and tenant, over the time from the first change to the last."""
    if not changes:
        return ""
    start, end = changes[0].at, changes[-1].at
    lines = ["", f"percentage over time, {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC:"]
    pairs = sorted({change.pair for change in changes})
    label = max(len(f"{feature}/{tenant}") for feature, tenant in pairs)
    for pair in pairs:
        points = [(c.at, c.to_pct or 0) for c in changes if c.pair == pair]
        first = next(c for c in changes if c.pair == pair)
        # Before the file existed the pair had no percentage: start the line at its first one.
        initial = first.from_pct if first.from_pct is not None else first.to_pct
        name = f"{pair[0]}/{pair[1]}".ljust(label)
        lines.append(f"{name}  {sparkline(points, start=start, end=end, initial=initial or 0)}")
    return "\n".join(lines) + "\n"


def sparkline(
    points: Sequence[tuple[datetime, int]],
    *,
    start: datetime,
    end: datetime,
    initial: int,
    width: int = CHART_WIDTH,
) -> str:
    """The percentage in effect across ``width`` equal slices of time, one block per slice."""
    cells = []
    for column in range(width):
        moment = start + (end - start) * (column / max(width - 1, 1))
        pct = initial
        for at, value in points:
            if at <= moment:
                pct = value
        cells.append(BLOCKS[min(len(BLOCKS) - 1, pct * len(BLOCKS) // 101)])
    return "".join(cells) + f"  {initial}% .. {pct}%"
