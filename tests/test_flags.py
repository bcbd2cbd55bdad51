from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ConflictError, InputErrors
from bot.flags import (
    FlagChange,
    TenantFlag,
    _canonical_layout,
    _edit_canonical,
    _edit_in_place,
    apply_changes,
    parse_flags,
    revision_after_revert,
    revision_of,
    set_revision,
    undo_in_flags,
    unpublishable_edit,
)

TODAY = '{"version": "flags-v1", "features": {"receipts": {"pct": 0, "cohorts": ["A", "B", "C"]}}}'

HAND_WRITTEN = """\
{
    "version": "flags-v1",
    "revision": 41,
    "features": {
        "receipts": {
            "pct": 5,
            "cohorts": ["A", "B", "C"],
            "tenants": {
                "acme": {"pct": 10},
                "globex": {"pct": 5, "note": "big customer"},
                "initech": {"paused": true}
            }
        },
        "attest": {"pct": 0}
    }
}
"""


def test_todays_format_is_valid():
    flags = parse_flags(TODAY, source="flags.json")
    assert flags.features["receipts"].pct_for("acme") == 0
    assert flags.revision is None


def test_tenant_pct_overrides_the_feature_pct():
    flags = parse_flags(HAND_WRITTEN, source="flags.json")
    receipts = flags.features["receipts"]
    assert [receipts.pct_for(t) for t in ("acme", "globex", "initech", "umbrella")] == [10, 5, 5, 5]
    assert receipts.tenant("initech").paused


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "version": "flags-v1",
                "features": {"r": {"pct": 0, "tenants": {"acme": {"pct": 140}}}},
            },
            "flags.json: features.r.tenants.acme.pct: 140 is greater than the maximum of 100",
        ),
        (
            {
                "version": "flags-v1",
                "features": {"r": {"pct": 0, "tenants": {"acme": {"pcts": 1}}}},
            },
            "flags.json: features.r.tenants.acme: unknown key 'pcts'; "
            "expected one of: hold, note, paused, pct (or a key starting with x-)",
        ),
        (
            {"version": "flags-v1", "features": {"r": {"pct": 2.5}}},
            "flags.json: features.r.pct: 2.5 is not of type 'integer'",
        ),
        (
            {"version": "flags-v1", "features": {"r": {"pct": -1}}},
            "flags.json: features.r.pct: -1 is less than the minimum of 0",
        ),
        (
            {"features": {}},
            "flags.json: (top level): 'version' is a required property",
        ),
        (
            {"version": "flags-v1", "revision": -3, "features": {}},
            "flags.json: revision: -3 is less than the minimum of 0",
        ),
    ],
)
def test_schema_errors_name_the_place_and_the_problem(document, message):
    with pytest.raises(InputErrors) as caught:
        parse_flags(json.dumps(document, indent=2), source="flags.json")
    assert [p.message for p in caught.value.problems] == [message]


def test_schema_errors_carry_the_line_for_annotations():
    text = HAND_WRITTEN.replace('"globex": {"pct": 5,', '"globex": {"pct": 500,')
    with pytest.raises(InputErrors) as caught:
        parse_flags(text, source="flags.json")
    assert caught.value.problems[0].line == 10


def test_malformed_json_names_line_and_column():
    with pytest.raises(Exception) as caught:  # noqa: PT011
        parse_flags('{\n  "version": "flags-v1",\n  "features": {,}\n}', source="flags.json")
    assert (
        str(caught.value)
        == "flags.json:3:16: invalid JSON: Expecting property name enclosed in double quotes"
    )


def test_edit_keeps_order_indentation_inline_arrays_and_trailing_newline():
    flags = parse_flags(HAND_WRITTEN, source="flags.json")
    updated = apply_changes(flags, [FlagChange("receipts", "acme", 25)])
    assert updated.text == HAND_WRITTEN.replace(
        '"acme": {"pct": 10}', '"acme": {"pct": 25}'
    ).replace('"revision": 41', '"revision": 42')
    assert updated.revision == 42


def test_new_tenant_entries_follow_their_neighbours_layout():
    flags = parse_flags(HAND_WRITTEN, source="flags.json")
    updated = apply_changes(
        flags,
        [
            FlagChange("receipts", "umbrella", 10),
            FlagChange("receipts", "initech", 10, hold="rolled back"),
            FlagChange("attest", "acme", 1),
        ],
    )
    assert (
        '"initech": {"paused": true, "pct": 10, "hold": "rolled back"},\n                "umbrella": {"pct": 10}\n'
        in updated.text
    )
    assert '"attest": {"pct": 0, "tenants": {"acme": {"pct": 1}}}' in updated.text
    assert json.loads(updated.text)["features"]["receipts"]["tenants"]["umbrella"] == {"pct": 10}


def test_revision_is_added_next_to_version_and_then_raised():
    first = apply_changes(
        parse_flags(TODAY, source="flags.json"), [FlagChange("receipts", "acme", 1)]
    )
    assert first.text.startswith('{"version": "flags-v1", "revision": 1, "features"')
    second = apply_changes(first, [FlagChange("receipts", "acme", 5)])
    assert (second.revision, second.version) == (2, "flags-v1")


def test_canonical_indented_file_gets_canonical_new_members():
    document = {"version": "flags-v1", "features": {"receipts": {"pct": 0, "tenants": {}}}}
    text = json.dumps(document, indent=2) + "\n"
    updated = apply_changes(
        parse_flags(text, source="flags.json"), [FlagChange("receipts", "a", 1)]
    )
    document["revision"] = 1
    document["features"]["receipts"]["tenants"] = {"a": {"pct": 1}}
    expected = {"version": "flags-v1", "revision": 1, "features": document["features"]}
    assert updated.text == json.dumps(expected, indent=2) + "\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_one_tenant_step_is_a_one_line_diff_plus_the_revision(tmp_path: Path):
    git(tmp_path, "init", "-q")
    path = tmp_path / "flags.json"
    path.write_text(HAND_WRITTEN)
    git(tmp_path, "add", "flags.json")
    git(tmp_path, "commit", "-qm", "flags")
    updated = apply_changes(
        parse_flags(path.read_text(), source="flags.json"), [FlagChange("receipts", "globex", 10)]
    )
    path.write_text(updated.text)
    assert git(tmp_path, "diff", "--numstat") == "2\t2\tflags.json\n"
    diff = git(tmp_path, "diff", "-U0")
    assert '-                "globex": {"pct": 5, "note": "big customer"},' in diff
    assert '+                "globex": {"pct": 10, "note": "big customer"},' in diff


def test_set_revision_rewrites_only_that_value_and_revision_of_reads_it():
    raised = set_revision(HAND_WRITTEN, 42)
    assert raised == HAND_WRITTEN.replace('"revision": 41', '"revision": 42')
    assert revision_of(raised) == 42
    added = set_revision(TODAY, 3)
    assert added.startswith('{"version": "flags-v1", "revision": 3, "features"')
    assert revision_of(TODAY) == 0


def test_an_edit_that_keeps_the_revision_cannot_be_published():
    edited = HAND_WRITTEN.replace('"acme": {"pct": 10}', '"acme": {"pct": 25}')
    problem = unpublishable_edit(edited, HAND_WRITTEN, source="flags.json", base="origin/main")
    assert problem is not None
    assert problem.message == (
        "flags.json: revision: 41 is not greater than 41 at origin/main, but the file changed; "
        "raise revision to 42 so that rampbot publish writes it"
    )
    assert (problem.file, problem.line) == ("flags.json", 3)
    raised = set_revision(edited, 42)
    assert unpublishable_edit(raised, HAND_WRITTEN, source="flags.json", base="b") is None


def test_unchanged_reformatted_or_new_files_need_no_new_revision():
    assert unpublishable_edit(HAND_WRITTEN, HAND_WRITTEN, source="f", base="b") is None
    reformatted = json.dumps(json.loads(HAND_WRITTEN))
    assert unpublishable_edit(reformatted, HAND_WRITTEN, source="f", base="b") is None
    assert unpublishable_edit(HAND_WRITTEN, None, source="f", base="b") is None


def test_a_missing_revision_counts_as_0():
    edited = TODAY.replace('"pct": 0', '"pct": 1')
    problem = unpublishable_edit(edited, TODAY, source="flags.json", base="main")
    assert problem is not None
    assert problem.message.startswith(
        "flags.json: revision: absent (0) is not greater than 0 at main, but the file changed; "
        "raise revision to 1"
    )
    assert problem.line == 1
    assert unpublishable_edit(set_revision(edited, 1), TODAY, source="f", base="b") is None


names = st.text(alphabet="abcxyz-_.", min_size=1, max_size=6).map(lambda s: "t" + s)
tenant_entries = st.fixed_dictionaries(
    {},
    optional={
        "pct": st.integers(0, 100),
        "paused": st.booleans(),
        "note": st.text(alphabet='ab é✓"\\{}', max_size=8),
        "hold": st.just("rolled back from 25% (divergence > 0)"),
    },
).filter(bool)


@st.composite
def canonical_files(draw):
    features = {
        feature: {
            "pct": draw(st.integers(0, 100)),
            **({"cohorts": ["A", "B"]} if draw(st.booleans()) else {}),
            **(
                {"tenants": draw(st.dictionaries(names, tenant_entries, max_size=4))}
                if draw(st.booleans())
                else {}
            ),
        }
        for feature in draw(
            st.lists(st.sampled_from(["receipts", "attest"]), min_size=1, unique=True)
        )
    }
    document = {"version": "flags-v1", **({"revision": 3} if draw(st.booleans()) else {})}
    document["features"] = features
    indent = draw(st.sampled_from(["  ", "    ", "\t"]))
    ensure_ascii = draw(st.booleans())
    text = json.dumps(document, indent=indent, ensure_ascii=ensure_ascii)
    text += "\n" if draw(st.booleans()) else ""
    changes = [
        FlagChange(
            feature,
            draw(
                st.one_of(
                    names, st.sampled_from(sorted(features[feature].get("tenants", {})) or ["tnew"])
                )
            ),
            draw(st.integers(0, 100)),
            draw(st.one_of(st.none(), st.just("rolled back from 5% (divergence > 0)"))),
            resume=draw(st.booleans()),  # a ticked Resume box: the hold marker goes
        )
        for feature in features
        for _ in range(draw(st.integers(0, 3)))
    ]
    # One change per tenant, as a plan makes.
    return text, list({(c.feature, c.tenant): c for c in changes}.values())


@settings(max_examples=200, deadline=None)
@given(canonical_files())
def test_a_json_dumps_file_is_edited_the_same_fast_way_and_in_place(case):
    text, changes = case
    document = json.loads(text)
    layout = _canonical_layout(text, document)
    if layout is None:  # ensure_ascii=False text that happens to hold a \u escape: not canonical
        return
    expected = _edit_in_place(text, changes, revision=7)
    assert _edit_canonical(document, changes, revision=7, layout=layout) == expected


@pytest.mark.parametrize("indent", [2, 4], ids=["canonical", "in-place"])
def test_a_second_rollback_keeps_the_first_hold_marker(indent):
    # "rolled back from 25%" says where the ramp stood; a rollback from 10% must not overwrite it.
    document = {
        "version": "flags-v1",
        "features": {"receipts": {"pct": 0, "tenants": {"acme": {"pct": 10, "hold": "from 25%"}}}},
    }
    text = json.dumps(document, indent=indent) + "\n"
    if indent == 4:
        text = text.replace('"pct": 0', '"pct":  0')  # not what json.dumps writes: edited in place
    flags = parse_flags(text, source="flags.json")
    change = FlagChange(feature="receipts", tenant="acme", pct=5, hold="from 10%")
    edited = json.loads(apply_changes(flags, [change]).text)
    assert edited["features"]["receipts"]["tenants"]["acme"] == {"pct": 5, "hold": "from 25%"}
    fresh = FlagChange(feature="receipts", tenant="globex", pct=5, hold="from 10%")
    added = json.loads(apply_changes(flags, [fresh]).text)
    assert added["features"]["receipts"]["tenants"]["globex"] == {"pct": 5, "hold": "from 10%"}


@settings(max_examples=200, deadline=None)
@given(canonical_files(), st.sampled_from(["as dumped", "spaced", "crlf"]))
def test_the_edited_flags_are_what_reading_the_written_file_gives(case, form):
    # apply_changes builds the edited Flags from the edit, not by reading its text again.
    text, changes = case
    if form == "spaced":  # not json.dumps' layout: edited in place
        text = text.replace('"pct": ', '"pct":  ')
    elif form == "crlf":
        text = text.replace("\n", "\r\n")
    edited = apply_changes(parse_flags(text, source="flags.json"), changes)
    assert edited == parse_flags(edited.text, source="flags.json")


# --- A revert's flags text (bot/flags.py decides it; bot/git.py only runs the line merge). ---

REVERT_BASE = (
    '{\n  "version": "flags-v1",\n  "revision": 7,\n  "features": {"receipts": {"pct": 0}}\n}\n'
)


def at(revision: int, pct: int) -> str:
    return REVERT_BASE.replace('"revision": 7', f'"revision": {revision}').replace(
        '"pct": 0', f'"pct": {pct}'
    )


def test_undo_in_flags_merges_with_the_three_revisions_made_equal() -> None:
    seen: list[tuple[str, str, str]] = []

    def merge_lines(current: str, base: str, other: str) -> str | None:
        seen.append((current, base, other))
        return other.replace('"pct": 10', '"pct": 0')

    result = undo_in_flags(
        path="flags.json",
        current=at(9, 25),
        merged=at(8, 25),
        parent=at(7, 10),
        describe="revert abc on def",
        merge_lines=merge_lines,
    )
    # Every version carries the current revision, so the revision line cannot conflict.
    assert seen == [(at(9, 25), at(9, 25), at(9, 10))]
    assert result == at(9, 0)


@pytest.mark.parametrize(
    ("current", "merged", "parent"),
    [
        (None, at(8, 25), at(7, 10)),
        (at(9, 25), None, at(7, 10)),
        (at(9, 25), at(8, 25), None),
        ("{ not json", at(8, 25), at(7, 10)),
        (at(9, 25), at(8, 25), "[1,"),
    ],
)
def test_undo_in_flags_refuses_an_absent_or_broken_version(
    current: str | None, merged: str | None, parent: str | None
) -> None:
    calls: list[str] = []
    with pytest.raises(ConflictError) as raised:
        undo_in_flags(
            path="config/flags.json",
            current=current,
            merged=merged,
            parent=parent,
            describe="revert abc on def",
            merge_lines=lambda current, base, other: calls.append(current) or current,
        )
    assert str(raised.value) == (
        "config/flags.json: cannot revert abc on def: later changes touch the same tenant "
        "lines; revert it by hand"
    )
    assert calls == []


@pytest.mark.parametrize("merged_text", [None, '{"a": 1 "b": 2}'])
def test_undo_in_flags_refuses_a_conflict_or_a_result_that_is_not_json(
    merged_text: str | None,
) -> None:
    with pytest.raises(ConflictError, match=r"^flags\.json: cannot revert x: later changes"):
        undo_in_flags(
            path="flags.json",
            current=at(9, 25),
            merged=at(8, 25),
            parent=at(7, 10),
            describe="revert x",
            merge_lines=lambda current, base, other: merged_text,
        )


def test_revision_after_revert_goes_above_the_base() -> None:
    assert revision_after_revert(at(7, 10), path="flags.json", base=at(9, 25)) == at(10, 10)


@pytest.mark.parametrize("base", [None, at(7, 10)])
def test_revision_after_revert_leaves_an_unchanged_or_new_file(base: str | None) -> None:
    assert revision_after_revert(at(7, 10), path="flags.json", base=base) == at(7, 10)


def test_revision_after_revert_refuses_a_text_that_is_not_json() -> None:
    with pytest.raises(ConflictError) as raised:
        revision_after_revert('{"revision": 1,}', path="f.json", base=at(9, 25))
    assert str(raised.value) == "f.json: the revert leaves it invalid JSON; revert it by hand"


# --- Equal tenant entries share one TenantFlag (issue 14) --------------------------------


@pytest.mark.parametrize("first", ["10", "10.0"])
def test_a_float_percentage_is_reported_beside_an_equal_integer_one(first):
    # 10.0 == 10 in Python: the entry shared with an integer 10 must not hide the float.
    second = "10.0" if first == "10" else "10"
    text = (
        '{"version": "flags-v1", "features": {"receipts": {"pct": 0, "tenants": '
        f'{{"acme": {{"pct": {first}}}, "globex": {{"pct": {second}}}}}}}}}}}\n'
    )
    with pytest.raises(InputErrors) as raised:
        parse_flags(text, source="flags.json")
    floating = "acme" if first == "10.0" else "globex"
    assert str(raised.value) == (
        f"flags.json: features.receipts.tenants.{floating}.pct: 10.0 is not an integer; write 10"
    )


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        names,
        st.fixed_dictionaries(
            {},
            optional={
                "pct": st.sampled_from([0, 5, 10]),
                "paused": st.booleans(),
                "hold": st.sampled_from(["from 5%", "from 10%"]),
            },
        ).filter(bool),  # an entry says something
        max_size=8,
    )
)
def test_shared_tenant_flags_are_each_entry_as_written(tenants):
    text = json.dumps(
        {"version": "flags-v1", "features": {"receipts": {"pct": 1, "tenants": tenants}}}
    )
    read = parse_flags(text, source="flags.json").features["receipts"].tenants
    assert read == {
        name: TenantFlag(entry.get("pct"), entry.get("paused", False), entry.get("hold"))
        for name, entry in tenants.items()
    }


@pytest.mark.parametrize("indent", [2, None], ids=["json.dumps", "one line"])
def test_a_resumed_tenant_without_a_pct_of_its_own_keeps_the_percentage_it_had(indent):
    # An entry may not be empty (minProperties): the marker's place takes the percentage.
    document = {
        "version": "flags-v1",
        "features": {
            "receipts": {
                "pct": 5,
                "tenants": {
                    "acme": {"hold": "rolled back from 25%"},
                    "globex": {"pct": 10, "hold": "rolled back from 25%", "paused": False},
                },
            }
        },
    }
    text = json.dumps(document, indent=indent) + "\n"
    flags = parse_flags(text, source="flags.json")
    changes = [
        FlagChange("receipts", "acme", 5, resume=True),
        FlagChange("receipts", "globex", 10, resume=True),
    ]
    edited = apply_changes(flags, changes)
    tenants = json.loads(edited.text)["features"]["receipts"]["tenants"]
    assert tenants == {"acme": {"pct": 5}, "globex": {"pct": 10, "paused": False}}
    assert edited == parse_flags(edited.text, source="flags.json")
    before = text.splitlines()
    after = edited.text.splitlines()
    if indent is None:
        assert after[0] == before[0].replace(
            '"hold": "rolled back from 25%"}', '"pct": 5}', 1
        ).replace(', "hold": "rolled back from 25%"', "").replace(
            '"features"', '"revision": 1, "features"'
        )
    else:
        assert [line for line in before if line not in after] == [
            '          "hold": "rolled back from 25%"',
            '          "hold": "rolled back from 25%",',
        ]
