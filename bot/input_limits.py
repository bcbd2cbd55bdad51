"""Limits on input files, checked before they are parsed, and repeated keys found in them.

A policy or flags file arrives in a pull request from anyone who can open one, and
`rampbot validate` runs on it in CI: nesting 1,000 levels deep, a number of 5,000 digits or a
YAML alias bomb must end as one line and exit 1 in well under a second, not as Python's
RecursionError, its integer-digit limit, or gigabytes of memory (issue 9). Real files are far
inside these limits: a flags file of 100,000 tenants is 5 MB and 5 levels deep.
"""

from __future__ import annotations

import json
import re
import sys
from typing import NamedTuple

import yaml

from bot.errors import InputError
from bot.jsontext import line_of

# A flags file or snapshot: 100,000 tenants x 10 features take 57 MB and 900,000 x 2 take 59 MB;
# the limit is far above both, and the nesting and digit limits guard the parser on their own.
MAX_JSON_CHARACTERS = 256 * 1024 * 1024
MAX_YAML_CHARACTERS = 1024 * 1024  # a policy is a page or two
MAX_DEPTH = 64  # levels of nested objects and arrays; rampbot's own files use at most 5
MAX_DIGITS = 100  # digits in a row in a policy value; a float has 17 significant ones
MAX_YAML_VALUES = 100_000  # values in a policy once its aliases are expanded

_LONG_NUMBER = re.compile(r"[0-9]{" + str(MAX_DIGITS + 1) + "}")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)
_NOT_A_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")


def check_json_text(text: str, *, source: str) -> None:
    """Raise InputError if JSON ``text`` is too large or nested too deep."""
    if len(text) > MAX_JSON_CHARACTERS:
        raise InputError(
            f"{source}: {len(text):,} characters, more than the {MAX_JSON_CHARACTERS:,} "
            "rampbot reads; is this the right file?",
            file=source,
        )
    # A first look costs 3 ms at 100,000 tenants; a second, exact one (strings may hold
    # brackets that are not structure) only where the first finds something.
    if bracket_depth(text) > MAX_DEPTH:
        deep = _too_deep(text)
        if deep is not None:
            raise too_deep(source, line=line_of(text, deep))


def bracket_depth(text: str) -> int:
    """How deep ``[]{}`` nest in ``text``, strings included, up to one past MAX_DEPTH."""
    # Only the brackets, all of one kind: "(" opens, ")" closes. Each pass removes the
    # innermost pairs, so the passes count the depth; a run of openers past the limit ends it.
    brackets = text.encode("utf-8", "surrogatepass").translate(_PARENTHESES, _NOT_A_BRACKET)
    too_deep = b"(" * (MAX_DEPTH + 1)
    depth = 0
    while brackets and depth <= MAX_DEPTH:
        if too_deep in brackets:
            return MAX_DEPTH + 1
        inner = brackets.replace(b"()", b"")
        if len(inner) == len(brackets):  # unbalanced: the parser will say where
            break
        brackets, depth = inner, depth + 1
    return depth


def too_many_digits(text: str, *, source: str) -> InputError:
    """The error for a number past Python's limit on the digits of an integer."""
    limit = sys.get_int_max_str_digits()
    found = re.search("[0-9]{%d}" % (limit + 1), text)  # noqa: UP031
    line = line_of(text, found.start()) if found else None
    where = f":{line}" if line is not None else ""
    return InputError(
        f"{source}{where}: a number of more than {limit:,} digits, more than rampbot reads",
        file=source,
        line=line,
    )


def too_deep(source: str, *, line: int | None = None) -> InputError:
    """The error for input nested deeper than MAX_DEPTH levels."""
    where = f":{line}" if line is not None else ""
    return InputError(
        f"{source}{where}: nested more than {MAX_DEPTH} levels deep, more than rampbot reads",
        file=source,
        line=line,
    )


def _too_deep(text: str) -> int | None:
    """The offset where nesting passes MAX_DEPTH, outside strings; None if it never does."""
    depth = 0
    for token in _TOKEN.finditer(text):
        first = token.group()[0]
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif first in "]}":
            depth -= 1
    return None


class Repeat(NamedTuple):
    """A key that appears more than once in one object or mapping."""

    path: tuple[str | int, ...]  # of the object holding it
    key: str
    lines: tuple[int, ...]  # of each occurrence


def repeated_json_keys(text: str) -> list[Repeat]:
    """Every key that appears twice in one object of JSON ``text``, with the line of each."""
    # Python's json keeps the last of two equal keys without a word; the object_pairs_hook
    # that notices cannot say where, so this second pass (on a file known to have one) does.
    found: list[Repeat] = []
    # Per open container: its path, the lines of each key (objects only), the current key.
    stack: list[tuple[tuple[str | int, ...], dict[str, list[int]] | None, list[str | int]]] = []
    tokens = list(_TOKEN.finditer(text))
    line, counted = 1, 0  # lines are counted as the tokens go: 100,000 keys, one pass
    for index, token in enumerate(tokens):
        value = token.group()
        if value in ("{", "["):
            path = (*stack[-1][0], stack[-1][2][0]) if stack else ()
            stack.append((path, {} if value == "{" else None, [0]))
        elif value in ("}", "]") and stack:
            path, keys, _ = stack.pop()
            found += [
                Repeat(path, name, tuple(lines))
                for name, lines in (keys or {}).items()
                if len(lines) > 1
            ]
        elif value == "," and stack and stack[-1][1] is None:
            position = stack[-1][2][0]
            stack[-1][2][0] = position + 1 if isinstance(position, int) else 0
        elif (
            value[0] == '"'
            and stack
            and stack[-1][1] is not None
            and index + 1 < len(tokens)
            and tokens[index + 1].group() == ":"
        ):
            name: str = json.loads(value)
            line += text.count("\n", counted, token.start())
            counted = token.start()
            stack[-1][1].setdefault(name, []).append(line)
            stack[-1][2][0] = name
    return found


def check_yaml_text(text: str, *, source: str) -> None:
    """Raise InputError if YAML ``text`` is too large, too deep or has too long a number."""
    if len(text) > MAX_YAML_CHARACTERS:
        raise InputError(
            f"{source}: {len(text):,} characters, more than the {MAX_YAML_CHARACTERS:,} "
            "rampbot reads in a policy",
            file=source,
        )
    # PyYAML's composer and constructor recurse, and its scanner slows down on long runs of
    # "[": flow nesting is measured on the bytes first, block nesting on the tokens.
    if bracket_depth(text) > MAX_DEPTH:
        raise too_deep(source)
    depth = 0
    opening = (
        yaml.BlockMappingStartToken,
        yaml.BlockSequenceStartToken,
        yaml.FlowMappingStartToken,
        yaml.FlowSequenceStartToken,
    )
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        line = token.start_mark.line + 1
        if isinstance(token, opening):
            depth += 1
            if depth > MAX_DEPTH:
                raise too_deep(source, line=line)
        elif isinstance(token, closing):
            depth -= 1
        elif (
            isinstance(token, yaml.ScalarToken) and token.plain and _LONG_NUMBER.search(token.value)
        ):
            raise InputError(
                f"{source}:{line}: a value of {len(token.value):,} characters with more than "
                f"{MAX_DIGITS} digits in a row; rampbot reads numbers of at most {MAX_DIGITS} "
                "digits (quote it if it is text)",
                file=source,
                line=line,
            )


def check_yaml_node(root: yaml.Node | None, *, source: str) -> list[Repeat]:
    """Raise InputError for alias expansion past the limit or a self-referring value; return
    the keys repeated in one mapping."""
    if root is None:
        return []
    sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
    repeats: list[Repeat] = []
    in_progress: set[int] = set()
    # Depth-first without recursion: an alias chain may be as long as the file allows.
    pending: list[tuple[yaml.Node, tuple[str | int, ...], bool]] = [(root, (), False)]
    while pending:
        node, path, children_done = pending.pop()
        children = _children(node, path)
        if children_done:
            in_progress.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child, _ in children)
            if sizes[id(node)] > MAX_YAML_VALUES:
                line = node.start_mark.line + 1
                raise InputError(
                    f"{source}:{line}: expands to more than {MAX_YAML_VALUES:,} values "
                    "through aliases (*name), more than rampbot reads; write the values out",
                    file=source,
                    line=line,
                )
            continue
        if id(node) in sizes:
            continue
        if id(node) in in_progress:
            line = node.start_mark.line + 1
            raise InputError(
                f"{source}:{line}: an alias refers to the value that contains it; rampbot "
                "reads no self-referring values",
                file=source,
                line=line,
            )
        in_progress.add(id(node))
        if isinstance(node, yaml.MappingNode):
            repeats += _repeated_yaml_keys(node, path)
        pending.append((node, path, True))
        pending.extend((child, at, False) for child, at in children if id(child) not in sizes)
    return repeats


def _children(
    node: yaml.Node, path: tuple[str | int, ...]
) -> list[tuple[yaml.Node, tuple[str | int, ...]]]:
    if isinstance(node, yaml.MappingNode):
        return [
            (part, (*path, str(key.value))) for key, value in node.value for part in (key, value)
        ]
    if isinstance(node, yaml.SequenceNode):
        return [(child, (*path, index)) for index, child in enumerate(node.value)]
    return []


def _repeated_yaml_keys(node: yaml.MappingNode, path: tuple[str | int, ...]) -> list[Repeat]:
    lines: dict[str, list[int]] = {}
    for key, _ in node.value:
        # "<<" merges another mapping in: it may appear more than once by design.
        if isinstance(key, yaml.ScalarNode) and key.value != "<<":
            lines.setdefault(key.value, []).append(key.start_mark.line + 1)
    return [Repeat(path, name, tuple(found)) for name, found in lines.items() if len(found) > 1]
