"""flags.json: percentages per feature and tenant, and edits that keep the file's form."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import orjson

from bot.errors import ConflictError, InputError, InputErrors
from bot.jsontext import JsonEditor, indent_unit, line_at
from bot.schema import check, format_path, parse_json

# The names the schema allows for features and tenants ($defs/name in flags.schema.json).
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")
MAX_TENANT_NAME = 200  # $defs/name's maxLength: a longer label value is held, never written


class TenantFlag(NamedTuple):  # a NamedTuple: a flags file can hold 100,000 of them
    pct: int | None = None  # None: the feature's pct applies
    paused: bool = False
    hold: str | None = None  # set by a rollback; a person deletes it to let the ramp resume


def _tenant_flag(values: tuple[int | None, bool, str | None]) -> TenantFlag:
    # tuple.__new__ directly: a NamedTuple's own __new__ is Python code, a third of the time
    # of reading a flags file of 100,000 tenants (issue 14).
    return tuple.__new__(TenantFlag, values)


@dataclass(frozen=True)
class FeatureFlag:
    pct: int
    paused: bool = False
    tenants: Mapping[str, TenantFlag] | None = None

    def tenant(self, name: str) -> TenantFlag:
        return (self.tenants or {}).get(name) or TenantFlag()

    def pct_for(self, tenant: str) -> int:
        """The percentage this tenant gets: its own, else the feature's."""
        own = self.tenant(tenant).pct
        return self.pct if own is None else own


@dataclass(frozen=True)
class Flags:
    version: str
    revision: int | None
    features: Mapping[str, FeatureFlag]
    text: str  # kept so that edits can rewrite only what changes
    source: str


class FlagChange(NamedTuple):
    """Set ``feature``'s percentage for ``tenant``; ``hold`` sets the rollback marker.

    ``resume`` deletes the marker instead and leaves the percentage as it is: people ticked
    the tenant's Resume box on the ramp dashboard.
    """

    feature: str
    tenant: str
    pct: int
    hold: str | None = None
    resume: bool = False


def parse_flags(text: str, *, source: str) -> Flags:
    """Parse and validate flags JSON; raise InputError naming the file and place of a problem."""
    document = parse_json(text, source=source, schema="flags.schema.json")
    flags = Flags(
        version=document["version"],
        revision=document.get("revision"),
        features={name: _feature(entry) for name, entry in document["features"].items()},
        text=text,
        source=source,
    )
    floats = _integral_floats(flags)
    if floats:
        # The compiled validator takes 10.0 for an integer, as JSON Schema says; services read
        # it as 10.0 (issue 9). Checked here, where every value is visited anyway.
        raise InputErrors(
            [
                InputError(
                    f"{source}: {format_path(path)}: {value!r} is not an integer; "
                    f"write {int(value)}",
                    file=source,
                    line=line_at(text, path),
                )
                for path, value in floats
            ]
        )
    return flags


def _integral_floats(flags: Flags) -> list[tuple[list[str], float]]:
    found: list[tuple[list[str], float]] = []
    if type(flags.revision) is float:
        found.append((["revision"], flags.revision))
    for name, feature in flags.features.items():
        if type(feature.pct) is float:
            found.append((["features", name, "pct"], feature.pct))
        for tenant, entry in (feature.tenants or {}).items():
            if type(entry.pct) is float:
                found.append((["features", name, "tenants", tenant, "pct"], entry.pct))
    return found


def _feature(entry: Mapping[str, Any]) -> FeatureFlag:
    tenants = entry.get("tenants")
    return FeatureFlag(
        pct=entry["pct"],
        paused=entry.get("paused", False),
        tenants=_tenant_flags(tenants) if tenants is not None else None,
    )


def _tenant_flags(tenants: Mapping[str, Mapping[str, Any]]) -> dict[str, TenantFlag]:
    # Equal entries share one TenantFlag: a flags file repeats a few dozen entries across
    # 100,000 tenants, and finding one built before costs half of building it (issue 14).
    shared: dict[tuple[int | None, bool, str | None], TenantFlag] = {}
    built: dict[str, TenantFlag] = {}
    for name, tenant in tenants.items():
        values = (tenant.get("pct"), tenant.get("paused", False), tenant.get("hold"))
        if type(values[0]) is float:  # 10.0 would find 10's, and must be reported (issue 9)
            built[name] = _tenant_flag(values)
            continue
        flag = shared.get(values)
        if flag is None:
            flag = shared[values] = _tenant_flag(values)
        built[name] = flag
    return built


def held_tenants(flags: Flags) -> frozenset[tuple[str, str]]:
    """The (feature, tenant) pairs whose hold marker is set."""
    return frozenset(
        (name, tenant)
        for name, feature in flags.features.items()
        for tenant, entry in (feature.tenants or {}).items()
        if entry.hold is not None
    )


def apply_changes(flags: Flags, changes: Iterable[FlagChange]) -> Flags:
    """Return the flags with ``changes`` made and the revision raised by one.

    Only the changed values are rewritten; new members follow their neighbours' layout. The
    result is checked against the schema, so an invalid file is never handed back to be written.
    """
    changes = list(changes)
    revision = (flags.revision or 0) + 1
    original, crlf = _lf_only(flags.text)
    document = _loads(original)
    layout = _canonical_layout(original, document)
    if layout is not None:
        text = _edit_canonical(document, changes, revision=revision, layout=layout)
        edited = document
    else:
        text = _edit_in_place(original, changes, revision=revision)
        edited = _loads(text)
    text = _crlf(text) if crlf else text
    # The edited document is checked against the schema as it stands, not parsed again from
    # the text: the text is its dump, or (in place) just read back with orjson (issue 14).
    check(
        edited,
        "flags.schema.json",
        source=flags.source,
        find_line=lambda path: line_at(text, path),
    )
    return Flags(
        version=flags.version,
        revision=revision,
        features=_changed_features(flags.features, changes),
        text=text,
        source=flags.source,
    )


def _loads(text: str) -> Any:
    """A flags text as objects: orjson reads one three times as fast as json does."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # numbers past 64 bits, which json reads: no shortcut
        return json.loads(text)


def _changed_features(
    features: Mapping[str, FeatureFlag], changes: Iterable[FlagChange]
) -> dict[str, FeatureFlag]:
    """``features`` with ``changes`` made, as parse_flags would read the edited file."""
    tenants: dict[str, dict[str, TenantFlag]] = {}
    shared: dict[tuple[int | None, bool, str | None], TenantFlag] = {}
    no_flag = TenantFlag()
    name: str | None = None
    named: Mapping[str, TenantFlag] = {}
    edited: dict[str, TenantFlag] | None = None
    # Unpacked, not read by name: 100,000 changes at 10,000 tenants x 10 features (issue 14).
    for feature, tenant, pct, hold, resume in changes:
        if feature != name:  # a feature's changes come together: its tables are found once
            name, named = feature, features[feature].tenants or {}
            edited = tenants.get(feature)
        if resume and (named.get(tenant) or no_flag).hold is None:
            continue  # nothing to delete: the file is left as it is
        if edited is None:
            edited = tenants[feature] = dict(named)
        before = edited.get(tenant) or no_flag
        if resume:
            kept = before.pct if before.pct is not None else pct
            edited[tenant] = before._replace(hold=None, pct=kept)
            continue
        # The first rollback's marker stays, as in the file (_edit_in_place).
        values = (pct, before.paused, before.hold if before.hold is not None else hold)
        flag = shared.get(values)
        if flag is None:
            flag = shared[values] = _tenant_flag(values)
        edited[tenant] = flag
    return {
        name: replace(feature, tenants=tenants[name]) if name in tenants else feature
        for name, feature in features.items()
    }


def _lf_only(text: str) -> tuple[str, bool]:
    """``text`` with CRLF line endings made LF, and whether it had them (every line, not some).

    Edits are made on LF text and turned back, so a CRLF file keeps CRLF on every line, new
    ones included: one step is a one-line diff. A file that mixes endings is edited as it is.
    """
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    return (text.replace("\r\n", "\n"), True) if crlf else (text, False)


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


class _Layout(NamedTuple):
    indent: str
    ensure_ascii: bool
    final_newline: bool


def _canonical_layout(text: str, document: Any) -> _Layout | None:
    """How ``json.dumps`` wrote ``text``, if it did: then a new dump is a minimal diff too."""
    layout = _Layout(indent_unit(text), "\\u" in text, text.endswith("\n"))
    return layout if _dump(document, layout) == text else None


def _dump(document: Any, layout: _Layout) -> str:
    if layout.indent == "  " and not layout.ensure_ascii:
        # orjson writes what json.dumps(indent=2, ensure_ascii=False) writes, 20 times faster:
        # json's C encoder does not indent. Equal output is checked, not assumed: a file orjson
        # would write differently is not "canonical" and gets the in-place edit.
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    else:
        text = json.dumps(document, indent=layout.indent, ensure_ascii=layout.ensure_ascii)
    return text + "\n" if layout.final_newline else text


def _edit_canonical(
    document: dict[str, Any], changes: Iterable[FlagChange], *, revision: int, layout: _Layout
) -> str:
    # The same result as _edit_in_place, in a tenth of the time at 100,000 tenants: new keys go
    # last, as the in-place edit inserts them, and "revision" goes after "version".
    features = document["features"]
    # Unpacked, not read by name: 100,000 changes at 10,000 tenants x 10 features (issue 14).
    for name, tenant_name, pct, hold, resume in changes:
        feature = features[name]
        if resume:
            tenants = feature.get("tenants", {})
            held = tenants.get(tenant_name, {})
            if "hold" in held:
                tenants[tenant_name] = _without_hold(held, pct=pct)
            continue
        entry = feature.get("tenants")
        if entry is None:
            entry = feature["tenants"] = {}
        tenant = entry.get(tenant_name)
        if tenant is None:
            tenant = entry[tenant_name] = {}
        tenant["pct"] = pct
        if hold and "hold" not in tenant:  # the first rollback's origin stays
            tenant["hold"] = hold
    if "revision" in document:
        document["revision"] = revision
    else:
        items = list(document.items())
        at = next((i + 1 for i, (key, _) in enumerate(items) if key == "version"), len(items))
        document = dict([*items[:at], ("revision", revision), *items[at:]])
    return _dump(document, layout)


def _without_hold(tenant: dict[str, Any], *, pct: int) -> dict[str, Any]:
    """A tenant's entry without its hold marker.

    Without a pct of its own, the marker gives way to the percentage the tenant has now: an
    entry may not be empty (minProperties), and the tenant keeps what it read as.
    """
    if "pct" in tenant:
        return {key: value for key, value in tenant.items() if key != "hold"}
    return {
        ("pct" if key == "hold" else key): (pct if key == "hold" else value)
        for key, value in tenant.items()
    }


def _edit_in_place(text: str, changes: Iterable[FlagChange], *, revision: int) -> str:
    """Rewrite only the changed values in ``text``; new members follow their neighbours."""
    editor = JsonEditor(text)
    root = editor.root
    assert root.members is not None
    new_tenants: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for change in changes:
        feature = root.members["features"].members[change.feature]  # type: ignore[index]
        tenants = feature.members.get("tenants") if feature.members else None
        tenant = tenants.members.get(change.tenant) if tenants and tenants.members else None
        if change.resume:
            if tenant is not None and tenant.members and "hold" in tenant.members:
                if "pct" in tenant.members:
                    editor.remove(tenant, "hold")
                else:  # as _without_hold: the marker's place takes the percentage
                    editor.replace_member(tenant, "hold", key="pct", value=change.pct)
            continue
        if tenant is None or tenant.members is None:
            entry: dict[str, Any] = {"pct": change.pct}
            if change.hold:
                entry["hold"] = change.hold
            new_tenants[change.feature][change.tenant] = entry
            continue
        if "pct" in tenant.members:
            editor.replace(tenant.members["pct"], change.pct)
        else:
            editor.insert(tenant, {"pct": change.pct})
        # An existing marker is kept: "rolled back from 25%" says where the ramp stood before
        # the first rollback, which a second one from 10% must not overwrite (issue 9).
        if change.hold and "hold" not in tenant.members:
            editor.insert(tenant, {"hold": change.hold})

    for feature_name, entries in new_tenants.items():
        feature = root.members["features"].members[feature_name]  # type: ignore[index]
        assert feature.members is not None
        tenants = feature.members.get("tenants")
        if tenants is None:
            editor.insert(feature, {"tenants": entries})
        else:
            editor.insert(tenants, entries)

    _set_revision(editor, revision)
    return editor.result()


def revision_of(text: str) -> int:
    """The top-level ``revision`` of flags JSON text; 0 when absent, as rampbot publish reads it."""
    document = json.loads(text)
    revision = document.get("revision") if isinstance(document, dict) else None
    return revision if type(revision) is int else 0


def set_revision(text: str, revision: int) -> str:
    """The flags JSON text with its top-level ``revision`` set; only that value is rewritten."""
    document = json.loads(text)
    current = document.get("revision") if isinstance(document, dict) else None
    if type(current) is int and current == revision:
        # Already so (apply_changes raised it): json.loads is C, the span parser below is
        # Python and takes seconds on a 5 MB file.
        return text
    original, crlf = _lf_only(text)
    editor = JsonEditor(original)
    _set_revision(editor, revision)
    return _crlf(editor.result()) if crlf else editor.result()


def _set_revision(editor: JsonEditor, revision: int) -> None:
    root = editor.root
    assert root.members is not None
    if "revision" in root.members:
        editor.replace(root.members["revision"], revision)
    else:
        editor.insert(root, {"revision": revision}, after="version")


# A three-way line merge, as ``git merge-file -p CURRENT BASE OTHER``: the change BASE -> OTHER
# applied to CURRENT, or None where lines conflict. The git adapter runs it; the flags logic
# around it is here.
LineMerge = Callable[[str, str, str], str | None]


def undo_in_flags(
    *,
    path: str,
    current: str | None,
    merged: str | None,
    parent: str | None,
    describe: str,
    merge_lines: LineMerge,
) -> str:
    """``current`` with the change ``parent`` -> ``merged`` undone, the revisions made equal first.

    Every bot commit changes the ``revision`` line, so a revert conflicts there after any later
    change; with the three revisions equal, only the tenant lines can conflict.
    """
    hint = (
        f"{path}: cannot {describe}: later changes touch the same tenant lines; revert it by hand"
    )
    if (
        current is None
        or merged is None
        or parent is None
        or not _all_json(current, merged, parent)
    ):
        raise ConflictError(hint, file=path)
    revision = revision_of(current)
    current, merged, parent = (set_revision(text, revision) for text in (current, merged, parent))
    result = merge_lines(current, merged, parent)
    if result is None or not _all_json(result):  # lines merged cleanly can still leave a comma out
        raise ConflictError(hint, file=path)
    return result


def revision_after_revert(text: str, *, path: str, base: str | None) -> str:
    """A reverted flags file's text with ``revision`` at the base's plus one, if it changed.

    rampbot publish never writes an older revision, so a revert moves it up, not back.
    """
    if base is None or text == base:
        return text
    if not _all_json(text, base):  # a clean line merge can still leave a comma out
        raise ConflictError(
            f"{path}: the revert leaves it invalid JSON; revert it by hand", file=path
        )
    return set_revision(text, revision_of(base) + 1)


def _all_json(*texts: str) -> bool:
    try:
        for text in texts:
            json.loads(text)
    except ValueError:
        return False
    return True


def unpublishable_edit(
    text: str, base_text: str | None, *, source: str, base: str
) -> InputError | None:
    """The problem with a changed flags file whose revision is not above ``base``'s, else None.

    rampbot publish orders versions by ``revision`` alone and refuses a different spec under the
    same revision, so an edit that keeps it never reaches the services. Formatting alone is not
    a change (publish compares the parsed content too).
    """
    if base_text is None:
        return None
    try:
        base_document: Any = json.loads(base_text)
        base_revision = revision_of(base_text)
    except json.JSONDecodeError:
        base_document, base_revision = None, 0
    if json.loads(text) == base_document:
        return None
    revision = revision_of(text)
    if revision > base_revision:
        return None
    shown = revision if "revision" in json.loads(text) else "absent (0)"
    return InputError(
        f"{source}: revision: {shown} is not greater than {base_revision} at {base}, but the "
        f"file changed; raise revision to {base_revision + 1} so that rampbot publish writes it",
        file=source,
        line=line_at(text, ["revision"]),
    )
