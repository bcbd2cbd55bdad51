"""GitHub's REST description: load it once, check requests and responses, fill schema defaults.

The description is tests/data/github-openapi/api.github.com.subset.json (see its README for
where it comes from). Building the openapi-core validator takes about a second, so it is built
once per process and shared by every double.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_PATH = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "github-openapi"
    / ("api.github.com.subset.json")
)
# The description's only server; the double's own address is never part of the check.
HOST_URL = "https://api.github.com"

_lock = threading.Lock()


@dataclass
class WireRequest:
    """An HTTP request in the shape openapi-core's Request protocol reads."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes | None
    content_type: str = "application/json"
    host_url: str = HOST_URL
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.method = self.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(self.query), header=Headers(dict(self.headers))
        )


@dataclass
class WireResponse:
    """An HTTP response in the shape openapi-core's Response protocol reads."""

    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str = "application/json"


@functools.cache
def spec_dict() -> dict[str, Any]:
    """The parsed description (cached)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


@functools.cache
def openapi() -> OpenAPI:
    """The openapi-core validator, built once per process."""
    return OpenAPI.from_dict(spec_dict())


def _describe(error: BaseException) -> str:
    """One line per problem, including the nested JSON-schema errors openapi-core wraps."""
    parts = [_short(str(error))]
    cause = error.__cause__
    while cause is not None:
        nested = getattr(cause, "schema_errors", None)
        if nested:
            for item in nested:
                where = "/".join(str(p) for p in item.absolute_path) or "(root)"
                parts.append(f"at {where}: {_short(item.message)}")
            break
        parts.append(str(cause))
        cause = cause.__cause__
    return "; ".join(p for p in parts if p)


def _short(text: str, limit: int = 240) -> str:
    """Error texts quote whole bodies; keep the start, which names the problem."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_request(request: WireRequest) -> list[str]:
    """Problems GitHub's description finds in a request (empty when it is valid)."""
    with _lock:  # openapi-core's caches are not documented as thread-safe
        errors = [_describe(e) for e in openapi().iter_request_errors(request)]
    return errors + _unknown_body_fields(request)


def check_response(request: WireRequest, response: WireResponse) -> list[str]:
    """Problems GitHub's description finds in a response to a request."""
    with _lock:
        return [_describe(e) for e in openapi().iter_response_errors(request, response)]


def documented_statuses(method: str, template: str) -> set[str]:
    """Status codes the description lists for an operation."""
    operation = spec_dict()["paths"].get(template, {}).get(method.lower(), {})
    return set(operation.get("responses", {}))


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec_dict()["components"]["schemas"][name]
    return schema


def _request_schema(method: str, template: str) -> Mapping[str, Any] | None:
    operation = spec_dict()["paths"].get(template, {}).get(method, {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return _resolve(schema) if schema else None


def _unknown_body_fields(request: WireRequest) -> list[str]:
    """Top-level body fields the description does not name.

    GitHub ignores unknown fields, so the description does not forbid them; a misspelt field
    is still always a bug in the client (the change silently does not happen), so the double
    reports it.
    """
    template = find_template(request.method, request.path)
    if template is None or not request.body:
        return []
    schema = _request_schema(request.method, template)
    try:
        body = json.loads(request.body)
    except ValueError:
        return []
    if schema is None or not isinstance(body, dict):
        return []
    options = [_resolve(s) for s in schema.get("oneOf", schema.get("anyOf", []))] or [schema]
    known: set[str] = set()
    for option in options:
        known |= set(option.get("properties", {}))
    if not known:
        return []
    return [
        f"body field {name!r} is not in GitHub's description of {request.method.upper()} "
        f"{template} (known: {', '.join(sorted(known))})"
        for name in body
        if name not in known
    ]


@functools.cache
def _templates() -> list[tuple[list[str], str, frozenset[str]]]:
    out = []
    for template, item in spec_dict()["paths"].items():
        methods = frozenset(m for m in item if m != "parameters")
        out.append((template.strip("/").split("/"), template, methods))
    return out


def find_template(method: str, path: str) -> str | None:
    """The description's path template matching a concrete path and method, if any.

    Literal segments win over parameters ("/issues/comments" before "/issues/{issue_number}").
    """
    parts = path.strip("/").split("/") if path.strip("/") else []
    best: tuple[int, str] | None = None
    for segments, template, methods in _templates():
        if method.lower() not in methods:
            continue
        score = _match(segments, parts)
        if score is not None and (best is None or score > best[0]):
            best = (score, template)
    return best[1] if best else None


def _match(segments: list[str], parts: list[str]) -> int | None:
    if segments == [""]:
        segments = []
    if len(parts) != len(segments):
        return None
    score = 0
    for index, segment in enumerate(segments):
        if segment.startswith("{"):
            continue
        if parts[index] != segment:
            return None
        score += 1
    return score


def path_params(template: str, path: str) -> dict[str, str]:
    """Values of a template's {parameters} in a concrete path."""
    segments = template.strip("/").split("/")
    parts = path.strip("/").split("/")
    params: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{"):
            params[segment[1:-1]] = part
    return params


def fill(schema_name: str) -> dict[str, Any]:
    """A minimal valid object of a component schema: every required field, plain values."""
    value = json.loads(_fill_cached(schema_name))  # a fresh copy, faster than deepcopy
    assert isinstance(value, dict)
    return value


@functools.cache
def _fill_cached(schema_name: str) -> str:
    return json.dumps(_fill(spec_dict()["components"]["schemas"][schema_name], depth=0))


def _fill(schema: Mapping[str, Any], *, depth: int) -> Any:
    schema = _resolve(schema)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_fill(part, depth=depth) or {})
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _fill(schema[key][0], depth=depth)
    if schema.get("nullable") and depth > 0:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: _fill(props.get(name, {}), depth=depth + 1) for name in schema.get("required", [])
        }
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    if kind == "string":
        return _FORMATS.get(schema.get("format", ""), "")
    return None


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "uri": "https://example.invalid/",
    "email": "nobody@example.invalid",
}


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay real values on filled defaults, recursing into nested objects."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base
