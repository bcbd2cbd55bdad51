"""bot/files.py and `rampbot apply` on the file system: links, line endings, two writers, kills.

Two processes at once are real `rampbot apply` subprocesses. The test holds the lock they take
(an flock on the flags file's folder) until both wait for it, read from /proc/locks, so that
both have read and planned from the same file whatever the machine's speed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import EXIT_CONFLICT, EXIT_TERMINATED, ConflictError
from bot.files import read_text, write_atomically
from bot.flags import FlagChange, apply_changes, parse_flags, set_revision

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    shutil.copytree(DEMO, folder)
    return folder


def apply(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["-C", str(folder), "apply", "--health", "health.json"], environ={})
    return code, capsys.readouterr().err


# 14. A symbolic link is written through.


def test_a_linked_flags_file_is_written_through_to_its_target(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo / "config").mkdir()
    (demo / "flags.json").rename(demo / "config" / "flags.json")
    (demo / "flags.json").symlink_to(Path("config") / "flags.json")
    before = (demo / "config" / "flags.json").read_text()

    code, err = apply(demo, capsys)

    assert (code, err) == (0, "wrote flags.json (revision 1)\n")
    assert (demo / "flags.json").is_symlink()
    assert os.readlink(demo / "flags.json") == str(Path("config") / "flags.json")
    after = (demo / "config" / "flags.json").read_text()
    assert after != before
    assert parse_flags(after, source="flags.json").revision == 1
    names = {p.name for p in DEMO.iterdir()} | {"config"}
    assert {p.name for p in demo.iterdir()} == names  # no temporary file left beside it


# 15. CRLF stays CRLF.


def test_a_crlf_file_keeps_crlf_on_every_line(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lf = demo.parent / "lf"
    shutil.copytree(demo, lf)
    flags = demo / "flags.json"
    flags.write_bytes(flags.read_bytes().replace(b"\n", b"\r\n"))

    assert apply(demo, capsys)[0] == 0
    assert apply(lf, capsys)[0] == 0

    # The same edit as the LF file's (rollback hold markers inserted included), in CRLF.
    written = flags.read_bytes()
    assert written == (lf / "flags.json").read_bytes().replace(b"\n", b"\r\n")
    assert written.count(b"\n") == written.count(b"\r\n")


@pytest.mark.parametrize(
    "changes",
    [
        [FlagChange("receipts", "acme", 25)],
        [FlagChange("receipts", "initech", 10, hold="rolled back from 25%")],
        [FlagChange("receipts", "hooli", 5)],  # a new tenant: a new line
    ],
    ids=["step", "hold-marker", "new-tenant"],
)
def test_edits_of_a_crlf_file_are_the_lf_edits_in_crlf(changes: list[FlagChange]) -> None:
    lf_text = (DEMO / "flags.json").read_text()
    crlf_text = lf_text.replace("\n", "\r\n")
    lf = apply_changes(parse_flags(lf_text, source="f"), changes).text
    crlf = apply_changes(parse_flags(crlf_text, source="f"), changes).text
    assert crlf == lf.replace("\n", "\r\n")
    assert set_revision(crlf_text, 7) == set_revision(lf_text, 7).replace("\n", "\r\n")


def test_a_file_with_mixed_endings_is_edited_where_it_changes_only() -> None:
    text = (DEMO / "flags.json").read_text().replace("\n", "\r\n", 3)
    edited = apply_changes(parse_flags(text, source="f"), [FlagChange("receipts", "acme", 25)]).text
    assert edited.count("\r\n") == 3


def test_read_text_keeps_the_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'{\r\n"a": 1\r\n}\r\n')
    assert read_text(path, what="file", hint="") == '{\r\n"a": 1\r\n}\r\n'


# 16. Two writers: the second one fails, nothing is lost.


def test_a_write_planned_from_an_older_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("new\n")
    with pytest.raises(ConflictError) as raised:
        write_atomically(path, "mine\n", expected="old\n")
    assert raised.value.message == (
        f"{path}: changed since rampbot read it (another rampbot apply, or an editor); "
        "nothing written. Run the command again to plan from what it holds now"
    )
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def wait_until_blocked(pids: list[int], *, processes: list[subprocess.Popen[str]]) -> None:
    """Until every one of ``pids`` waits for a lock (`->` lines of /proc/locks)."""
    deadline = time.monotonic() + 60  # a bound on a hung run, not a timing being measured
    while time.monotonic() < deadline:
        waiting = {
            int(line.split()[5])
            for line in Path("/proc/locks").read_text().splitlines()
            if " -> " in line
        }
        if set(pids) <= waiting:
            return
        if any(process.poll() is not None for process in processes):
            outputs = [process.communicate() for process in processes]
            pytest.fail(f"a rampbot ended before taking the lock: {outputs}")
        time.sleep(0.02)
    pytest.fail("the rampbot processes never waited for the lock")


def start_apply(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "apply", "--health", "health.json"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_two_applies_at_once_one_writes_the_other_fails(demo: Path) -> None:
    single = demo.parent / "single"
    shutil.copytree(demo, single)
    assert (
        subprocess.run(
            [sys.executable, "-m", "bot", "apply", "--health", "health.json"],
            cwd=single,
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )

    with folder_lock(demo):
        processes = [start_apply(demo), start_apply(demo)]
        wait_until_blocked([p.pid for p in processes], processes=processes)
    results = sorted((p.wait(timeout=60), (p.stderr.read() if p.stderr else "")) for p in processes)
    for process in processes:
        assert process.stderr is not None
        process.stderr.close()

    assert results == [
        (0, "wrote flags.json (revision 1)\n"),
        (
            EXIT_CONFLICT,
            "flags.json: changed since rampbot read it (another rampbot apply, or an editor); "
            "nothing written. Run the command again to plan from what it holds now\n",
        ),
    ]
    # One step, as one apply alone makes it: nothing lost, nothing applied twice.
    assert (demo / "flags.json").read_bytes() == (single / "flags.json").read_bytes()


# 17. A killed write leaves no temporary file behind.


def test_temporary_files_of_a_killed_writer_are_removed(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = [demo / ".flags.json.k1ll3d.tmp", demo / ".flags.json.0ther.tmp"]
    for path in stale:
        path.write_text('{"half": ')
    other = demo / ".health.json.x.tmp"  # another file's: not flags.json's to remove
    other.write_text("")
    # Reading ignores them; the next write removes them.
    assert main(["-C", str(demo), "validate"], environ={}) == 0
    assert all(path.exists() for path in stale)
    assert apply(demo, capsys)[0] == 0
    assert not any(path.exists() for path in stale)
    assert other.exists()


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_terminated_apply_writes_nothing_and_leaves_nothing(demo: Path) -> None:
    before = {p.name: p.read_bytes() for p in demo.iterdir() if p.is_file()}
    with folder_lock(demo):
        process = start_apply(demo)
        wait_until_blocked([process.pid], processes=[process])
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (EXIT_TERMINATED, "")
    assert {p.name: p.read_bytes() for p in demo.iterdir() if p.is_file()} == before
