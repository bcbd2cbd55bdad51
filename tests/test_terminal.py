"""bot/terminal.py: control characters shown escaped; no line a runner would obey."""

from __future__ import annotations

import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.terminal import (
    EscapingStream,
    _no_commands,
    printable,
    printable_json,
    printable_lines,
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("acme", "acme"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # ANSI colour
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: set the terminal's title
        ("\x1b]8;;http://x\x1b\\link", "\\x1b]8;;http://x\\x1b\\link"),  # OSC 8 hyperlink
        ("abc\u202edef\u2066\u200f", "abc\\u202edef\\u2066\\u200f"),  # bidi override, isolate, mark
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),  # NUL, DEL, C1 NEL and CSI
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # line and paragraph separators
        ("::error::x", "\\x3a:error::x"),  # a workflow command at the start of a line
        ("  ::warning::x", "  \\x3a:warning::x"),  # the runner ignores leading blanks
        ("x ##[error]y", "x #\\u0023[error]y"),  # the older form, anywhere in a line
        ("café ü 東京 ▁▂█", "café ü 東京 ▁▂█"),  # printable non-ASCII stays
    ],
)
def test_printable_escapes_what_a_terminal_or_runner_would_obey(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_newline_cannot_start_a_workflow_command() -> None:
    assert printable("nofile\n::error title=PWNED::x") == "nofile\\n::error title=PWNED::x"
    assert printable_lines("ok\n::error::x\n  ::set-output::y") == (
        "ok\n\\x3a:error::x\n  \\x3a:set-output::y"
    )


def test_the_stream_carries_line_starts_across_writes() -> None:
    out = io.StringIO()
    stream = EscapingStream(out)
    print("a:", ":b", file=stream)  # a colon inside a line stays
    print("::error::x", file=stream)  # print writes the text, then the newline
    print("  ", end="", file=stream)
    print("::notice::y", file=stream)
    print("tenant \x1b[2Jgone\n", end="", file=stream)
    assert out.getvalue() == ("a: :b\n\\x3a:error::x\n  \\x3a:notice::y\ntenant \\x1b[2Jgone\n")


def _no_commands_by_lookbehind(text: str, *, line_start: bool) -> str:
    """The colon escape as first written, with a lookbehind: the slow path of issue 14."""

    def escape(match: re.Match[str]) -> str:
        return f"{match.group(1)}\\x3a"

    if line_start:
        text = re.sub(r"^([ \t]*):", escape, text)
    text = re.sub(r"(?<=\n)([ \t]*):", escape, text)
    return text.replace("##[", "#\\u0023[")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="\n \t:a#[", max_size=30), st.booleans())
def test_the_colon_escape_is_the_lookbehind_s(text, line_start):
    assert _no_commands(text, line_start=line_start) == _no_commands_by_lookbehind(
        text, line_start=line_start
    )


json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet="\x7f\x1b\n\t:#[ a\u202e\u2028é", max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet=":#[\x7f\n a", max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(json_documents, st.sampled_from([2, 4]))
def test_json_text_is_escaped_as_every_printed_line_is(document, indent):
    # --format json writes its pieces past the escaping stream, through printable_json.
    text = json.dumps(document, indent=indent)
    assert printable_json(text) == printable_lines(text)
    stream = io.StringIO()
    EscapingStream(stream).write(text)
    assert printable_json(text) == stream.getvalue()
