"""bot/jsontext.py: members deleted from JSON text with the rest of the text as it was."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jsontext import JsonEditor, Span

keys = st.text(alphabet='abz_-é"\\', min_size=1, max_size=5)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.text(alphabet='ab é✓"\\{},:', max_size=6),
    st.lists(st.integers(0, 9), max_size=3),
)
objects = st.recursive(
    st.dictionaries(keys, scalars, max_size=4),
    lambda children: st.dictionaries(keys, st.one_of(scalars, children), max_size=4),
    max_leaves=12,
).filter(bool)

# How json.dumps writes a file, as keyword arguments.
DUMPS_LAYOUTS = [
    {"indent": 2},
    {"indent": 4, "ensure_ascii": False},
    {"indent": "\t"},
    {},
    {"separators": (",", ":")},
]


def hand_written(value: Any, depth: int = 0) -> str:
    """Objects one member a line down to depth 2, inline below, as people write flags.json."""
    if not isinstance(value, dict) or not value:
        return json.dumps(value)
    if depth >= 2:
        return (
            "{"
            + ", ".join(f"{json.dumps(k)}: {hand_written(v, depth)}" for k, v in value.items())
            + "}"
        )
    inner = "    " * (depth + 1)
    members = ",\n".join(
        f"{inner}{json.dumps(k)}:  {hand_written(v, depth + 1)}" for k, v in value.items()
    )
    return "{\n" + members + "\n" + "    " * depth + "}"


def object_paths(value: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every member of every object in ``value``."""
    found = []
    for key, child in value.items():
        found.append((*path, key))
        if isinstance(child, dict):
            found.extend(object_paths(child, (*path, key)))
    return found


def without(value: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def removed(text: str, path: tuple[str, ...]) -> str:
    editor = JsonEditor(text)
    parent: Span = editor.root
    for key in path[:-1]:
        assert parent.members is not None
        parent = parent.members[key]
    editor.remove(parent, path[-1])
    return editor.result()


@st.composite
def documents_and_members(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    document = draw(objects)
    return document, draw(st.sampled_from(object_paths(document)))


@settings(max_examples=300, deadline=None)
@given(documents_and_members(), st.sampled_from(range(len(DUMPS_LAYOUTS))), st.booleans())
def test_a_member_removed_from_a_json_dumps_file_leaves_what_json_dumps_writes(
    case: tuple[dict[str, Any], tuple[str, ...]], layout: int, crlf: bool
) -> None:
    document, path = case
    options = DUMPS_LAYOUTS[layout]
    text = json.dumps(document, **options) + "\n"
    expected = json.dumps(without(document, path), **options) + "\n"
    if crlf:
        text, expected = text.replace("\n", "\r\n"), expected.replace("\n", "\r\n")
    result = removed(text, path)
    assert json.loads(result) == without(document, path)
    # The smallest diff: the file is what its own writer would write without the member.
    assert result == expected


@settings(max_examples=300, deadline=None)
@given(documents_and_members(), st.booleans())
def test_a_member_removed_from_a_hand_written_file_keeps_its_layout(
    case: tuple[dict[str, Any], tuple[str, ...]], crlf: bool
) -> None:
    document, path = case
    text = hand_written(document) + "\n"
    expected = hand_written(without(document, path)) + "\n"
    if crlf:
        text, expected = text.replace("\n", "\r\n"), expected.replace("\n", "\r\n")
    result = removed(text, path)
    assert json.loads(result) == without(document, path)
    assert result == expected


def test_a_member_removed_in_each_position_of_an_object():
    text = '{\n  "a": 1,\n  "b": {"x": 1, "y": 2},\n  "c": 3\n}\n'
    assert removed(text, ("a",)) == '{\n  "b": {"x": 1, "y": 2},\n  "c": 3\n}\n'
    assert removed(text, ("b",)) == '{\n  "a": 1,\n  "c": 3\n}\n'
    assert removed(text, ("c",)) == '{\n  "a": 1,\n  "b": {"x": 1, "y": 2}\n}\n'
    assert removed(text, ("b", "x")) == '{\n  "a": 1,\n  "b": {"y": 2},\n  "c": 3\n}\n'
    assert removed(text, ("b", "y")) == '{\n  "a": 1,\n  "b": {"x": 1},\n  "c": 3\n}\n'
    assert removed('{"only": {"hold": "x"}}', ("only", "hold")) == '{"only": {}}'
