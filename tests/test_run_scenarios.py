"""`rampbot run` in situations test_run.py does not cover: dead Prometheus, a moved branch,
rate limits timed, reviewers and labels, another flags path and base branch, a revert's bake time.

Everything goes through `bot.cli.main` against the GitHub double and a real bare origin.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.cli import main
from bot.errors import EXIT_CONFLICT, EXIT_SERVICE
from tests.fixtures.github import DEMO
from tests.fixtures.servers import free_port
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import (
    BOT_EMAIL,
    PULLS,
    flags_on,
    later,
    pct,
    rampbot,
    run_with,
    write_health,
    writes,
)

DEMO_POLICY = (DEMO / ".github" / "rampbot.yml").read_text(encoding="utf-8")
DEMO_FLAGS = (DEMO / "flags.json").read_text(encoding="utf-8")
# A dead or hung Prometheus must fail the run in seconds, not in the default 3 x 10 s.
FAST_PROMETHEUS = "prometheus:\n  timeout: 1s\n  retries: 1\n"


@pytest.fixture
def github_files() -> dict[str, str]:
    return {"flags.json": DEMO_FLAGS, ".github/rampbot.yml": DEMO_POLICY + FAST_PROMETHEUS}


@pytest.fixture
def health(tmp_path: Path) -> Path:
    return write_health(tmp_path / "health.json")


# 1. Prometheus down or hung: exit 3, and nothing reaches GitHub or the origin.


@pytest.mark.parametrize("server", ["dead", "silent"])
def test_an_unreachable_prometheus_changes_nothing(
    server: str,
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = (
        f"http://127.0.0.1:{free_port()}"  # nobody listens there
        if server == "dead"
        else request.getfixturevalue("silent_server")
    )
    code, out = rampbot(
        github_env, "run", "--prometheus-url", url, "--now", later(hours=1), capsys=capsys
    )
    assert code == EXIT_SERVICE, out
    assert f"Prometheus at {url}" in out
    assert writes(github_double) == []
    assert github_origin.refs("refs/heads/rampbot/") == {}
    assert github_double.token not in out


# 3. The bot branch moves between the run's fetch and its push.


def bot_commit(
    origin: BareRepo, name: str, flags_text: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A commit on main, as another rampbot run would make it, that no branch points at."""
    with monkeypatch.context() as patch:
        patch.setenv("GIT_AUTHOR_NAME", "github-actions[bot]")
        patch.setenv("GIT_AUTHOR_EMAIL", BOT_EMAIL)
        patch.setenv("GIT_COMMITTER_NAME", "github-actions[bot]")
        patch.setenv("GIT_COMMITTER_EMAIL", BOT_EMAIL)
        sha = origin.commit_files(name, {"flags.json": flags_text}, message=f"racing {name}")
    origin.delete_ref(f"refs/heads/{name}")
    return sha


def move_on_push(clone: Path, origin: BareRepo, shas: list[str]) -> Path:
    """A pre-push hook: each push first moves rampbot/ramp on the origin to the next of ``shas``.

    The hook runs after git has read where the remote's branches are and before it sends the
    update, the window in which another run's push would land.
    """
    queue = clone / ".git" / "moves"
    queue.write_text("\n".join(shas))
    hook = clone / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"""#!{sys.executable}
import os, pathlib, subprocess
queue = pathlib.Path({str(queue)!r})
shas = queue.read_text().split()
if shas:
    queue.write_text("\\n".join(shas[1:]))
    env = {{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}}
    subprocess.run(
        ["git", "--git-dir", {str(origin.path)!r}, "update-ref", "refs/heads/rampbot/ramp", shas[0]],
        check=True, env=env,
    )
"""
    )
    hook.chmod(0o755)
    return queue


def test_a_branch_moved_before_the_push_is_planned_again_once(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    health: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    racer = bot_commit(
        github_origin, "racer", DEMO_FLAGS.replace('"pct": 5,', '"pct": 1,', 1), monkeypatch
    )
    queue = move_on_push(github_clone, github_origin, [racer])
    code, out = run_with(github_env, health, capsys=capsys)
    assert code == 0, out
    assert queue.read_text() == ""  # the branch did move once
    assert "rampbot/ramp moved on origin" in out
    assert "planning again from the latest base" in out
    head = github_origin.resolve("refs/heads/rampbot/ramp")
    assert head not in (None, racer)
    main_sha = github_origin.resolve("refs/heads/main")
    assert github_origin.git("rev-parse", f"{head}^").strip() == main_sha
    assert pct(flags_on(github_origin, head or ""), "acme") == 25
    [pull] = github_double.pulls("open")
    assert pull.head == "rampbot/ramp"
    assert github_double.statuses(head or "") == {"rampbot": "success"}


def test_a_branch_moved_twice_stops_with_a_conflict_and_touches_no_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    github_clone: Path,
    health: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = bot_commit(
        github_origin, "racer-1", DEMO_FLAGS.replace('"pct": 5,', '"pct": 1,', 1), monkeypatch
    )
    second = bot_commit(
        github_origin, "racer-2", DEMO_FLAGS.replace('"pct": 5,', '"pct": 10,', 1), monkeypatch
    )
    move_on_push(github_clone, github_origin, [first, second])
    code, out = run_with(github_env, health, capsys=capsys)
    assert code == EXIT_CONFLICT, out
    assert "stopped after planning again once" in out
    assert github_origin.resolve("refs/heads/rampbot/ramp") == second
    assert writes(github_double) == []


# 4. Rate limits: the retry waits as long as GitHub asked.


@dataclass(frozen=True)
class Timed:
    method: str
    path: str
    status: int
    started: float  # time.time() when the double began answering
    ended: float


@pytest.fixture
def timed(github_double: GitHubDouble) -> Iterator[list[Timed]]:
    """Requests the double answers, with their times (the double's own log has none)."""
    log: list[Timed] = []
    answer = github_double.dispatch

    def dispatch(method: str, target: str, headers: Any, raw: bytes) -> Any:
        started = time.time()
        status, out_headers, data = answer(method, target, headers, raw)
        log.append(Timed(method, urlsplit(target).path, status, started, time.time()))
        return status, out_headers, data

    github_double.dispatch = dispatch  # type: ignore[method-assign]
    yield log
    del github_double.dispatch


def test_a_retry_after_is_honoured(
    github_env: dict[str, str], github_double: GitHubDouble, health: Path, timed: list[Timed]
) -> None:
    github_double.rate_limit_next("GET", PULLS, kind="secondary", retry_after=1)
    assert run_with(github_env, health)[0] == 0
    listing = [t for t in timed if (t.method, t.path) == ("GET", PULLS)]
    assert [t.status for t in listing[:2]] == [429, 200]
    assert listing[1].started - listing[0].ended >= 0.95
    assert len(github_double.pulls("open")) == 1


def test_a_primary_rate_limit_is_waited_out_until_its_reset(
    github_env: dict[str, str], github_double: GitHubDouble, health: Path, timed: list[Timed]
) -> None:
    fault = github_double.rate_limit_next("GET", PULLS, kind="primary", reset_in=2)
    reset = int(fault.headers["X-RateLimit-Reset"])
    assert run_with(github_env, health)[0] == 0
    listing = [t for t in timed if (t.method, t.path) == ("GET", PULLS)]
    assert [t.status for t in listing[:2]] == [403, 200]
    assert listing[1].started >= reset
    assert listing[1].started - listing[0].ended >= 1.0
    assert len(github_double.pulls("open")) == 1


# 5. Reviewers, team reviewers and labels from the policy.


def set_policy(double: GitHubDouble, pull_request: str, message: str) -> None:
    policy = DEMO_POLICY.replace("pull_request:\n  labels: [flags]\n", pull_request)
    assert policy != DEMO_POLICY
    double.repo.commit_files(
        "main", {".github/rampbot.yml": policy + FAST_PROMETHEUS}, message=message
    )


def label_writes(double: GitHubDouble) -> list[str]:
    return [line for line in writes(double) if "/labels" in line]


def test_reviewers_reach_the_pull_request_and_a_new_label_is_written_once(
    github_env: dict[str, str], github_double: GitHubDouble, health: Path
) -> None:
    set_policy(
        github_double,
        "pull_request:\n  labels: [flags]\n  reviewers: [alice, bob]\n  team_reviewers: [core]\n",
        "Ask for reviews",
    )
    assert run_with(github_env, health)[0] == 0
    [pull] = github_double.pulls("open")
    assert pull.requested_reviewers == ["alice", "bob"]
    assert pull.requested_teams == ["core"]
    assert set(pull.labels) == {"rampbot", "flags"}

    set_policy(
        github_double,
        "pull_request:\n  labels: [flags, ramp]\n  reviewers: [alice, bob]\n"
        "  team_reviewers: [core]\n",
        "One more label",
    )
    github_double.reset_log()
    assert run_with(github_env, health, now=later(hours=1, minutes=1))[0] == 0
    assert len(label_writes(github_double)) == 1, github_double.requests()
    [pull] = github_double.pulls("open")
    assert set(pull.labels) == {"rampbot", "flags", "ramp"}

    github_double.reset_log()
    assert run_with(github_env, health, now=later(hours=1, minutes=2))[0] == 0
    assert writes(github_double) == []


# 8. Another flags path and base branch.


class TestAnotherFlagsPathAndBaseBranch:
    @pytest.fixture
    def github_files(self) -> dict[str, str]:
        policy = DEMO_POLICY.replace("flags_file: flags.json", "flags_file: config/flags.json")
        policy = policy.replace("base_branch: main", "base_branch: trunk")
        return {"config/flags.json": DEMO_FLAGS, ".github/rampbot.yml": policy}

    @pytest.fixture
    def github_origin(self, tmp_path: Path, github_files: dict[str, str]) -> BareRepo:
        return BareRepo.create(tmp_path / "origin.git", github_files, branch="trunk")

    def test_the_pull_request_goes_into_trunk_and_edits_config_flags_json(
        self,
        github_env: dict[str, str],
        github_double: GitHubDouble,
        github_origin: BareRepo,
        health: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        code, out = run_with(github_env, health, capsys=capsys)
        assert code == 0, out
        [pull] = github_double.pulls("open")
        assert (pull.head, pull.base) == ("rampbot/ramp", "trunk")
        head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
        trunk = github_origin.resolve("refs/heads/trunk")
        assert github_origin.git("rev-parse", f"{head}^").strip() == trunk
        assert pct(flags_on(github_origin, head, "config/flags.json"), "acme") == 25
        assert github_origin.show_file(head, "flags.json") is None
        changed = github_origin.git("diff", "--name-only", f"{head}^", head).split()
        assert changed == ["config/flags.json"]
        # And an unchanged re-run finds its own pull request into trunk.
        github_double.reset_log()
        assert run_with(github_env, health, now=later(hours=1, minutes=1))[0] == 0
        assert writes(github_double) == []


# 6 and 10. A merged step reverted: the revert's merge restarts the bake time, and history
# shows the chain.


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class TestRevertedStep:
    """The origin starts five hours ago and the step merges four hours ago; the revert merges
    now. Only the revert's merge can make a tenant hold ten minutes from now."""

    START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)

    @pytest.fixture
    def github_origin(
        self, tmp_path: Path, github_files: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> BareRepo:
        with monkeypatch.context() as patch:
            patch.setenv("GIT_AUTHOR_DATE", iso(self.START))
            patch.setenv("GIT_COMMITTER_DATE", iso(self.START))
            return BareRepo.create(tmp_path / "origin.git", github_files)

    @pytest.fixture
    def reverted(
        self,
        github_env: dict[str, str],
        github_double: GitHubDouble,
        github_clone: Path,
        health: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> tuple[int, int]:
        """(the step's PR, the revert's PR), both merged."""
        stepped_at = self.START + timedelta(hours=1)
        code, out = rampbot(
            github_env, "run", "--health", str(health), "--now", iso(stepped_at), capsys=capsys
        )
        assert code == 0, out
        [step] = github_double.pulls("open")
        with monkeypatch.context() as patch:
            patch.setenv("GIT_AUTHOR_DATE", iso(stepped_at))
            patch.setenv("GIT_COMMITTER_DATE", iso(stepped_at))
            github_double.merge(step.number)
        code, out = rampbot(github_env, "revert", str(step.number), capsys=capsys)
        assert code == 0, out
        [revert] = github_double.pulls("open")
        assert revert.head == f"rampbot/revert-{step.number}"
        github_double.merge(revert.number)
        return step.number, revert.number

    def test_the_revert_s_merge_restarts_the_bake_time(
        self,
        github_env: dict[str, str],
        github_double: GitHubDouble,
        github_origin: BareRepo,
        reverted: tuple[int, int],
        health: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert pct(flags_on(github_origin, "refs/heads/main"), "acme") == 10
        code, out = run_with(github_env, health, now=later(minutes=10), capsys=capsys)
        assert code == 0, out
        assert github_double.pulls("open") == []
        assert "rampbot/ramp: nothing to change" in out
        # Once the bake time after the revert's merge has passed, acme steps up again.
        code, out = run_with(github_env, health, now=later(minutes=40), capsys=capsys)
        assert code == 0, out
        [pull] = github_double.pulls("open")
        assert pull.head == "rampbot/ramp"
        assert pct(flags_on(github_origin, "refs/heads/rampbot/ramp"), "acme") == 25

    def test_history_shows_the_step_and_its_revert_with_their_pull_requests(
        self,
        github_clone: Path,
        reverted: tuple[int, int],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        step_pr, revert_pr = reverted
        subprocess.run(["git", "-C", str(github_clone), "fetch", "-q", "origin"], check=True)
        code = main(
            ["-C", str(github_clone), "history", "--format", "json", "--ref", "origin/main"],
            environ={},
        )
        out = capsys.readouterr()
        assert code == 0, out.err
        changes = json.loads(out.out)["changes"]
        acme = [c for c in changes if (c["feature"], c["tenant"]) == ("receipts", "acme")]
        assert [(c["by"], c["from"], c["to"], c["pr"]) for c in acme] == [
            ("person", None, 10, None),  # the initial commit
            ("bot step", 10, 25, step_pr),
            ("revert", 25, 10, revert_pr),
        ]
        _, step, revert = acme
        assert step["decision"]
        assert revert["reverts"] == [step["decision"]]
        assert revert["reverted_pr"] == step_pr
        assert all(c["chain_ok"] for c in changes)
