"""Text fit for a terminal or a CI log: control characters shown escaped, never obeyed.

A tenant name, an author name or a policy value can hold a newline, an ANSI or OSC escape, or
a bidi override: printed raw, it moves the cursor, retitles the terminal, reorders what the
reader sees, or starts a line that GitHub Actions runs as a workflow command
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands). Every
line rampbot prints goes through here; the workflow commands rampbot means to send are built
by bot/actions.py and written past this filter. This is not redaction (bot/redact.py hides
personal data): escaping keeps every character, made visible.
"""

from __future__ import annotations

import re
from typing import TextIO

# Unicode's bidirectional formatting characters (UAX #9, "Explicit Directional Embeddings,
# Overrides and Isolates", and the implicit marks): they reorder the text shown around them.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The runner reads `::command::` at the start of a line (after blanks) and the older
# `##[command]` anywhere in it.
_COMMAND_START = re.compile(r"^([ \t]*):")
_COMMAND_AFTER_NEWLINE = re.compile(r"\n([ \t]*):")
_OLD_COMMAND = "##["
# Unicode's Cc category (C0, DEL, C1; fixed by the standard) and the line and paragraph
# separators (Zl, Zp), which end a line as a newline does.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]


def _escaped(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE = {code: _escaped(chr(code)) for code in [*_CONTROLS, *map(ord, _BIDI)]}
_TABLE_KEEP_LINES = {code: text for code, text in _TABLE.items() if chr(code) not in "\n\t"}


def printable(text: str) -> str:
    """``text`` as one line: every control, separator and bidi character written as an escape."""
    return _no_commands(text.translate(_TABLE), line_start=True)


def printable_lines(text: str) -> str:
    """Like :func:`printable`, but newlines and tabs stay: for output of several lines."""
    return _no_commands(text.translate(_TABLE_KEEP_LINES), line_start=True)


def printable_json(text: str) -> str:
    """What :func:`printable_lines` makes of ``json.dumps(..., indent=...)`` text, faster.

    json.dumps escapes every control character but DEL and, with ensure_ascii, everything past
    ASCII; no line of its indented text starts with a colon. Only DEL and ``##[`` are left, and
    a 100 MB plan is not scanned for the rest (issue 14).
    """
    if not text.isascii():  # not what json.dumps writes: the whole treatment
        return printable_lines(text)
    if "\x7f" in text:
        text = text.translate(_TABLE_KEEP_LINES)
    if _COMMAND_START.match(text):  # not json.dumps' text either
        return printable_lines(text)
    return text.replace(_OLD_COMMAND, "#\\u0023[")


def _no_commands(text: str, *, line_start: bool) -> str:
    # A colon that starts a line is written \x3a, so no line reads as a workflow command.
    def escape(match: re.Match[str]) -> str:
        return f"{match.group(1)}\\x3a"

    def escape_after_newline(match: re.Match[str]) -> str:
        return f"\n{match.group(1)}\\x3a"

    if line_start:
        text = _COMMAND_START.sub(escape, text)
    # Searched first, then replaced where found: a pattern that starts with a newline is
    # found by a fast scan, and the lookbehind it replaces took a second to pass over the
    # 100 MB of a --format json plan at 10,000 tenants x 10 features (issue 14).
    if _COMMAND_AFTER_NEWLINE.search(text):
        text = _COMMAND_AFTER_NEWLINE.sub(escape_after_newline, text)
    # \u0023 rather than \x23: it is also a JSON escape, so a JSON document printed through
    # here stays valid and reads back the same text.
    return text.replace(_OLD_COMMAND, "#\\u0023[")


class OutputClosed(Exception):
    """The reader of rampbot's output went away (``| head``): a closed pipe, not a socket's."""


class EscapingStream:
    """A text stream that passes what is written to it through :func:`printable_lines`.

    ``print`` writes a line in pieces (the text, then the newline), so whether a piece starts a
    line is carried from one write to the next.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._line_start = True  # nothing but blanks written on the current line yet

    def write(self, text: str) -> int:
        escaped = _no_commands(text.translate(_TABLE_KEEP_LINES), line_start=self._line_start)
        last_line = escaped.rpartition("\n")[2]
        if "\n" in escaped:
            self._line_start = not last_line.strip(" \t")
        elif last_line.strip(" \t"):
            self._line_start = False
        try:
            self.stream.write(escaped)
        except BrokenPipeError:
            raise OutputClosed from None
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise OutputClosed from None

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)
