"""No input file of up to MAX_BYTES bytes makes validate or plan exit 70 (issue 9).

Exit 70 means a bug in rampbot; whatever the policy, flags file or health snapshot holds, the
answer is a decision (0) or a message about the input (1). The files are the demo's, damaged:
bytes inserted, deleted and replaced, with the characters JSON and YAML give meaning to.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"
FILES = (".github/rampbot.yml", "flags.json", "health.json")
MAX_BYTES = 4096
# The characters that structure JSON and YAML, digits and signs, and a few that are not text.
MEANINGFUL = [*b"{}[]:,\"'\\ \n\t-+0123456789.eEINaf&*!|>?#%@`", 0, 0x80, 0xFF]
# Whole inputs that once ended in exit 70: deep nesting, long integers, an alias bomb, keys
# that are not text.
TRIGGERS = [
    b"?",
    b"\n? [a]\n",
    b"\n1: x\n",
    b"\ntrue: x\n",
    b"NaN",
    b"Infinity",
    b"-1e999",
    b"[" * 1200,
    b'{"a": ' * 1100,
    b"9" * 400,
    b"9" * 2000,
    b"&a [*a]",
    b"&a0 [x, x, x, x, x, x, x, x, x]"
    + b"".join(
        b", &a%d [" % level + b", ".join([b"*a%d" % (level - 1)] * 9) + b"]"
        for level in range(1, 8)
    ),
]


def damage(original: bytes) -> st.SearchStrategy[bytes]:
    """``original`` with up to four spans replaced by short runs of meaningful bytes."""
    edit = st.tuples(
        st.integers(0, len(original)),
        st.integers(0, 40),
        st.lists(st.sampled_from(MEANINGFUL), max_size=40).map(bytes) | st.sampled_from(TRIGGERS),
    )

    def apply(edits: list[tuple[int, int, bytes]]) -> bytes:
        text = original
        for start, length, replacement in edits:
            start = min(start, len(text))
            text = text[:start] + replacement + text[start + length :]
        return text[:MAX_BYTES]

    return st.lists(edit, min_size=1, max_size=4).map(apply)


def planted(original: bytes) -> st.SearchStrategy[bytes]:
    """``original`` with one of the TRIGGERS put in at any place."""
    return st.tuples(st.integers(0, len(original)), st.sampled_from(TRIGGERS)).map(
        lambda where: (original[: where[0]] + where[1] + original[where[0] :])[:MAX_BYTES]
    )


ORIGINALS = {name: (EXAMPLE / name).read_bytes() for name in FILES}
DAMAGED = st.sampled_from(FILES).flatmap(
    lambda name: st.tuples(st.just(name), damage(ORIGINALS[name]) | st.binary(max_size=MAX_BYTES))
)
# Validation is the same for every command; only plan and its kin read a health snapshot.
COMMAND = {"health.json": ("plan", "--health", "health.json")}


def run(folder: Path, *argv: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(["-C", str(folder), *argv], environ={})


def answer(name: str, content: bytes) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "repo"
        shutil.copytree(EXAMPLE, folder)
        (folder / name).write_bytes(content)
        return run(folder, *COMMAND.get(name, ("validate",)))


@pytest.mark.parametrize("name", FILES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.data())
def test_no_planted_trigger_is_an_internal_error(name: str, content: st.DataObject) -> None:
    planted_content = content.draw(planted(ORIGINALS[name]))
    assert answer(name, planted_content) in (0, 1), planted_content


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged=DAMAGED)
def test_no_damaged_input_file_is_an_internal_error(damaged: tuple[str, bytes]) -> None:
    name, content = damaged
    assert answer(name, content) in (0, 1), (name, content)
