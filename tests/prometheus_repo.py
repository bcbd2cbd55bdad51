"""A repository whose policy reads the known history from a Prometheus at a given URL.

The signals are those of tests/fixtures/prometheus.py; the tests choose the rest.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bot.cli import main

LONG_AGO_SECONDS = 30 * 86400

POLICY = """\
flags_file: flags.json
{tenants}bake_time: {bake_time}
prometheus:
  url: {url}
  timeout: {timeout}
  retries: 1
  step: {step}
{extra}signals:
  - name: coverage
    query: avg by ({label}) (shadow_coverage_pct{{case="{case}"}})
    healthy: ">= 95"
    aggregate: min{min_samples}
  - name: anchor_p95_ms
    query: max by ({label}) (anchor_latency_ms{{case="{case}"}})
    healthy: "<= 30"
    aggregate: max
  - name: divergence
    query: sum by ({label}) (shadow_divergence{{case="{case}"}})
    healthy: "<= 0"
    aggregate: max
    critical: true
features:
  receipts:
    steps: [1, 5, 10, 25, 50, 100]
"""


def policy_text(
    url: str,
    *,
    case: str = "history",
    tenants: list[str] | None = None,
    bake_time: str = "30m",
    step: str = "1m",
    timeout: str = "1s",
    label: str = "tenant",
    min_samples: int | None = None,
    extra: str = "",
) -> str:
    """The policy text; ``label`` is the label the signals group by, ``extra`` more top keys."""
    return POLICY.format(
        url=url,
        case=case,
        tenants=f"tenants: [{', '.join(tenants)}]\n" if tenants else "",
        bake_time=bake_time,
        step=step,
        timeout=timeout,
        label=label,
        extra=extra,
        min_samples=f"\n    min_samples: {min_samples}" if min_samples else "",
    )


def write_repo(root: Path, url: str, *, flag_tenants: tuple[str, ...] = (), **options: Any) -> Path:
    """A repository with a policy reading ``url`` and receipts at 10% for every tenant."""
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "rampbot.yml").write_text(policy_text(url, **options))
    receipts: dict[str, Any] = {"pct": 10}
    if flag_tenants:
        receipts["tenants"] = {tenant: {"pct": 10} for tenant in flag_tenants}
    flags = root / "flags.json"
    flags.write_text(
        json.dumps({"version": "flags-v1", "features": {"receipts": receipts}}, indent=2) + "\n"
    )
    # Written long before the known history ends: outside git the file's last write dates
    # every tenant's last change, and health from before it could step no one up.
    long_ago = time.time() - LONG_AGO_SECONDS
    os.utime(flags, (long_ago, long_ago))
    return root


def rampbot(repo: Path, *args: str, environ: dict[str, str] | None = None) -> int:
    """Run the CLI in ``repo`` with an environment of its own (none by default)."""
    return main(["-C", str(repo), *args], environ=environ or {})
