"""The bundled JSON Schemas, and schema errors turned into one line per problem."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import orjson

from bot.errors import InputError, InputErrors
from bot.input_limits import check_json_text, repeated_json_keys, too_deep, too_many_digits
from bot.jsontext import line_at

if TYPE_CHECKING:
    import jsonschema

# Finds the line of a value from its path in the document, when the format allows.
LineFinder = Callable[[Sequence[str | int]], int | None]


@cache
def _fast_validator(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads(schema_text(name)), validate_formats=True)


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    # Imported here: it takes longer to import (50 ms) than a valid document takes to check,
    # and only an invalid document, or one with integral floats, needs its words (issue 14).
    import jsonschema

    schema = json.loads(schema_text(name))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    # JSON Schema counts 10.0 as an integer; a percentage written 10.0 is published as 10.0,
    # so rampbot takes integers only as integers (issue 9).
    strict: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        validator_class,
        type_checker=validator_class.TYPE_CHECKER.redefine(
            "integer", lambda _checker, value: type(value) is int
        ),
    )
    validator: jsonschema.protocols.Validator = strict(
        schema, format_checker=validator_class.FORMAT_CHECKER
    )
    return validator


def schema_text(name: str) -> str:
    """Return the text of a bundled schema (``flags.schema.json``, ``policy.schema.json``, ...)."""
    # An installed wheel carries the schemas inside the package (pyproject's force-include),
    # possibly in a zip; a source checkout has them at the top of the repository.
    packaged = resources.files("bot") / "schemas" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "schemas" / name).read_text(encoding="utf-8")


def format_path(path: Iterable[str | int]) -> str:
    """Render a path as people write it: ``features.receipts.tenants.acme.pct``, ``signals[0]``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def parse_json(text: str, *, source: str, schema: str, non_finite: bool = False) -> Any:
    """Parse JSON ``text`` and check it against ``schema``; problems name the line and place.

    ``non_finite``: NaN and ±Infinity pass where the schema takes a number (a health value
    that means no data), and stay in the document; otherwise they are errors.
    """
    check_json_text(text, source=source)
    document = _quick_loads(text)
    if document is _NOT_QUICK:
        document = _loads(text, source=source)
    checked = _finite(document) if non_finite else document
    try:
        check(checked, schema, source=source, find_line=lambda path: line_at(text, path))
    except RecursionError:
        raise too_deep(source) from None
    return document


def _loads(text: str, *, source: str) -> Any:
    """The document of ``text`` as json reads it; errors and repeated keys name their lines."""
    repeated = False

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        found = dict(pairs)
        repeated = repeated or len(found) != len(pairs)
        return found

    try:
        document = json.loads(text, object_pairs_hook=members)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}",
            file=source,
            line=error.lineno,
        ) from None
    except RecursionError:  # nesting the first look above could not see for strings
        raise too_deep(source) from None
    except ValueError:  # Python's limit on the digits of an integer (int_max_str_digits)
        raise too_many_digits(text, source=source) from None
    if repeated:
        # The last of two equal keys would win in silence, and an edit would go to the hidden
        # one (issue 9).
        raise InputErrors(
            [
                InputError(
                    f"{source}: {format_path(repeat.path)}: key {repeat.key!r} appears "
                    f"{len(repeat.lines)} times (lines {', '.join(map(str, repeat.lines))}); "
                    "keep one",
                    file=source,
                    line=repeat.lines[1],
                )
                for repeat in repeated_json_keys(text)
            ]
        )
    return document


_NOT_QUICK = object()
# Digits to "0", everything else to a space: a run of 19 zeros is a number orjson may read
# differently from json (past 64 bits it gives a float, json an exact integer).
_DIGIT_RUNS = bytes(ord("0") if 48 <= byte <= 57 else ord(" ") for byte in range(256))
_LONG_RUN = b"0" * 19


def _quick_loads(text: str) -> Any:
    """What json.loads reads from ``text`` with no key repeated, read by orjson; else _NOT_QUICK.

    The stdlib parser with a hook per object to find repeated keys takes 2.5 times as long as
    orjson (issue 14). orjson is used only where it surely reads what json reads: no escapes, no
    numbers of 19 digits or more, nothing it refuses (NaN, Infinity, bad JSON: json words those).
    """
    if "\\" in text or _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGIT_RUNS):
        return _NOT_QUICK
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_QUICK
    # Outside strings a colon follows each key and nothing else. Without escapes, every string
    # of the document is in the text as it is, so the text has as many colons as the
    # document's compact dump only when no key was repeated (orjson keeps the last one).
    if text.count(":") != orjson.dumps(document).count(b":"):
        return _NOT_QUICK
    return document


def _finite(value: Any) -> Any:
    """``value`` with None for every NaN and ±Infinity, which no schema type takes."""
    if isinstance(value, dict):
        return {key: _finite(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_finite(member) for member in value]
    if type(value) is float and not math.isfinite(value):
        return None
    return value


def check(
    document: Any, schema: str, *, source: str, find_line: LineFinder, thorough: bool = False
) -> None:
    """Raise InputErrors listing every place where ``document`` breaks ``schema``.

    ``thorough`` doubts the compiled validator's "valid" where it takes 10.0 for an integer;
    for small documents such as the policy.
    """
    # The compiled validator answers "valid?" about 100 times faster, which matters for a
    # flags file of 10,000 tenants; the reference implementation then words the errors.
    valid = _fast_validator(schema).is_valid(document)
    if valid and not (thorough and _integral_float(document)):
        return
    found = list(
        dict.fromkeys(  # one line per problem, though it breaks several rules (NaN: type, max)
            (tuple(error.absolute_path), _describe(error))
            for error in map(_most_specific, _validator(schema).iter_errors(document))
        )
    )
    if not found and valid:
        return
    if not found:
        # The two disagree at the edges of regular expressions (Python's "$" also matches
        # before a final newline) and formats: the compiled validator's word is final.
        found = [
            (tuple(error.instance_path), error.message)
            for error in _fast_validator(schema).iter_errors(document)
        ]
    raise InputErrors(
        [
            InputError(
                f"{source}: {format_path(path)}: {message}",
                file=source,
                line=find_line(list(path)),
            )
            for path, message in sorted(found, key=lambda item: [str(part) for part in item[0]])
        ]
    )


def _integral_float(value: Any) -> bool:
    """Whether ``value`` holds a float such as 10.0, which the compiled validator calls integral."""
    if isinstance(value, dict):
        return any(_integral_float(member) for member in value.values())
    if isinstance(value, list):
        return any(_integral_float(member) for member in value)
    return type(value) is float and value.is_integer()


def _most_specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # An anyOf error ("not valid under any of the given schemas") hides the real problem in its
    # context; the branch that got deepest into the document is the one the user meant.
    while error.context:
        error = max(error.context, key=lambda branch: len(branch.absolute_path))
    return error


def _describe(error: jsonschema.ValidationError) -> str:
    message = _what_is_wrong(error)
    # A schema's "x-fix" says what to do about any problem of its value (issue 12: the steering
    # keys), which jsonschema's words ("is a required property") do not.
    fix = error.schema.get("x-fix") if isinstance(error.schema, dict) else None
    return f"{message}; {fix}" if fix else message


def _what_is_wrong(error: jsonschema.ValidationError) -> str:
    # A schema's own "description" of a pattern says what is expected better than the regex.
    if error.validator == "pattern" and isinstance(error.schema, dict):
        hint = error.schema.get("description")
        if hint:
            return f"{error.instance!r} is not valid: {hint}"
    if (
        error.validator == "additionalProperties"
        and isinstance(error.schema, dict)
        and isinstance(error.instance, dict)
        and error.schema.get("properties")
    ):
        known = error.schema["properties"]
        patterns = error.schema.get("patternProperties", {})
        unknown = [
            key
            for key in error.instance
            if key not in known and not any(re.search(pattern, key) for pattern in patterns)
        ]
        extension = " (or a key starting with x-)" if "^x-" in patterns else ""
        return (
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"expected one of: {', '.join(sorted(known))}{extension}"
        )
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return (
            f"{error.instance[:40]!r}... is {len(error.instance)} characters long, more than "
            f"the {error.validator_value} allowed"
        )
    if type(error.instance) is float and not math.isfinite(error.instance):
        return f"{_constant(error.instance)} is not a finite number"  # whatever rule it broke
    if (
        error.validator == "type"
        and type(error.instance) is float
        and error.instance.is_integer()
        and "integer" in str(error.validator_value)
    ):
        return f"{error.instance!r} is not an integer; write {int(error.instance)}"
    if (
        error.validator == "dependentRequired"
        and isinstance(error.instance, dict)
        and isinstance(error.validator_value, dict)
    ):
        # jsonschema says "'duration' is a dependency of 'cron'": name what is given first.
        given, missing = next(
            (key, [m for m in needed if m not in error.instance])
            for key, needed in error.validator_value.items()
            if key in error.instance and any(m not in error.instance for m in needed)
        )
        return f"{given!r} is given without {' and '.join(map(repr, missing))}"
    return error.message


def _constant(value: float) -> str:
    """A non-finite number as JSON writes it: NaN, Infinity, -Infinity."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
