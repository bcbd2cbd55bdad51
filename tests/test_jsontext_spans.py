"""bot/jsontext.py with plain values: where each value sits in JSON text, and edits that change
only the bytes they must."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.jsontext import (
    JsonEditor,
    Span,
    deepest_span,
    indent_unit,
    line_at,
    line_of,
    parse_spans,
)

FLAGS = """\
{
    "version": "flags-v1",
    "features": {
        "receipts": {
            "pct": 5,
            "cohorts": ["A", "B"],
            "tenants": {
                "acme": {"pct": 10},
                "globex": {
                    "pct": 25
                }
            }
        },
        "attest": {"pct": 0, "tenants": {}}
    }
}
"""

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | keys
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
layouts = st.sampled_from(
    [
        {},
        {"indent": 2},
        {"indent": "\t"},
        {"separators": (",", ":")},
        {"indent": 4, "ensure_ascii": False},
        {"separators": (" , ", " : "), "ensure_ascii": False},
    ]
)


def check_spans(text: str, span: Span, value: Any) -> None:
    """Every span holds the text of its value; every member's key sits where it says."""
    assert json.loads(text[span.start : span.end]) == value
    if not isinstance(value, dict):
        assert span.members is None
        return
    assert span.members is not None
    assert list(span.members) == list(value)
    assert text[span.close] == "}"
    assert span.end == span.close + 1
    for key, member in span.members.items():
        assert json.JSONDecoder().raw_decode(text, member.key_start)[0] == key
        check_spans(text, member, value[key])


@given(document=documents, layout=layouts, before=st.sampled_from(["", " ", "\n\t "]))
def test_every_span_holds_its_value(document: Any, layout: dict[str, Any], before: str) -> None:
    text = before + json.dumps(document, **layout) + "\n"
    check_spans(text, parse_spans(text), document)


def test_escaped_keys_are_read_as_json_reads_them() -> None:
    text = r'{"a\"b": 1, "\u00e9t\u00e9": {"x\\y": [1, {"z": 2}]}}'
    root = parse_spans(text)
    assert root.members is not None
    assert list(root.members) == ['a"b', "été"]
    summer = root.members["été"].members
    assert summer is not None
    assert list(summer) == ["x\\y"]
    # Arrays are skipped whole: their objects are never edited in place.
    assert summer["x\\y"].members is None


def test_line_of_counts_from_one() -> None:
    assert [line_of("a\nb\nc", offset) for offset in (0, 1, 2, 4)] == [1, 1, 2, 3]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ([], 1),
        (["version"], 2),
        (["features", "receipts", "tenants", "acme", "pct"], 8),
        (["features", "receipts", "tenants", "globex", "pct"], 10),
        (["features", "attest", "tenants"], 14),
        # What the text does not hold: the line of its deepest ancestor that it does.
        (["features", "receipts", "tenants", "initech", "pct"], 7),
        (["features", "receipts", "cohorts", 1], 6),
        (["nothing"], 1),
    ],
)
def test_line_at_names_the_line_of_a_path(path: list[str | int], line: int) -> None:
    assert line_at(FLAGS, path) == line


def test_deepest_span_stops_at_what_is_not_an_object() -> None:
    root = parse_spans(FLAGS)
    cohorts = deepest_span(root, ["features", "receipts", "cohorts"])
    assert FLAGS[cohorts.start : cohorts.end] == '["A", "B"]'
    assert deepest_span(root, ["features", "receipts", "cohorts", 0]) is cohorts
    assert deepest_span(root, ["version", "deeper"]) is deepest_span(root, ["version"])


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        (FLAGS, "    "),
        ('{\n  "a": 1\n}', "  "),
        ('{\n\t"a": 1\n}', "\t"),
        ('{"a": 1}', "  "),  # one line: two spaces when a new line is needed
    ],
)
def test_indent_unit(text: str, unit: str) -> None:
    assert indent_unit(text) == unit


def member(root: Span, *path: str) -> Span:
    span = deepest_span(root, path)
    assert span.key_start >= 0 or not path, path
    return span


def test_replace_changes_only_the_value() -> None:
    editor = JsonEditor(FLAGS)
    editor.replace(member(editor.root, "features", "receipts", "tenants", "acme", "pct"), 25)
    editor.replace(member(editor.root, "version"), "flags-v2")
    editor.replace(member(editor.root, "features", "receipts", "cohorts"), ["A", "B", "C"])
    assert editor.result() == (
        FLAGS.replace('"acme": {"pct": 10}', '"acme": {"pct": 25}')
        .replace('"flags-v1"', '"flags-v2"')
        .replace('["A", "B"]', '["A", "B", "C"]')
    )


def test_no_edit_gives_the_text_back() -> None:
    assert JsonEditor(FLAGS).result() == FLAGS


def test_insert_follows_siblings_on_their_own_lines() -> None:
    editor = JsonEditor(FLAGS)
    tenants = member(editor.root, "features", "receipts", "tenants")
    editor.insert(tenants, {"initech": {"pct": 1, "hold": "rollback"}})
    editor.insert(member(editor.root), {"revision": 3}, after="version")
    assert editor.result() == FLAGS.replace(
        '"flags-v1",\n', '"flags-v1",\n    "revision": 3,\n'
    ).replace(
        '                    "pct": 25\n                }\n',
        '                    "pct": 25\n                },\n'
        '                "initech": {\n'
        '                    "pct": 1,\n'
        '                    "hold": "rollback"\n'
        "                }\n",
    )
    json.loads(editor.result())


def test_insert_after_a_one_line_sibling_writes_one_line() -> None:
    text = '{\n  "tenants": {\n    "acme": {"pct": 10}\n  }\n}\n'
    editor = JsonEditor(text)
    editor.insert(member(editor.root, "tenants"), {"globex": {"pct": 5, "paused": True}})
    assert editor.result() == (
        '{\n  "tenants": {\n    "acme": {"pct": 10},\n'
        '    "globex": {"pct": 5, "paused": true}\n  }\n}\n'
    )


def test_insert_beside_siblings_on_one_line_stays_on_it() -> None:
    editor = JsonEditor(FLAGS)
    acme = member(editor.root, "features", "receipts", "tenants", "acme")
    editor.insert(acme, {"hold": "rollback", "paused": False})
    assert editor.result() == FLAGS.replace(
        '"acme": {"pct": 10}', '"acme": {"pct": 10, "hold": "rollback", "paused": false}'
    )


def test_insert_into_an_empty_object_opens_it_on_new_lines() -> None:
    editor = JsonEditor(FLAGS)
    editor.insert(member(editor.root, "features", "attest", "tenants"), {"acme": {"pct": 10}})
    assert editor.result() == FLAGS.replace(
        '"attest": {"pct": 0, "tenants": {}}',
        '"attest": {"pct": 0, "tenants": {\n'
        '            "acme": {\n'
        '                "pct": 10\n'
        "            }\n"
        "        }}",
    )


def test_edits_apply_in_text_order_whatever_order_they_came_in() -> None:
    text = '{"a": 1, "b": 2, "c": 3}'
    editor = JsonEditor(text)
    for key, value in (("c", 30), ("a", 10), ("b", 20)):
        editor.replace(member(editor.root, key), value)
    assert editor.result() == '{"a": 10, "b": 20, "c": 30}'


@given(document=st.dictionaries(keys, documents, min_size=1, max_size=5), layout=layouts)
def test_replacing_every_member_gives_the_edited_document(
    document: dict[str, Any], layout: dict[str, Any]
) -> None:
    text = json.dumps(document, **layout)
    editor = JsonEditor(text)
    assert editor.root.members is not None
    for key, span in editor.root.members.items():
        editor.replace(span, [document[key]])
    assert json.loads(editor.result()) == {key: [value] for key, value in document.items()}
