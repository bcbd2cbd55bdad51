"""The boundary: personal data leaves rampbot at no exit, and the run ends with counts only.

Each exit is tested through the real command: stdout and stderr of `plan`, `health` and errors,
`--format json`, annotations, and for `rampbot run` every request the GitHub double received
(titles, bodies, comments, statuses), the commit messages on the origin, the step outputs and
the job summary.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import outbound
from bot.cli import main
from bot.jsonlog import EventLog
from bot.redact import RedactSettings
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import HEALTHY, TENANTS, later, open_pulls, run_with
from tests.serve_helpers import alert as serve_alert
from tests.serve_helpers import serving, webhook

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"
EMAIL, IP, PHONE = "jane.doe@example.com", "10.0.3.17", "+44 20 7946 0958"
SUMMARY = f"Shadow reads disagree; paged {EMAIL} from {IP}, call {PHONE}; firmware 2.1.0.14"
# Pieces of each value: none of them may appear anywhere rampbot writes.
SECRETS = ("jane.doe", "example.com", IP, "7946 0958", "CustomerX")


def alert(name: str = "ShadowDivergence", summary: str = SUMMARY) -> dict[str, str]:
    return {"alertname": name, "severity": "critical", "tenant": "acme", "summary": summary}


def snapshot(path: Path, *alerts: dict[str, str]) -> Path:
    tenants = {name: dict(HEALTHY) for name in TENANTS}
    path.write_text(json.dumps({"tenants": tenants, "alerts": list(alerts)}), encoding="utf-8")
    return path


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{secret!r} reached {where}:\n{text}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "repo")
    return tmp_path / "repo"


@pytest.fixture(autouse=True)
def fresh_boundary() -> Iterator[None]:
    outbound.begin()
    yield
    outbound.begin()


def cli(repo: Path, *args: str, environ: dict[str, str] | None = None) -> int:
    return main(["-C", str(repo), *args], environ=environ or {})


# --- The function ---------------------------------------------------------------------------


def test_clean_data_cleans_every_string_and_keeps_numbers() -> None:
    document = {"summary": f"mail {EMAIL}", EMAIL: [IP, 4155550132, None, 1.5], "n": 3}
    assert outbound.clean_data(document) == {
        "summary": "mail [email]",
        "[email]": ["[ip]", 4155550132, None, 1.5],
        "n": 3,
    }


def test_configure_applies_the_policy_lists_until_the_next_run() -> None:
    outbound.configure(RedactSettings(deny=("customerx",), allow=(r"noreply@acme\.com",)))
    assert (
        outbound.clean("CustomerX: noreply@acme.com, jo@x.io")
        == "[redacted]: noreply@acme.com, [email]"
    )
    outbound.begin()
    assert outbound.clean("CustomerX: noreply@acme.com") == "CustomerX: [email]"


def test_a_trusted_service_keeps_its_address_but_no_other() -> None:
    outbound.trust("redis://:secret@10.0.0.7:6379/0")
    assert outbound.clean("Redis at 10.0.0.7:6379 refused; client 10.0.0.71") == (
        "Redis at 10.0.0.7:6379 refused; client [ip]"
    )


def test_the_stream_judges_whole_lines_even_written_in_pieces() -> None:
    target = io.StringIO()
    stream = outbound.RedactingStream(target)
    for piece in ["call +44 20 ", "7946 0958", " now\nnext ", "jo@x.io"]:
        stream.write(piece)
    assert target.getvalue() == "call [phone] now\n"
    stream.flush()
    assert target.getvalue() == "call [phone] now\nnext [email]"


def test_every_log_record_is_cleaned_whatever_its_handler() -> None:
    target = io.StringIO()
    handler = logging.StreamHandler(target)
    logger = logging.getLogger("rampbot.test")
    logger.addHandler(handler)
    undo = outbound.install_log_cleaning()
    try:
        logger.warning("alert from %s, mail %s", IP, EMAIL)
        logger.warning("%d args do not fit %s")
    finally:
        undo()
        logger.removeHandler(handler)
    lines = target.getvalue().splitlines()
    assert lines[0] == "alert from [ip], mail [email]"
    assert_clean(target.getvalue(), "a log line")


def test_main_installs_log_cleaning_and_takes_it_away(repo: Path) -> None:
    before = logging.getLogRecordFactory()
    assert cli(repo, "validate") == 0
    assert logging.getLogRecordFactory() is before


# --- Exits of the command line --------------------------------------------------------------


def test_plan_json_carries_no_alert_text_unredacted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    health = snapshot(repo / "red.json", alert())
    assert cli(repo, "plan", "--health", str(health), "--format", "json") == 0
    out, err = capsys.readouterr()
    document = json.loads(out)  # still JSON
    summaries = {a["summary"] for d in document["decisions"] for a in d["alerts"]}
    assert summaries == {
        "Shadow reads disagree; paged [email] from [ip], call [phone]; firmware 2.1.0.14"
    }
    assert_clean(out + err, "plan --format json")


@pytest.mark.parametrize(
    "command",
    [("plan",), ("apply",), ("health",), ("health", "--format", "json")],
    ids=" ".join,
)
def test_each_command_prints_alert_text_redacted(
    repo: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    health = snapshot(repo / "red.json", alert())
    cli(repo, *command, "--health", str(health))
    out, err = capsys.readouterr()
    assert "[email]" in out + err or command[0] == "apply"
    assert_clean(out + err, " ".join(command))


def test_an_error_and_its_annotation_are_redacted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = repo / EMAIL / "health.json"
    code = cli(repo, "plan", "--health", str(missing), environ={"GITHUB_ACTIONS": "true"})
    assert code == 1
    err = capsys.readouterr().err
    assert "[email]/health.json" in err
    assert "::error" in err
    assert_clean(err, "an error and its annotation")


def test_the_run_ends_with_counts_never_values(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twice = alert(summary=f"{SUMMARY}; again {EMAIL}")
    health = snapshot(repo / "red.json", twice, alert("Second", "logo@2x.png missing"))
    assert cli(repo, "plan", "--health", str(health)) == 0
    out, err = capsys.readouterr()
    last = err.splitlines()[-1]
    assert last == (
        "rampbot: personal data: redacted 1 [email], 1 [ip], 1 [phone]; left as they are: "
        "1 email (a file, unit or package name); 1 ip (a version or section number) "
        f"(distinct values); {outbound.SUGGESTION}"
    )
    assert_clean(out + err, "the suggestions")


def test_no_suggestions_when_nothing_was_redacted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(repo, "plan", "--health", "health.json") == 0
    assert "personal data" not in capsys.readouterr().err


def test_the_policy_lists_apply_to_what_is_printed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = repo / ".github" / "rampbot.yml"
    policy.write_text(
        policy.read_text() + "redact:\n  deny: [customerx]\n  allow: ['jane\\.doe@example\\.com']\n"
    )
    health = snapshot(repo / "red.json", alert("CustomerXDown", f"paged {EMAIL}"))
    assert cli(repo, "plan", "--health", str(health), "--format", "markdown") == 0
    out = capsys.readouterr().out
    assert "[redacted]Down" in out
    assert "jane.doe@\u200dexample.com" in out  # allowed; the joiner keeps GitHub from mentioning


# --- Exits of `rampbot run`: GitHub, git, the job summary and outputs -----------------------


@pytest.fixture
def github_files() -> dict[str, str]:
    policy = (EXAMPLE / ".github" / "rampbot.yml").read_text(encoding="utf-8")
    return {
        "flags.json": (EXAMPLE / "flags.json").read_text(encoding="utf-8"),
        # A customer's name as a tenant: denied, it is hidden even in titles and commit messages.
        ".github/rampbot.yml": policy + "redact:\n  deny: [customerx, acme]\n",
    }


def requests_sent(double: GitHubDouble) -> list[Any]:
    with double.lock:
        return [entry.body for entry in double.log if entry.body is not None]


def test_run_sends_nothing_personal_to_github_git_or_the_runner(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {**github_env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    # A healthy run opens the ramp pull request; the red one supersedes it with a comment.
    assert run_with(env, snapshot(tmp_path / "green.json"))[0] == 0
    health = snapshot(tmp_path / "red.json", alert("DivergenceCustomerX"))
    code, printed = run_with(env, health, now=later(hours=1, minutes=5), capsys=capsys)
    assert code == 0, printed
    [rollback] = [pull for pull in open_pulls(github_double) if pull.head == "rampbot/rollback"]
    assert rollback.title == "Rollback receipts, attest for [redacted]; 1 hold"
    for marker in ("[email]", "[ip]", "[phone]"):
        assert marker.replace("[", "\\[").replace("]", "\\]") in rollback.body  # as markdown
    sent = json.dumps(requests_sent(github_double), ensure_ascii=False)
    assert any("/statuses/" in line for line in github_double.requests())
    [dashboard] = github_double.issues()  # the ramp dashboard issue names the tenants too
    assert "[redacted]" in (dashboard.body or "")
    assert "| acme |" not in (dashboard.body or "")
    [ramp] = [pull for pull in open_pulls(github_double) if pull.head == "rampbot/ramp"]
    [comment] = github_double.comments(ramp.number)
    assert "[redacted]" in comment
    messages = github_origin.git("log", "--all", "--format=%B")
    assert "[redacted]" in messages
    for text, where in [
        (sent, "a request to GitHub"),
        (messages, "a commit message"),
        (summary.read_text(), "the job summary"),
        (output.read_text(), "the step outputs"),
        (printed, "stdout or stderr"),
    ]:
        assert_clean(text, where)


# --- Exits of `rampbot serve`: JSON log lines and the rollback pull request ------------------


def test_a_json_log_line_is_cleaned_field_by_field_and_stays_json() -> None:
    target = io.StringIO()
    log = EventLog(target)
    log.event("alert", summary="paged josé.garcía@correo.es", peers=[IP, 3], at=Path("/x"))
    [record] = [json.loads(line) for line in target.getvalue().splitlines()]
    assert record["summary"] == "paged [email]"  # found before JSON escapes the é
    assert record["peers"] == ["[ip]", 3]
    assert record["at"] == "/x"


def test_serve_logs_and_opens_the_rollback_without_personal_data(
    github_env: dict[str, str],
    github_clone: Path,
    github_double: GitHubDouble,
    tmp_path: Path,
) -> None:
    paged = serve_alert("acme")
    paged["annotations"]["summary"] = SUMMARY
    with serving(github_env, github_clone, tmp_path) as server:
        assert server.post(webhook(paged)).status_code == 202
        server.wait_idle(1)
        [pull] = open_pulls(github_double)
        log = server.log_path.read_text(errors="replace")
    assert "\\[email\\]" in pull.body
    assert_clean(pull.body, "the rollback pull request")
    assert_clean(json.dumps(requests_sent(github_double)), "a request to GitHub")
    assert_clean(log, "serve's log")
