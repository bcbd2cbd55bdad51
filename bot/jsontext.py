"""Find where each value sits in JSON text, so an edit rewrites only the bytes that change.

Reviewers read the diff of flags.json, so rampbot never re-serialises the whole file: it
replaces the text of the values that change, inserts new members in the style of their
neighbours and deletes members with their separators. Key order, indentation, inline arrays and
the trailing newline stay as they were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# One value from a position, through the public raw_decode (the C scanner underneath).
_scan_value = json.JSONDecoder().raw_decode


@dataclass(slots=True)
class Span:
    """Where one value sits: ``text[start:end]``; for objects, also where each member sits."""

    start: int
    end: int
    key_start: int = -1  # where this value's key begins, when it is an object member
    members: dict[str, Span] | None = None  # set for objects only
    close: int = -1  # index of an object's closing brace


def parse_spans(text: str) -> Span:
    """Return the span tree of a JSON document that ``json.loads`` already accepted."""
    start = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    return _value(text, start)


def _value(text: str, pos: int) -> Span:
    if text[pos] == "{":
        return _object(text, pos)
    # Arrays and scalars are never edited in place: the C scanner skips them whole.
    _, end = _scan_value(text, pos)
    return Span(pos, end)


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


# One match takes a member's key and its colon; one more takes the comma or closing brace. Flags
# files hold 100,000 members, so fewer steps per member is most of the speed.
_KEY = re.compile(r'[ \t\n\r]*"((?:[^"\\]|\\.)*)"[ \t\n\r]*:[ \t\n\r]*', re.DOTALL)
_AFTER_VALUE = re.compile(r"[ \t\n\r]*([,}])")


def _object(text: str, start: int) -> Span:
    members: dict[str, Span] = {}
    pos = _skip(text, start + 1)
    if text[pos] == "}":
        return Span(start, pos + 1, members=members, close=pos)
    while True:
        key_match = _KEY.match(text, pos)
        assert key_match is not None, "parse_spans takes only text that json.loads accepted"
        raw_key = key_match.group(1)
        key = json.loads(f'"{raw_key}"') if "\\" in raw_key else raw_key
        child = _value(text, key_match.end())
        child.key_start = key_match.start(1) - 1
        members[key] = child
        after = _AFTER_VALUE.match(text, child.end)
        assert after is not None
        if after.group(1) == "}":
            return Span(start, after.end(), members=members, close=after.end() - 1)
        pos = after.end()


def line_of(text: str, offset: int) -> int:
    """Return the 1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def line_at(text: str, path: Iterable[str | int]) -> int:
    """Return the line of the value at ``path`` (or of its deepest ancestor the text holds)."""
    return line_of(text, deepest_span(_spans_of(text), path).start)


@lru_cache(maxsize=4)
def _spans_of(text: str) -> Span:
    # One parse serves every error line of a file: 3,000 problems, not 3,000 parses.
    return parse_spans(text)


def indent_unit(text: str) -> str:
    """Return the indentation one level adds in this document (two spaces when unknown)."""
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


@dataclass
class TextEdit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass
class JsonEditor:
    """Collects edits against one JSON text and applies them in one pass."""

    text: str
    root: Span = field(init=False)
    edits: list[TextEdit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = parse_spans(self.text)

    def replace(self, span: Span, value: Any) -> None:
        """Replace the value at ``span`` with ``value``."""
        # str() of an int is what json.dumps writes, without its overhead (93,000 edits at scale).
        text = str(value) if type(value) is int else json.dumps(value)
        self.edits.append(TextEdit(span.start, span.end, text))

    def insert(self, parent: Span, members: dict[str, Any], *, after: str | None = None) -> None:
        """Add ``members`` to the object at ``parent``, laid out like their siblings.

        They go after member ``after`` when given (so "revision" sits next to "version"),
        else last.
        """
        assert parent.members is not None
        siblings = list(parent.members.values())
        anchor = parent.members.get(after) if after else (siblings[-1] if siblings else None)
        unit = indent_unit(self.text)
        if anchor is None:
            outer = self._line_indent(parent.start)
            inner = outer + unit
            text = ",".join(
                f"\n{inner}{json.dumps(key)}: {_dumps(value, indent=inner, unit=unit)}"
                for key, value in members.items()
            )
            self.edits.append(TextEdit(parent.start + 1, parent.close, f"{text}\n{outer}"))
            return
        between = self.text[self._line_start(anchor.key_start) : anchor.key_start]
        if between.strip():  # the siblings share one line: stay on it
            text = "".join(
                f", {json.dumps(key)}: {_dumps(value, indent='', unit='')}"
                for key, value in members.items()
            )
        else:
            # A sibling written on one line ({"pct": 5}) makes new values one line too.
            sibling = self.text[anchor.start : anchor.end]
            one_line = sibling[:1] in ("{", "[") and "\n" not in sibling
            text = "".join(
                f",\n{between}{json.dumps(key)}: "
                + _dumps(value, indent=between, unit="" if one_line else unit)
                for key, value in members.items()
            )
        self.edits.append(TextEdit(anchor.end, anchor.end, text))

    def remove(self, parent: Span, key: str) -> None:
        """Delete member ``key`` of the object at ``parent``, with its comma and its line.

        The member goes from the end of the one before it, or up to the start of the one after
        it when it is the first: what is left reads as ``json.dumps`` or a person wrote it.
        """
        assert parent.members is not None
        names = list(parent.members)
        at = names.index(key)
        member = parent.members[key]
        if at > 0:
            start, end = parent.members[names[at - 1]].end, member.end
        elif len(names) > 1:
            start, end = member.key_start, parent.members[names[1]].key_start
        else:  # the only member: an empty object, "{}" as json.dumps writes it
            start, end = parent.start + 1, parent.close
        self.edits.append(TextEdit(start, end, ""))

    def replace_member(self, parent: Span, old: str, *, key: str, value: Any) -> None:
        """Put member ``key`` with ``value`` where member ``old`` is, with the same colon."""
        assert parent.members is not None
        member = parent.members[old]
        name = _KEY.match(self.text, member.key_start)
        assert name is not None
        colon = self.text[name.end(1) + 1 : member.start]
        self.edits.append(
            TextEdit(member.key_start, member.end, f"{json.dumps(key)}{colon}{json.dumps(value)}")
        )

    def result(self) -> str:
        """Return the text with every edit applied."""
        pieces: list[str] = []
        position = 0
        for edit in sorted(self.edits, key=lambda edit: (edit.start, edit.end)):
            pieces.append(self.text[position : edit.start])
            pieces.append(edit.replacement)
            position = edit.end
        pieces.append(self.text[position:])
        return "".join(pieces)

    def _line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def _line_indent(self, offset: int) -> str:
        line = self.text[self._line_start(offset) : offset]
        return line[: len(line) - len(line.lstrip())]


def _dumps(value: Any, *, indent: str, unit: str) -> str:
    if not unit or not isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return json.dumps(value, indent=unit).replace("\n", "\n" + indent)


def deepest_span(root: Span, path: Iterable[str | int]) -> Span:
    """Return the span at a path of keys, or of its deepest ancestor that the tree holds."""
    span = root
    for key in path:
        child = span.members.get(key) if span.members is not None and isinstance(key, str) else None
        if child is None:
            break
        span = child
    return span
