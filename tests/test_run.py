"""`rampbot run` end to end: a real clone, a real bare origin, the GitHub test double."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.main_job import rejection_note
from bot.git import PushRejected
from bot.trailers import parse_trailers
from tests.github_double import BareRepo, GitHubDouble
from tests.github_double.handlers import ApiError
from tests.run_helpers import (
    PULLS,
    flags_on,
    later,
    open_pulls,
    rampbot,
    run_with,
    write_health,
    writes,
)


@pytest.fixture
def health(tmp_path: Path) -> Path:
    return write_health(tmp_path / "health.json")


def test_first_run_opens_one_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    health: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_with(github_env, health, capsys=capsys)
    assert code == 0, out
    [pull] = open_pulls(github_double)
    assert pull.head == "rampbot/ramp"
    assert set(pull.labels) == {"rampbot", "flags"}
    head = github_origin.resolve("refs/heads/rampbot/ramp")
    assert head is not None
    assert github_double.statuses(head) == {"rampbot": "success"}
    flags = flags_on(github_origin, head)
    assert flags["features"]["receipts"]["tenants"]["acme"]["pct"] == 25
    assert flags["revision"] == 1
    # One commit on main, by the bot, naming each change, with a decision trailer per change.
    message = github_origin.git("log", "-1", "--format=%B", head)
    author = github_origin.git("log", "-1", "--format=%ae", head).strip()
    assert author == "41898282+github-actions[bot]@users.noreply.github.com"
    assert "receipts for acme: 10% -> 25%" in message
    assert len(parse_trailers(message).decisions) == 7
    # Besides the pull request: one look for a refused one, two to read and open the dashboard.
    assert github_double.count() <= 7, github_double.requests()


def test_unchanged_rerun_changes_nothing_on_github(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    head = github_origin.resolve("refs/heads/rampbot/ramp")
    github_double.reset_log()
    # Evaluated a minute later: only the evaluation time differs.
    assert run_with(github_env, health, now=later(hours=1, minutes=1))[0] == 0
    assert writes(github_double) == []
    assert github_double.count() <= 4, github_double.requests()
    assert github_origin.resolve("refs/heads/rampbot/ramp") == head
    assert len(open_pulls(github_double)) == 1


def test_changed_health_updates_the_same_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    [before] = open_pulls(github_double)
    old_title = before.title
    old_head = github_origin.resolve("refs/heads/rampbot/ramp")
    assert old_head is not None
    worse = write_health(tmp_path / "worse.json", globex={"coverage": 90.0})
    assert run_with(github_env, worse, now=later(hours=1, minutes=5))[0] == 0
    [after] = open_pulls(github_double)
    assert after.number == before.number
    assert after.title != old_title
    new_head = github_origin.resolve("refs/heads/rampbot/ramp")
    assert new_head != old_head
    assert (
        flags_on(github_origin, new_head or "")["features"]["receipts"]["tenants"]["globex"]["pct"]
        == 1
    )
    assert github_double.statuses(old_head) == {"rampbot": "failure"}
    assert github_double.statuses(new_head or "") == {"rampbot": "success"}


def test_red_health_opens_a_rollback_that_supersedes_the_step_up(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    [ramp] = open_pulls(github_double)
    old_head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    assert run_with(github_env, red, now=later(hours=1, minutes=5))[0] == 0
    pulls = {pull.head: pull for pull in open_pulls(github_double)}
    assert set(pulls) == {"rampbot/ramp", "rampbot/rollback"}
    rollback = pulls["rampbot/rollback"]
    assert "rollback" in rollback.labels
    assert github_double.statuses(old_head) == {"rampbot": "failure"}
    rolled = flags_on(github_origin, "refs/heads/rampbot/rollback")["features"]["receipts"]
    assert rolled["tenants"]["acme"]["pct"] == 5
    assert "hold" in rolled["tenants"]["acme"]
    # The ramp pull request no longer steps acme up, and says why.
    ramp_flags = flags_on(github_origin, "refs/heads/rampbot/ramp")["features"]["receipts"]
    assert ramp_flags["tenants"]["acme"]["pct"] == 10
    assert any(
        f"rollback in #{rollback.number}" in comment
        for comment in github_double.comments(ramp.number)
    )


def test_nothing_to_change_closes_the_pull_request_with_a_reason(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    # No data for anyone: a Prometheus outage holds everything.
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"tenants": {}, "alerts": []}), encoding="utf-8")
    assert run_with(github_env, empty, now=later(hours=1, minutes=5))[0] == 0
    assert open_pulls(github_double) == []
    assert github_double.comments(pull.number)[-1].startswith("Closing: the plan at")


def test_merge_then_run_before_the_bake_time_holds(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    health: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    first_ids = parse_trailers(
        github_origin.git("log", "-1", "--format=%B", "refs/heads/rampbot/ramp")
    ).decisions
    github_double.merge(pull.number)
    capsys.readouterr()
    # Ten minutes after the merge: every tenant just changed, so all hold.
    code, out = run_with(github_env, health, now=later(minutes=10), capsys=capsys)
    assert code == 0, out
    assert open_pulls(github_double) == []
    assert "8 hold" in out
    # After the bake time they step again, and the commit names its parent decisions.
    assert run_with(github_env, health)[0] == 0
    message = github_origin.git("log", "-1", "--format=%B", "refs/heads/rampbot/ramp")
    parents = parse_trailers(message).parents
    acme = next(d for d in first_ids if (d.feature, d.tenant) == ("receipts", "acme"))
    assert parents["receipts", "acme"] == acme.id


def test_a_person_s_commit_on_the_bot_branch_is_left_alone(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    flags = github_origin.show_file("refs/heads/rampbot/ramp", "flags.json") or ""
    human = github_origin.commit_files(
        "rampbot/ramp",
        {"flags.json": flags.replace('"pct": 25', '"pct": 50', 1)},
        message="go faster",
    )
    worse = write_health(tmp_path / "worse.json", globex={"coverage": 90.0})
    for minutes in (5, 10):
        assert run_with(github_env, worse, now=later(hours=1, minutes=minutes))[0] == 0
    assert github_origin.resolve("refs/heads/rampbot/ramp") == human
    comments = github_double.comments(pull.number)
    assert len(comments) == 1, comments
    assert "not made by rampbot" in comments[0]
    assert github_double.statuses(human) == {"rampbot": "failure"}


def test_a_person_s_edit_on_main_is_kept(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    health: Path,
) -> None:
    assert run_with(github_env, health)[0] == 0
    main_flags = github_origin.show_file("refs/heads/main", "flags.json") or ""
    edited = main_flags.replace('"cohorts": ["A", "B", "C"]', '"cohorts": ["A", "B"]')
    assert edited != main_flags
    new_main = github_origin.commit_files("main", {"flags.json": edited}, message="drop cohort C")
    assert run_with(github_env, health, now=later(hours=1, minutes=5))[0] == 0
    head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
    assert github_origin.git("rev-parse", f"{head}^").strip() == new_main
    receipts = flags_on(github_origin, head)["features"]["receipts"]
    assert receipts["cohorts"] == ["A", "B"]
    assert receipts["tenants"]["acme"]["pct"] == 25
    assert len(open_pulls(github_double)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        lambda double: double.fail_next("POST", PULLS, 500),
        lambda double: double.rate_limit_next("GET", PULLS, kind="secondary", retry_after=1),
    ],
    ids=["github-500-then-success", "short-rate-limit-waited-out"],
)
def test_a_passing_github_fault_is_retried(
    fault: Callable[[GitHubDouble], object],
    github_env: dict[str, str],
    github_double: GitHubDouble,
    health: Path,
) -> None:
    fault(github_double)
    assert run_with(github_env, health)[0] == 0
    assert len(open_pulls(github_double)) == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda double: double.rate_limit_next(
                "GET", PULLS, kind="primary", reset_in=3600, times=None
            ),
            "rate limited until",
        ),
        (
            lambda double: double.deny("POST", PULLS, permission="pull_requests=write"),
            "the token needs pull_requests=write",
        ),
    ],
    ids=["long-rate-limit-exits-3", "missing-permission-is-named"],
)
def test_a_lasting_github_refusal_exits_3_and_says_why(
    fault: Callable[[GitHubDouble], object],
    message: str,
    github_env: dict[str, str],
    github_double: GitHubDouble,
    health: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault(github_double)
    code, out = run_with(github_env, health, capsys=capsys)
    assert code == 3
    assert message in out
    assert github_double.token not in out


def test_two_runs_at_once_end_with_one_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    health: Path,
) -> None:
    second = tmp_path / "second"
    subprocess.run(["git", "clone", "-q", github_origin.url, str(second)], check=True)
    now = later(hours=1)
    codes: list[int] = []

    def one(workspace: str) -> None:
        env = {**github_env, "GITHUB_WORKSPACE": workspace}
        codes.append(main(["run", "--health", str(health), "--now", now], environ=env))

    threads = [
        threading.Thread(target=one, args=(github_env["GITHUB_WORKSPACE"],)),
        threading.Thread(target=one, args=(str(second),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0]
    assert len(github_double.pulls("all")) == 1


def test_dry_run_touches_nothing(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    health: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = rampbot(
        github_env,
        "run",
        "--dry-run",
        "--health",
        str(health),
        "--now",
        later(hours=1),
        capsys=capsys,
    )
    assert code == 0, out
    assert "title: " in out
    assert "labels: rampbot, flags" in out
    assert '+        "acme": {"pct": 25},' in out
    assert writes(github_double) == []
    assert github_origin.resolve("refs/heads/rampbot/ramp") is None


def test_dry_run_without_a_token_says_so(
    github_env: dict[str, str], health: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {k: v for k, v in github_env.items() if k != "GITHUB_TOKEN"}
    code, out = rampbot(
        env, "run", "--dry-run", "--health", str(health), "--now", later(hours=1), capsys=capsys
    )
    assert code == 0, out
    assert "did not contact GitHub" in out


def test_run_without_a_token_asks_for_one(
    github_env: dict[str, str], health: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {k: v for k, v in github_env.items() if k != "GITHUB_TOKEN"}
    code, out = rampbot(env, "run", "--health", str(health), capsys=capsys)
    assert code == 1
    assert "GITHUB_TOKEN is not set" in out


def test_outputs_and_job_summary(
    github_env: dict[str, str], github_double: GitHubDouble, tmp_path: Path, health: Path
) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {**github_env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    assert run_with(env, health)[0] == 0
    [pull] = open_pulls(github_double)
    assert output.read_text() == f"pr-number={pull.number}\nchanged=true\n"
    assert "acme" in summary.read_text()


def test_demo_runs_offline(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    code, out = rampbot(
        {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "secret-token"}, "demo", capsys=capsys
    )
    assert code == 0, out
    assert "rampbot/rollback: open a pull request" in out
    assert "did not contact GitHub" in out
    assert "secret-token" not in out


@pytest.mark.parametrize("required_contexts", [("rampbot",), ()])
def test_a_rollback_merges_itself_when_the_policy_says_so(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    required_contexts: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With a required status, GitHub's auto-merge waits for it; without, there is nothing to
    # wait for and GitHub refuses auto-merge ("clean status"), so rampbot merges directly.
    github_double.required_contexts = required_contexts
    policy = github_origin.show_file("refs/heads/main", ".github/rampbot.yml") or ""
    github_double.repo.commit_files(
        "main",
        {
            ".github/rampbot.yml": policy.replace(
                "  labels: [flags]", "  labels: [flags]\n  auto_merge_rollback: true"
            )
        },
        message="Let rollbacks merge themselves",
    )
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    code, out = run_with(github_env, red, capsys=capsys)
    assert code == 0, out
    rollback = next(p for p in github_double.pulls("all") if p.head == "rampbot/rollback")
    assert rollback.state == "closed"
    assert rollback.merged_at is not None
    expected = "will merge itself once its checks pass" if required_contexts else "merged (nothing"
    assert f"#{rollback.number} {expected}" in out
    assert (
        flags_on(github_origin, "refs/heads/main")["features"]["receipts"]["tenants"]["acme"]["pct"]
        == 5
    )
    if required_contexts:
        # Steps up never merge themselves.
        ramp = next(p for p in github_double.pulls("all") if p.head == "rampbot/ramp")
        assert (ramp.state, ramp.merged_at, ramp.auto_merge) == ("open", None, None)
        return
    # rampbot merged the rollback itself: the ramp branch, planned on the old main, would
    # conflict with the new one; the next run plans it there.
    assert "rampbot/ramp: left for the next run" in out
    assert github_origin.resolve("refs/heads/rampbot/ramp") is None
    healthy = write_health(tmp_path / "healthy.json")
    assert run_with(github_env, healthy, now=later(hours=1, minutes=5))[0] == 0
    ramp_head = github_origin.resolve("refs/heads/rampbot/ramp") or ""
    main_head = github_origin.resolve("refs/heads/main")
    assert github_origin.git("rev-parse", f"{ramp_head}^").strip() == main_head
    assert flags_on(github_origin, ramp_head)["revision"] == 2
    [ramp] = [p for p in open_pulls(github_double) if p.head == "rampbot/ramp"]
    assert ramp.auto_merge is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "invalid JSON"), ('{"evaluated_at": "yesterday"}', "evaluated_at")],
)
def test_demo_names_a_malformed_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo"
    source = tmp_path / "demo"
    shutil.copytree(demo, source)
    (source / "health.json").write_text(text, encoding="utf-8")
    code, out = rampbot({"PATH": "/usr/bin:/bin"}, "demo", str(source), capsys=capsys)
    assert code == 1, out
    assert out.startswith(f"{source / 'health.json'}:")
    assert problem in out


def test_rollback_and_ramp_of_one_run_carry_distinct_revisions(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
) -> None:
    # Both at base + 1 would both merge cleanly (the revision line changes alike on each) and
    # leave main at a revision already published with other content.
    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    assert run_with(github_env, red)[0] == 0
    pulls = {pull.head: pull for pull in open_pulls(github_double)}
    assert set(pulls) == {"rampbot/ramp", "rampbot/rollback"}
    assert flags_on(github_origin, "refs/heads/rampbot/rollback")["revision"] == 1
    assert flags_on(github_origin, "refs/heads/rampbot/ramp")["revision"] == 2
    github_double.merge(pulls["rampbot/rollback"].number)
    # The stale ramp pull request now conflicts on the revision line: GitHub refuses it...
    with pytest.raises(ApiError) as refused:
        github_double.merge(pulls["rampbot/ramp"].number)
    assert refused.value.status == 405
    assert flags_on(github_origin, "refs/heads/main")["revision"] == 1
    # ...until the next run rebuilds it on the new base.
    healthy = write_health(tmp_path / "healthy.json")
    code, out = run_with(github_env, healthy, now=later(hours=1, minutes=5))
    assert code == 0, out
    ramp = github_origin.resolve("refs/heads/rampbot/ramp") or ""
    assert github_origin.git("rev-parse", f"{ramp}^").strip() == github_origin.resolve(
        "refs/heads/main"
    )
    assert flags_on(github_origin, ramp)["revision"] == 2
    github_double.merge(pulls["rampbot/ramp"].number)
    assert flags_on(github_origin, "refs/heads/main")["revision"] == 2


def test_a_fork_s_rampbot_branch_is_not_the_bot_s(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    health: Path,
) -> None:
    flags = github_origin.show_file("refs/heads/main", "flags.json") or ""
    fork = github_double.open_fork_pull(
        "mallory", "rampbot/ramp", {"flags.json": flags.replace('"pct": 10', '"pct": 100', 1)}
    )
    assert run_with(github_env, health)[0] == 0
    ours = [p for p in open_pulls(github_double) if p.number != fork.number]
    assert [(p.head, p.head_owner) for p in ours] == [("rampbot/ramp", None)]
    # Nothing to change: rampbot closes its own pull request, and leaves the fork's alone.
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"tenants": {}, "alerts": []}), encoding="utf-8")
    assert run_with(github_env, empty, now=later(hours=1, minutes=5))[0] == 0
    assert [p.number for p in open_pulls(github_double)] == [fork.number]
    assert github_double.pull(fork.number).title == "A change from a fork"
    assert github_double.comments(fork.number) == []
    assert github_double.statuses(fork.last_head_sha) == {}


def test_a_merged_fork_pull_request_is_not_reverted_as_the_bot_s(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = github_origin.show_file("refs/heads/main", "flags.json") or ""
    fork = github_double.open_fork_pull(
        "mallory", "rampbot/ramp", {"flags.json": flags.replace('"pct": 10', '"pct": 100', 1)}
    )
    github_double.merge(fork.number)
    code, out = rampbot(github_env, "revert", str(fork.number), capsys=capsys)
    assert code == 1, out
    assert "came from 'mallory/flags:rampbot/ramp', not a rampbot/ branch of acme/flags" in out


def test_a_failed_comment_is_not_posted_twice(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    health: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_with(github_env, health)[0] == 0
    [pull] = open_pulls(github_double)
    comments = f"/repos/acme/flags/issues/{pull.number}/comments"
    github_double.fail_next("POST", comments, 500)
    github_double.reset_log()
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"tenants": {}, "alerts": []}), encoding="utf-8")
    capsys.readouterr()
    code, out = run_with(github_env, empty, now=later(hours=1, minutes=5), capsys=capsys)
    assert code == 3, out
    assert github_double.count("POST", comments) == 1
    assert f'GitHub: could not comment on #{pull.number}: 500 "Server Error"; not retried' in out


def test_a_failed_read_is_retried(
    github_env: dict[str, str], github_double: GitHubDouble, health: Path
) -> None:
    github_double.fail_next("GET", PULLS, 500)
    assert run_with(github_env, health)[0] == 0
    # The open ones twice (a 500, then the answer), then the branch's last closed one.
    assert github_double.count("GET", PULLS) == 3
    assert len(open_pulls(github_double)) == 1


def test_a_rejected_push_is_shown_without_credentials() -> None:
    # git itself leaves credentials out of the URLs it quotes; this covers anything else
    # in its stderr (a hook's or a proxy's message quoting the URL).
    rejected = PushRejected(
        "rampbot/ramp moved on origin: error: failed to push some refs to "
        "'https://x-access-token:ghs_s3cret@github.com/acme/flags.git'"
    )
    note = rejection_note(rejected)
    assert "ghs_s3cret" not in note
    assert "'https://github.com/acme/flags.git'" in note
