"""bot/plan_text.py: the plan as plain text for a terminal, and rampbot plan printing it."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.plan_text import CHANGES_SHOWN, plan_to_text
from tests.test_cli import BEFORE_THE_SNAPSHOT
from tests.test_markdown import HOSTILE
from tests.test_render import GREEN, POLICY, make_plan, realistic_plan

GOLDEN = Path(__file__).parent / "data" / "golden" / "plan_text.txt"
GOLDEN_ALL = Path(__file__).parent / "data" / "golden" / "plan_text_all.txt"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "demo"
ESCAPE = "\x1b"


@pytest.mark.parametrize(("golden", "every"), [(GOLDEN, False), (GOLDEN_ALL, True)])
def test_golden_terminal_plan(golden: Path, every: bool) -> None:
    text = plan_to_text(realistic_plan(), every=every)
    if os.environ.get("RAMPBOT_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"the terminal plan changed; review it, then RAMPBOT_UPDATE_GOLDEN=1 python -m pytest "
        f"tests/test_plan_text.py rewrites {golden.name}"
    )


def test_plain_text_has_no_markdown_and_counts_holds_by_reason() -> None:
    text = plan_to_text(realistic_plan())
    for markdown in ("&gt;", "\\_", "| ---", "**", "<details>", "###"):
        assert markdown not in text
    holds = next(line for line in text.splitlines() if line.startswith("Holds"))
    assert holds == (
        "Holds (15): 9 baking, 2 at the minimum, 2 paused, 1 no data (anchor_p95_ms), "
        "1 at the maximum"
    )
    assert ESCAPE not in text


def test_the_changes_table_is_aligned_and_shows_measured_values() -> None:
    lines = plan_to_text(realistic_plan()).splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Changes")))
    table = lines[start + 1 : lines.index("", start)]
    header = table[0]
    for column in ("coverage >= 95", "divergence <= 0", "why"):
        offset = header.index(column)
        assert all(len(row) <= offset or row[offset - 2 : offset] == "  " for row in table)
    initech = next(row for row in table if " initech " in row and "receipts" in row)
    assert "25% → 10%" in initech
    assert "4 ✗ critical" in initech
    assert "alert ReceiptsDivergence" in initech


def test_ten_thousand_tenants_by_ten_features_fit_in_a_few_hundred_lines() -> None:
    features = "".join(
        f"  feature-{index}:\n    steps: [1, 5, 10, 25, 50, 100]\n" for index in range(10)
    )
    policy_text = POLICY.split("features:")[0] + "features:\n" + features
    health: dict[str, dict[str, float | None]] = {}
    for index in range(10_000):
        values: dict[str, float | None] = dict(GREEN)
        if index % 50 == 7:
            values["coverage"] = 91.0
        if index % 97 == 3:
            values["anchor_p95_ms"] = None
        health[f"tenant-{index:05d}"] = values
    plan = make_plan(health, policy_text=policy_text, baking=frozenset(list(health)[:4000]))
    assert len(plan.decisions) == 100_000
    text = plan_to_text(plan)
    lines = text.splitlines()
    assert len(lines) < 300
    assert len(text) < 100_000
    assert f"… and {len(plan.changes) - CHANGES_SHOWN:,} more changes" in text
    holds = next(line for line in lines if line.startswith("Holds"))
    assert holds == "Holds (39,810): 38,790 baking, 1,020 no data (anchor_p95_ms)"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_reach_the_terminal_escaped(value: str) -> None:
    policy = POLICY.replace("  ledger:\n    step_up: 10\n    max: 50\n", "")
    plan = make_plan({value: GREEN, "acme": {**GREEN, "coverage": 1.0}}, policy_text=policy)
    for every in (False, True):
        text = plan_to_text(plan, every=every, colour=True)
        controls = {char for char in text if ord(char) < 0x20 and char not in "\n\x1b"}
        assert not controls
        # the only escape sequences are the colours
        assert all(part[:1] == "[" for part in text.split(ESCAPE)[1:])


def test_colour_marks_actions_and_breaches_only_when_asked() -> None:
    plain = plan_to_text(realistic_plan())
    coloured = plan_to_text(realistic_plan(), colour=True)
    assert ESCAPE not in plain
    assert "\x1b[31mrollback\x1b[0m" in coloured
    assert "\x1b[31m93.1 ✗\x1b[0m" in coloured
    # without the colour codes, the same text
    assert _uncoloured(coloured) == plain


def _uncoloured(text: str) -> str:
    return re.sub("\x1b\\[[0-9;]*m", "", text)


# --- rampbot plan in a terminal, in a pipe ---------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "repo")
    os.utime(tmp_path / "repo" / "flags.json", (BEFORE_THE_SNAPSHOT, BEFORE_THE_SNAPSHOT))
    return tmp_path / "repo"


def _in_a_terminal(repo: Path, *args: str, environ: dict[str, str]) -> str:
    """What rampbot prints to a pseudo-terminal."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "-C", str(repo), *args],
        stdout=child,
        stderr=subprocess.DEVNULL,
        env={**environ, "PATH": os.environ["PATH"], "COLUMNS": "200"},
    )
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0
    return output.decode().replace("\r\n", "\n")


def test_colour_in_a_terminal_and_not_with_no_color(repo: Path) -> None:
    args = ("plan", "--health", "health.json")
    assert "\x1b[31mrollback\x1b[0m" in _in_a_terminal(repo, *args, environ={})
    plain = _in_a_terminal(repo, *args, environ={"NO_COLOR": "1"})
    assert ESCAPE not in plain
    assert "Changes (6)" in plain
    piped = subprocess.run(
        [sys.executable, "-m", "bot", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert piped == plain


def test_plan_prints_text_markdown_and_json_on_request(repo: Path, capsys) -> None:
    from bot.cli import main

    assert main(["-C", str(repo), "plan", "--health", "health.json"], environ={}) == 0
    text = capsys.readouterr().out
    assert text.startswith("rampbot plan: 2 rollback, 2 down, 2 up, 2 hold\n")
    assert "Holds (2): 1 no data (anchor_p95_ms), 1 paused" in text
    assert main(["-C", str(repo), "plan", "--health", "health.json", "--all"], environ={}) == 0
    assert "All 8 decisions" in capsys.readouterr().out
    args = ["-C", str(repo), "plan", "--health", "health.json", "--format", "markdown"]
    assert main(args, environ={}) == 0
    assert capsys.readouterr().out.startswith("## ")
