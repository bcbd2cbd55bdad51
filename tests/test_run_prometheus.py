"""`rampbot run` and `plan` reading a real Prometheus (tests/fixtures/prometheus.py), no snapshot.

The session's Prometheus holds the known history, which ends at ``prometheus.history_end`` (an
hour ago); runs are evaluated with ``--now`` at fixed times around that end. The origin's first
commit is dated three hours before it, so the bake time has passed for every tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.fixtures.prometheus import Server, start_prometheus
from tests.github_double import BareRepo, GitHubDouble
from tests.prometheus_repo import policy_text, write_repo
from tests.run_helpers import flags_on, pct, rampbot, writes

POLICY_OPTIONS: dict[str, Any] = {
    "tenants": ["green", "diverge"],
    "timeout": "5s",
    "extra": "pull_request:\n  labels: [flags]\n",
}

FLAGS = {
    "version": "flags-v1",
    "features": {"receipts": {"pct": 0, "tenants": {"green": {"pct": 10}, "diverge": {"pct": 10}}}},
}


class TestRunAgainstPrometheus:
    @pytest.fixture
    def github_files(self, prometheus: Server) -> dict[str, str]:
        return {
            "flags.json": json.dumps(FLAGS, indent=2) + "\n",
            ".github/rampbot.yml": policy_text(prometheus.url, **POLICY_OPTIONS),
        }

    @pytest.fixture
    def github_origin(
        self,
        tmp_path: Path,
        github_files: dict[str, str],
        prometheus: Server,
        monkeypatch: pytest.MonkeyPatch,
    ) -> BareRepo:
        created = datetime.fromtimestamp(prometheus.history_end - 3 * 3600, UTC).isoformat()
        with monkeypatch.context() as patch:
            patch.setenv("GIT_AUTHOR_DATE", created)
            patch.setenv("GIT_COMMITTER_DATE", created)
            return BareRepo.create(tmp_path / "origin.git", github_files)

    def test_open_keep_roll_back_keep(
        self,
        github_env: dict[str, str],
        github_double: GitHubDouble,
        github_origin: BareRepo,
        prometheus: Server,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        end = datetime.fromtimestamp(prometheus.history_end, UTC)

        def run(moment: datetime) -> str:
            code, out = rampbot(github_env, "run", "--now", moment.isoformat(), capsys=capsys)
            assert code == 0, out
            return out

        # Ten minutes before the end, diverge's divergence (5 minutes before) is still ahead:
        # both tenants are green and step up.
        run(end - timedelta(minutes=10))
        [ramp] = github_double.pulls("open")
        assert ramp.head == "rampbot/ramp"
        ramp_head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
        assert (
            pct(flags_on(github_origin, ramp_head), "green"),
            pct(flags_on(github_origin, ramp_head), "diverge"),
        ) == (
            25,
            25,
        )
        assert github_double.statuses(ramp_head) == {"rampbot": "success"}

        # A minute later, with the same data: nothing to write.
        github_double.reset_log()
        run(end - timedelta(minutes=9))
        assert writes(github_double) == []
        assert github_origin.resolve("refs/heads/rampbot/ramp") == ramp_head

        # At the end, diverge's divergence is inside the window: it rolls back.
        out = run(end)
        pulls = {pull.head: pull for pull in github_double.pulls("open")}
        assert set(pulls) == {"rampbot/ramp", "rampbot/rollback"}
        assert "rollback" in pulls["rampbot/rollback"].labels
        rollback_head = github_origin.resolve("refs/heads/rampbot/rollback") or ""
        assert pct(flags_on(github_origin, rollback_head), "diverge") == 5
        ramp_head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
        assert pct(flags_on(github_origin, ramp_head), "diverge") == 10  # no longer stepped up
        assert pct(flags_on(github_origin, ramp_head), "green") == 25
        assert "divergence" in (pulls["rampbot/rollback"].body or ""), out

        # A minute after the end, with the same red data: nothing to write, nothing moves.
        github_double.reset_log()
        run(end + timedelta(minutes=1))
        assert writes(github_double) == []
        assert github_origin.resolve("refs/heads/rampbot/rollback") == rollback_head
        assert github_origin.resolve("refs/heads/rampbot/ramp") == ramp_head
        assert len(github_double.pulls("open")) == 2


# 7. Tenants labelled `customer` instead of `tenant`, in the series and in the alerts.

CUSTOMER_RULES: dict[str, Any] = {
    "groups": [
        {
            "name": "customers",
            "interval": "1s",
            "rules": [
                *(
                    {
                        "record": metric,
                        "expr": f"vector({value})",
                        # A `tenant` label that lies: rampbot must group by `customer` only.
                        "labels": {"case": "customers", "customer": customer, "tenant": "t1"},
                    }
                    for customer, coverage in (("c_green", 99), ("c_low", 90), ("c_alerted", 99))
                    for metric, value in (
                        ("shadow_coverage_pct", coverage),
                        ("anchor_latency_ms", 20),
                        ("shadow_divergence", 0),
                    )
                ),
                {
                    "alert": "ShadowDivergence",
                    "expr": "vector(1)",
                    "labels": {
                        "severity": "critical",
                        "customer": "c_alerted",
                        "tenant": "c_green",
                    },
                },
                {"alert": "Noisy", "expr": "vector(1)", "labels": {"severity": "warning"}},
            ],
        }
    ]
}


@pytest.fixture(scope="module")
def customer_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_prometheus(tmp_path_factory.mktemp("customers"), rules=CUSTOMER_RULES)
    yield server
    server.stop()


def test_tenant_label_customer_decides_per_customer(
    tmp_path: Path, customer_prometheus: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    write_repo(
        tmp_path,
        customer_prometheus.url,
        case="customers",
        label="customer",
        bake_time="10s",
        step="1s",
        timeout="5s",
        extra="tenant_label: customer\n",
    )
    code = main(["-C", str(tmp_path), "plan", "--format", "json"], environ={})
    captured = capsys.readouterr()
    assert code == 0, captured.err
    plan = json.loads(captured.out)
    decided = {d["tenant"]: (d["action"], d["to"]) for d in plan["decisions"]}
    assert decided == {
        "c_green": ("up", 25),
        "c_low": ("down", 5),
        "c_alerted": ("rollback", 5),
    }
    alerted = next(d for d in plan["decisions"] if d["tenant"] == "c_alerted")
    assert alerted["reasons"] == ["alert ShadowDivergence (critical) firing"]
