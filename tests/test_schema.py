"""bot/schema.py: the quick read of JSON with orjson against the stdlib's (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputErrors
from bot.schema import _NOT_QUICK, _quick_loads, parse_json

# Keys that repeat, hold colons, quotes, escapes and letters outside ASCII.
KEYS = st.sampled_from(["a", "b", "a:b", ":", 'x"y', "é", "\\", "t:1", "\u2028", "😀"])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=':"\\ab\u00e9\x01\u2028', max_size=6),
)
NODES = st.recursive(
    LEAVES.map(lambda leaf: ("leaf", leaf)),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: ("array", items)),
        st.lists(st.tuples(KEYS, children), max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=12,
)


def written(node: tuple[str, Any], *, ensure_ascii: bool, spaced: bool) -> str:
    """JSON text for ``node``, keys repeated as drawn: what json.dumps cannot write."""
    kind, content = node
    if kind == "leaf":
        return json.dumps(content, ensure_ascii=ensure_ascii)
    gap = "\n  " if spaced else ""
    if kind == "array":
        inner = ("," + gap).join(
            written(n, ensure_ascii=ensure_ascii, spaced=spaced) for n in content
        )
        return f"[{gap}{inner}]"
    inner = ("," + gap).join(
        f"{json.dumps(key, ensure_ascii=ensure_ascii)}:{' ' if spaced else ''}"
        f"{written(value, ensure_ascii=ensure_ascii, spaced=spaced)}"
        for key, value in content
    )
    return f"{{{gap}{inner}}}"


def repeats_a_key(text: str) -> bool:
    repeated = False

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        repeated = repeated or len(dict(pairs)) != len(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=members)
    return repeated


@settings(max_examples=400, deadline=None)
@given(NODES, st.booleans(), st.booleans())
def test_the_quick_read_is_json_s_read_or_none_at_all(node, ensure_ascii, spaced):
    text = written(node, ensure_ascii=ensure_ascii, spaced=spaced)
    quick = _quick_loads(text)
    if quick is _NOT_QUICK:
        return
    assert not repeats_a_key(text)
    # repr tells 1 from 1.0 and -0.0 from 0.0, and shows the order of the keys.
    assert repr(quick) == repr(json.loads(text))


@pytest.mark.parametrize(
    ("text", "quick"),
    [
        ('{"a": 1, "b": {"c": [1.5, "x:y", null, true]}}', True),
        ('{"a": 1, "a": 2}', False),  # repeated
        ('{"a": "x:y", "a": "z"}', False),  # repeated, a colon in a string
        ('{"a": {"b": 1}, "c": {"b": 1, "b": 1}}', False),  # repeated deeper down
        ('{"a": 18446744073709551616}', False),  # past 64 bits: orjson reads a float
        ('{"a": -9223372036854775809}', False),
        # An escaped colon in the value kept makes up for the repeated key's colon.
        ('{"a": 1, "a": "\\u003a:"}', False),
        ('{"a": NaN}', False),  # json's extension, which orjson refuses
        ('{"a": 1e400}', False),
        ('{"a": 1,}', False),  # bad JSON: json words the error
    ],
)
def test_the_quick_read_leaves_to_json_what_orjson_reads_otherwise(text, quick):
    assert (_quick_loads(text) is not _NOT_QUICK) is quick


def test_a_repeated_key_is_still_reported_with_its_lines():
    text = '{\n  "version": "flags-v1",\n  "features": {},\n  "features": {}\n}\n'
    with pytest.raises(InputErrors) as raised:
        parse_json(text, source="flags.json", schema="flags.schema.json")
    assert str(raised.value) == (
        "flags.json: (top level): key 'features' appears 2 times (lines 3, 4); keep one"
    )
