"""The ramp dashboard issue: rendered from a plan, its boxes read back, kept on GitHub."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.dashboard import (
    BODY_LIMIT,
    LABEL,
    MARKER,
    DashboardView,
    DayPoint,
    OpenPull,
    chart,
    read_switches,
    render_dashboard,
    sparkline,
)
from bot.decide import Action, Decision, Kind, Plan
from tests import builders
from tests.github_double import BareRepo, GitHubDouble
from tests.run_helpers import later, open_pulls, run_with, write_health, writes

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "data" / "golden" / "dashboard_chart.md"
UPDATE_GOLDEN = os.environ.get("RAMPBOT_UPDATE_GOLDEN") == "1"


def fleet(tenants: int, features: int) -> Plan:
    return builders.fleet(tenants, features, evaluated_at=NOW)


def points(days: int = 30) -> list[DayPoint]:
    start = date(2026, 10, 28)
    return [
        DayPoint(
            day=start + timedelta(days=i),
            median=min(100.0, 5.0 * (i // 3)),
            low=0,
            high=min(100, 10 * (i // 3)),
            rollbacks=1 if i in (11, 20) else 0,
        )
        for i in range(days)
    ]


# --- the boxes ---------------------------------------------------------------------------------


def test_ticked_boxes_are_read_and_other_checkbox_lines_are_noted():
    body = "\n".join(
        [
            MARKER,
            "- [x] Stop all step-ups <!-- rampbot:stop -->",
            "- [X] Evaluate now <!-- rampbot:evaluate -->",
            "- [x] Promote acme to 100% <!-- rampbot:promote -->",
            "- [?] Stop all step-ups <!-- rampbot:stop -->",
            "* [x] a person's own to-do",
            "not a box [x]",
        ]
    )
    switches = read_switches(body)
    assert (switches.stop, switches.evaluate) == (True, True)
    assert switches.notes == (
        "line 4 ignored: '- [x] Promote acme to 100% <!-- rampbot:promote -->' is not a box "
        "rampbot reads",
        "line 5 ignored: '- [?] Stop all step-ups <!-- rampbot:stop -->' is not a box rampbot "
        "reads",
        'line 6 ignored: "* [x] a person\'s own to-do" is not a box rampbot reads',
    )


def test_a_stop_box_ticked_anywhere_stops_though_another_is_unticked():
    # A person who pastes the box again, or edits an old copy, may leave two: on doubt, rampbot
    # does not step up, in whichever order they come.
    ticked = "- [x] Stop all step-ups <!-- rampbot:stop -->"
    unticked = "- [ ] Stop all step-ups <!-- rampbot:stop -->"
    for lines in ([ticked, unticked], [unticked, ticked]):
        assert read_switches("\n".join([MARKER, *lines])).stop is True
    evaluate = [
        "- [x] Evaluate now <!-- rampbot:evaluate -->",
        "- [ ] Evaluate now <!-- rampbot:evaluate -->",
    ]
    assert read_switches("\n".join([MARKER, *evaluate])).evaluate is True


def test_unticked_boxes_stop_nothing():
    body = render_dashboard(fleet(3, 1), DashboardView())
    assert read_switches(body) == read_switches("")
    stopped = render_dashboard(fleet(3, 1), DashboardView(stop=True))
    assert read_switches(stopped).stop is True
    # "Evaluate now" is always written unticked: a tick is a one-off request.
    assert "- [ ] Evaluate now <!-- rampbot:evaluate -->" in stopped


# --- the body ------------------------------------------------------------------------------


def test_a_small_fleet_shows_counts_the_unsteady_the_matrix_and_the_pull_requests():
    view = DashboardView(
        pulls=(OpenPull("rampbot/ramp", 12), OpenPull("rampbot/rollback", 13)),
        last_change={"tenant-00003": "2026-11-25"},
        notes=("line 9 ignored: '- [x] x' is not a box rampbot reads",),
    )
    body = render_dashboard(fleet(10, 2), view)
    assert body.startswith(MARKER + "\n")
    assert "| up | 16 |" in body
    assert "| rollback | 2 |" in body
    assert "| held after a rollback | 2 |" in body
    assert "- **rollback** (2): tenant-00003 (feature0), tenant-00003 (feature1)" in body
    assert "  - e.g. held after a rollback (rolled back); delete" in body
    assert "- `rampbot/ramp`: #12\n- `rampbot/rollback`: #13" in body
    assert "| tenant | feature0 | feature1 | last change |" in body
    assert "| tenant-00003 | 25% → 10% | 25% → 10% | 2026-11-25 |" in body
    assert "| tenant-00000 | 10% → 25% | 10% → 25% | — |" in body
    assert "> line 9 ignored: '- \\[x\\] x' is not a box rampbot reads" in body
    assert "left out" not in body
    # Rendering is deterministic: an unchanged run leaves the issue alone.
    assert render_dashboard(fleet(10, 2), view) == body


def test_ten_thousand_tenants_by_ten_features_stay_under_github_s_limit():
    series = {f"feature{f}": points() for f in range(10)}
    body = render_dashboard(fleet(10_000, 10), DashboardView(series=series))
    assert len(body) < BODY_LIMIT
    left = re.search(r"…and ([0-9,]+) more tenants, left out to fit", body)
    assert left is not None
    shown = body.count("\n| tenant-")
    assert shown + int(left[1].replace(",", "")) == 10_000
    assert "- **rollback** (1,040): " in body
    assert "and 1,030 more" in body


# --- the chart -----------------------------------------------------------------------------


def test_the_chart_is_a_mermaid_xychart_with_a_sparkline_beside_it():
    block = chart("receipts", points())
    if UPDATE_GOLDEN:
        GOLDEN.write_text(block, encoding="utf-8")
    # Accepted by Mermaid's own parser (`mermaid.parse` under Node 20 with jsdom), which CI runs
    # on a rendered dashboard (.ci/check-mermaid); the tests run offline: here, a golden.
    assert block == GOLDEN.read_text(encoding="utf-8")
    lines = block.splitlines()
    assert lines[0] == "```mermaid"
    assert lines[1] == "xychart-beta"
    assert lines[-1] == "```"
    axis = re.fullmatch(r"    x-axis \[(.*)\]", lines[3])
    assert axis is not None
    labels = axis[1].split(", ")
    assert len(labels) == 30
    for series in lines[5:9]:
        kind, values = re.fullmatch(r"    (bar|line) \[(.*)\]", series).groups()  # type: ignore[union-attr]
        assert len(values.split(", ")) == 30, kind
    assert sparkline(points())[11] == "!"
    assert sparkline(points())[0] == "▁"


# --- on GitHub (the double) ------------------------------------------------------------------


def test_the_dashboard_is_opened_once_then_edited_only_when_it_changes(
    github_env: dict[str, str], github_double: GitHubDouble, tmp_path: Path
) -> None:
    health = write_health(tmp_path / "health.json")
    assert run_with(github_env, health)[0] == 0
    [issue] = github_double.issues("open")
    assert issue.labels == [LABEL]
    assert issue.body is not None
    assert issue.body.startswith(MARKER)
    assert [
        line
        for line in github_double.requests()
        if line.startswith("POST /repos/acme/flags/issues ")
    ] == ["POST /repos/acme/flags/issues -> 201"]

    github_double.reset_log()
    assert run_with(github_env, health, now=later(hours=1, minutes=1))[0] == 0
    assert writes(github_double) == []
    # Today's unchanged run plus the one read of the dashboard.
    assert github_double.count("GET", "/repos/acme/flags/issues") == 1
    assert github_double.count() == 3, github_double.requests()
    assert len(github_double.issues()) == 1

    worse = write_health(tmp_path / "worse.json", globex={"coverage": 90.0})
    github_double.reset_log()
    assert run_with(github_env, worse, now=later(hours=1, minutes=5))[0] == 0
    assert github_double.count("PATCH", f"/repos/acme/flags/issues/{issue.number}") == 1
    assert len(github_double.issues()) == 1


def test_the_stop_box_holds_every_step_up_and_lets_a_rollback_through(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    health = write_health(tmp_path / "health.json")
    assert run_with(github_env, health)[0] == 0
    [issue] = github_double.issues()
    assert issue.body is not None
    ticked = (
        issue.body.replace("- [ ] Stop all step-ups", "- [x] Stop all step-ups")
        + "\n- [x] Promote everyone <!-- rampbot:promote -->\n"
    )
    github_double.edit_issue(issue.number, body=ticked)

    red = write_health(tmp_path / "red.json", acme={"divergence": 3})
    code, out = run_with(github_env, red, now=later(hours=1, minutes=5), capsys=capsys)
    assert code == 0, out
    heads = [pull.head for pull in open_pulls(github_double)]
    # The ramp pull request had nothing left but steps up: closed; the rollback opened.
    assert heads == ["rampbot/rollback"]
    [issue] = github_double.issues()
    assert issue.body is not None
    assert "- [x] Stop all step-ups <!-- rampbot:stop -->" in issue.body
    assert "is not a box rampbot reads" in issue.body
    assert "- **paused** (" in issue.body


# --- Resume -----------------------------------------------------------------------------------


def held_fleet() -> Plan:
    """acme and globex held after a rollback, initech stepping up."""
    decisions = (
        Decision("acme", "receipts", 10, 10, Action.HOLD, Kind.HELD, note="rolled back from 25%"),
        Decision("globex", "receipts", 5, 5, Action.HOLD, Kind.HELD, note="rolled back from 10%"),
        Decision("initech", "receipts", 25, 50, Action.UP, Kind.HEALTHY),
    )
    return Plan(decisions=decisions, evaluated_at=NOW, window="30m")


def test_a_held_tenant_gets_a_resume_box_and_a_tick_is_read_back():
    body = render_dashboard(held_fleet(), DashboardView())
    assert (
        "- [ ] Resume acme (receipts): rolled back from 25% <!-- rampbot:resume receipts acme -->"
        in body
    )
    assert "<!-- rampbot:resume receipts globex -->" in body
    assert "rampbot:resume receipts initech" not in body
    assert read_switches(body).resume == frozenset()
    ticked = body.replace("- [ ] Resume globex", "- [x] Resume globex")
    switches = read_switches(ticked)
    assert switches.resume == {("receipts", "globex")}
    assert switches.notes == ()
    # Written again, the tick stays and its box comes first.
    again = render_dashboard(held_fleet(), DashboardView(resume=switches.resume))
    boxes = [line for line in again.splitlines() if "rampbot:resume" in line]
    assert boxes[0].startswith("- [x] Resume globex (receipts)")
    assert boxes[1].startswith("- [ ] Resume acme (receipts)")


@pytest.mark.parametrize(
    "line",
    [
        "- [x] Resume acme <!-- rampbot:resume acme -->",  # one name
        "- [x] Resume acme <!-- rampbot:resume receipts acme extra -->",
        "- [x] Resume acme <!-- rampbot:resume receipts ac/me -->",  # not a flags.json name
        "- [x] Resume acme <!-- rampbot:resume receipts -acme -->",
        f"- [x] Resume a <!-- rampbot:resume receipts {'a' * 201} -->",
        "- [x] Stop all step-ups <!-- rampbot:stop receipts -->",  # a switch takes no names
        "- [?] Resume acme <!-- rampbot:resume receipts acme -->",
    ],
)
def test_a_malformed_resume_box_is_noted_and_resumes_nothing(line: str) -> None:
    switches = read_switches(f"{MARKER}\n{line}\n")
    assert switches.resume == frozenset()
    assert switches.stop is False
    assert len(switches.notes) == 1
    assert switches.notes[0].startswith("line 2 ignored: ")
    assert switches.notes[0].endswith(" is not a box rampbot reads")


def test_a_ticked_tenant_that_breaches_again_keeps_its_tick_until_it_is_only_held():
    plan = Plan(
        decisions=(Decision("acme", "receipts", 10, 5, Action.DOWN, Kind.BREACH),),
        evaluated_at=NOW,
        window="30m",
    )
    view = DashboardView(
        resume=frozenset({("receipts", "acme"), ("receipts", "gone")}),
        held=frozenset({("receipts", "acme")}),
    )
    body = render_dashboard(plan, view)
    assert (
        "- [x] Resume acme (receipts): not resumed while it is down "
        "<!-- rampbot:resume receipts acme -->" in body
    )
    # A tick on a tenant whose marker is gone (its resume merged) is dropped.
    assert "rampbot:resume receipts gone" not in body


def test_only_the_first_resume_boxes_are_written_ticked_ones_first():
    decisions = tuple(
        Decision(f"t{n:03d}", "receipts", 5, 5, Action.HOLD, Kind.HELD, note="rolled back")
        for n in range(50)
    )
    plan = Plan(decisions=decisions, evaluated_at=NOW, window="30m")
    body = render_dashboard(plan, DashboardView(resume=frozenset({("receipts", "t042")})))
    boxes = [line for line in body.splitlines() if "rampbot:resume" in line]
    assert len(boxes) == 20
    assert boxes[0].startswith("- [x] Resume t042 ")
    assert "- …and 30 more held tenants: delete their `hold` markers" in body


HELD_FLAGS = """\
{
  "version": "flags-v1",
  "features": {
    "receipts": {
      "pct": 0,
      "cohorts": ["A", "B", "C"],
      "tenants": {
        "acme": {"pct": 10},
        "globex": {"pct": 5, "hold": "rolled back from 10% (divergence > 0)"},
        "initech": {"pct": 25}
      }
    },
    "attest": {
      "pct": 5,
      "tenants": {
        "umbrella": {"pct": 0, "paused": true}
      }
    }
  }
}
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_ticked_resume_box_deletes_the_hold_marker_in_the_ramp_pull_request(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
    newline: str,
) -> None:
    held = HELD_FLAGS.replace("\n", newline)
    github_origin.commit_files("main", {"flags.json": held}, message="globex rolled back")
    health = write_health(tmp_path / "health.json")
    assert run_with(github_env, health)[0] == 0
    [issue] = github_double.issues()
    assert issue.body is not None
    box = "- [ ] Resume globex (receipts): rolled back from 10% (divergence &gt; 0)"
    assert box in issue.body, issue.body
    before = github_origin.show_file("refs/heads/rampbot/ramp", "flags.json") or ""
    assert '"hold"' in before  # not before the box is ticked

    github_double.edit_issue(issue.number, body=issue.body.replace(box, box.replace("[ ]", "[x]")))
    assert run_with(github_env, health, now=later(hours=1, minutes=5))[0] == 0
    [pull] = open_pulls(github_double)
    text = github_origin.show_file(f"refs/heads/{pull.head}", "flags.json") or ""
    assert json.loads(text)["features"]["receipts"]["tenants"]["globex"] == {"pct": 5}
    # The same steps as before the tick; only the marker went from the globex line.
    diff = [
        (old, new)
        for old, new in zip(before.splitlines(), text.splitlines(), strict=True)
        if old != new
    ]
    assert diff == [
        (
            '        "globex": {"pct": 5, "hold": "rolled back from 10% (divergence > 0)"},',
            '        "globex": {"pct": 5},',
        )
    ]
    assert text.count("\r\n") == (text.count("\n") if newline == "\r\n" else 0)
    assert "Resume" in pull.title or "resume" in pull.title
    [issue] = github_double.issues()
    assert issue.body is not None
    assert "- [x] Resume globex (receipts)" in issue.body
    assert "- **resumed** (1): globex (receipts)" in issue.body
