"""`rampbot serve`: how fast a rollback pull request exists after an alert, and bursts.

    python benchmarks/serve_latency.py [--tenants 10000] [--features 10] [--webhooks 20]

Prints three figures, each against the GitHub test double (tests/github_double) over a real bare
repository, with `rampbot serve` running as a subprocess:

1. webhook received -> rollback pull request open (or updated), on a flags.json of TENANTS x
   FEATURES, p50 and p95 over WEBHOOKS webhooks for distinct tenants, one at a time, with
   ``auto_merge_rollback: true`` (the double merges once the rampbot status is green, so each
   webhook opens a pull request of its own and enables auto-merge or merges it);
2. an alerting rule starts firing in Prometheus -> pull request open, through Debian's
   Alertmanager with the shipped examples/serve/alertmanager.yml (group_wait 5s), p50/p95 over
   10 alerts started 3 s apart; Prometheus evaluates every second here (a production
   evaluation_interval adds up to its length);
3. 100 webhooks within about one second for 20 tenants: pull requests opened and pushes.

Times come from serve's own log: the "alert" event is written once the pull request exists;
the start is the moment the benchmark posted the webhook (1), or the alert's startsAt (2).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.alertmanager import start_alertmanager  # noqa: E402
from tests.fixtures.prometheus import start_prometheus  # noqa: E402
from tests.github_double import BareRepo, GitHubDouble  # noqa: E402
from tests.serve_helpers import WEBHOOK_TOKEN, Serve, alert, serving, webhook  # noqa: E402

POLICY = """\
bake_time: 30m
signals:
  - name: divergence
    query: sum by (tenant) (increase(shadow_divergence_total[5m]))
    healthy: "<= 0"
    critical: true
alerts:
  rollback_severities: [critical]
defaults:
  steps: [1, 5, 10, 25, 50, 100]
features:
{features}
pull_request:
  auto_merge_rollback: {auto_merge}
"""


def files(tenants: int, features: int, *, auto_merge: bool) -> dict[str, str]:
    names = [f"t{index:05d}" for index in range(tenants)]
    feature_names = [f"feature-{index}" for index in range(features)]
    flags = {
        "version": "flags-v1",
        "revision": 1,
        "features": {
            feature: {"pct": 0, "tenants": {name: {"pct": 50} for name in names}}
            for feature in feature_names
        },
    }
    return {
        "flags.json": json.dumps(flags, indent=2) + "\n",
        ".github/rampbot.yml": POLICY.format(
            features="\n".join(f"  {name}:" for name in feature_names),
            auto_merge="true" if auto_merge else "false",
        ),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Setup:
    """A bare origin, a clone, the double, serve's environment, in a temporary directory."""

    def __init__(self, tmp: Path, origin_files: dict[str, str], name: str) -> None:
        self.tmp = tmp / name
        self.tmp.mkdir()
        self.origin = BareRepo.create(self.tmp / "origin.git", origin_files)
        self.clone = self.tmp / "work"
        subprocess.run(["git", "clone", "-q", self.origin.url, str(self.clone)], check=True)
        self.double = GitHubDouble(self.origin).start()
        self.env = {
            "GITHUB_TOKEN": self.double.token,
            "GITHUB_REPOSITORY": self.double.full_name,
            "GITHUB_API_URL": self.double.url,
        }

    def close(self) -> None:
        self.double.stop()


def rollback_times(server: Serve) -> dict[str, float]:
    """Tenant -> epoch seconds of its first "alert" event with a pull request."""
    found: dict[str, float] = {}
    for record in server.events("alert"):
        if record["outcome"] == "rollback" and record.get("pull_request"):
            moment = datetime.fromisoformat(record["time"]).timestamp()
            found.setdefault(record["tenant"], moment)
    return found


def webhook_to_pull_request(tmp: Path, *, tenants: int, features: int, webhooks: int) -> None:
    setup = Setup(tmp, files(tenants, features, auto_merge=True), "webhook")
    size = len(setup.origin.show_file("main", "flags.json") or "")
    try:
        with serving(setup.env, setup.clone, setup.tmp) as server:
            latencies = []
            for index in range(webhooks):
                tenant = f"t{index * 7:05d}"
                posted = time.time()
                assert server.post(webhook(alert(tenant))).status_code == 202
                server.wait_for(
                    f"the pull request for {tenant}",
                    lambda tenant=tenant: tenant in rollback_times(server),
                    seconds=120,
                )
                latencies.append(rollback_times(server)[tenant] - posted)
            pushes = server.metric("rampbot_pushes_total")
        opened = len(setup.double.pulls("all"))
    finally:
        setup.close()
    print(
        f"1. webhook -> rollback pull request, {tenants:,} tenants x {features} features "
        f"(flags.json {size / 1e6:.1f} MB), {webhooks} webhooks, auto-merge on: "
        f"p50 {statistics.median(latencies):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
        f"max {max(latencies):.2f} s ({opened} pull requests, {pushes:.0f} pushes)"
    )


def alert_rule_to_pull_request(tmp: Path, *, alerts: int = 10, spacing: int = 3) -> None:
    setup = Setup(tmp, files(alerts, 1, auto_merge=False), "alertmanager")
    token_file = setup.tmp / "webhook-token"
    token_file.write_text(WEBHOOK_TOKEN)
    example = (ROOT / "examples" / "serve" / "alertmanager.yml").read_text()
    try:
        with serving(setup.env, setup.clone, setup.tmp) as server:
            config = example.replace(
                "http://127.0.0.1:9095/alertmanager", f"{server.url}/alertmanager"
            ).replace("/etc/rampbot/webhook-token", str(token_file))
            manager = start_alertmanager(setup.tmp / "am", config=config)
            start = int(time.time()) + 5
            rules: dict[str, Any] = {
                "groups": [
                    {
                        "name": "bench",
                        "interval": "1s",
                        "rules": [
                            {
                                "alert": "ShadowDivergence",
                                "expr": f"vector(time()) > {start + spacing * i}",
                                "labels": {"severity": "critical", "tenant": f"t{i:05d}"},
                            }
                            for i in range(alerts)
                        ],
                    }
                ]
            }
            prometheus = start_prometheus(
                setup.tmp / "prometheus",
                rules=rules,
                alertmanager=manager.url.removeprefix("http://"),
                wait_for_alerts=False,
            )
            try:
                server.wait_for(
                    "every rollback",
                    lambda: len(rollback_times(server)) == alerts,
                    seconds=alerts * spacing + 90,
                )
            finally:
                prometheus.stop()
                manager.stop()
            latencies = []
            for record in server.events("alert"):
                if record["outcome"] == "rollback" and record.get("pull_request"):
                    started = datetime.fromisoformat(record["starts_at"]).timestamp()
                    moment = datetime.fromisoformat(record["time"]).timestamp()
                    latencies.append(moment - started)
            latencies = latencies[:alerts]
    finally:
        setup.close()
    print(
        f"2. alert rule firing -> pull request, through Alertmanager with the shipped route "
        f"(group_wait 5s), {alerts} alerts: p50 {statistics.median(latencies):.1f} s, "
        f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
    )


def burst(tmp: Path, *, tenants: int = 20, webhooks: int = 100) -> None:
    setup = Setup(tmp, files(tenants, 2, auto_merge=False), "burst")
    try:
        with serving(setup.env, setup.clone, setup.tmp) as server:
            names = [f"t{index:05d}" for index in range(tenants)]
            began = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
                codes = list(
                    pool.map(
                        lambda i: server.post(webhook(alert(names[i % tenants]))).status_code,
                        range(webhooks),
                    )
                )
            sent = time.monotonic() - began
            assert codes == [202] * webhooks, codes
            server.wait_idle(webhooks, seconds=120)
            pushes = server.metric("rampbot_pushes_total")
            rolled = len(rollback_times(server))
        pulls = len(setup.double.pulls("all"))
    finally:
        setup.close()
    print(
        f"3. {webhooks} webhooks in {sent:.2f} s for {tenants} tenants: {pulls} pull request(s), "
        f"{pushes:.0f} push(es), {rolled} tenants rolled back"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--webhooks", type=int, default=20)
    options = parser.parse_args()
    os.environ.update(
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        webhook_to_pull_request(
            tmp, tenants=options.tenants, features=options.features, webhooks=options.webhooks
        )
        alert_rule_to_pull_request(tmp)
        burst(tmp)
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
