"""What the `rampbot run` tests share: a healthy snapshot, times after the origin's first
commit, the CLI called in-process, and what the GitHub double and the origin were left with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.github_double import BareRepo, GitHubDouble

HEALTHY = {"coverage": 99.0, "anchor_p95_ms": 20, "divergence": 0}
TENANTS = ("acme", "globex", "initech", "umbrella")
PULLS = "/repos/acme/flags/pulls"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def write_health(path: Path, **changes: dict[str, Any]) -> Path:
    """A snapshot with every demo tenant healthy, except the ``changes``."""
    tenants = {name: {**HEALTHY, **changes.get(name, {})} for name in TENANTS}
    path.write_text(json.dumps({"tenants": tenants, "alerts": []}), encoding="utf-8")
    return path


def later(**delta: float) -> str:
    """A time after the origin's first commit (made now): everything has baked by then."""
    return (datetime.now(UTC) + timedelta(**delta)).isoformat(timespec="seconds")


def rampbot(
    env: dict[str, str], *args: str, capsys: pytest.CaptureFixture[str] | None = None
) -> tuple[int, str]:
    """Run the CLI in-process; with ``capsys``, also what it printed."""
    code = main(list(args), environ=env)
    out = ""
    if capsys is not None:
        captured = capsys.readouterr()
        out = captured.out + captured.err
    return code, out


def run_with(
    env: dict[str, str],
    health: Path,
    *,
    now: str | None = None,
    capsys: pytest.CaptureFixture[str] | None = None,
) -> tuple[int, str]:
    """`rampbot run --health HEALTH --now NOW`, an hour from now unless ``now`` is given."""
    return rampbot(
        env, "run", "--health", str(health), "--now", now or later(hours=1), capsys=capsys
    )


def open_pulls(double: GitHubDouble) -> list[Any]:
    return double.pulls("open")


def writes(double: GitHubDouble) -> list[str]:
    """The requests that changed something on GitHub."""
    return [line for line in double.requests() if not line.startswith("GET")]


def flags_on(origin: BareRepo, ref: str, path: str = "flags.json") -> dict[str, Any]:
    """The flags file as committed at ``ref`` on the origin."""
    text = origin.show_file(ref, path)
    assert text is not None, f"{path} not on {ref}"
    document: dict[str, Any] = json.loads(text)
    return document


def pct(flags: dict[str, Any], tenant: str, feature: str = "receipts") -> int:
    return int(flags["features"][feature]["tenants"][tenant]["pct"])
