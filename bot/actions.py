"""GitHub Actions' file and workflow-command protocols: outputs, the job summary, annotations.

The only module that knows these formats. Paths come in as arguments (the CLI reads
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY from the environment), so it reads no environment itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from bot import outbound

Level = Literal["error", "warning", "notice"]


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append step outputs to the file named by GITHUB_OUTPUT."""
    # https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#multiline-strings
    # A one-line value is written as name=value; a multiline one between delimiters that
    # cannot occur in it, as the runner otherwise ends the value early.
    lines = []
    for name, raw in outputs.items():
        value = outbound.clean(raw)
        if not name or any(char in name for char in "=\r\n<"):
            raise ValueError(f"{name!r} is not a usable output name")
        if "\n" in value or "\r" in value:
            delimiter = _delimiter(value)
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    with path.open("a", encoding="utf-8", newline="") as file:
        file.write("".join(lines))


def append_step_summary(path: Path, markdown: str) -> None:
    """Append markdown to the job summary, the file named by GITHUB_STEP_SUMMARY."""
    # https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary
    # Each step's summary is a separate file the runner renders; end with a newline so a
    # second append starts a new markdown block instead of continuing a table row.
    with path.open("a", encoding="utf-8", newline="") as file:
        text = outbound.clean(markdown)
        file.write(text if text.endswith("\n") else text + "\n")


def annotation(
    level: Level, message: str, *, file: str | None = None, line: int | None = None
) -> str:
    """The workflow command that shows message on the run page, at file and line when given."""
    # https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-error-message
    # Escaping follows the runner's own toolkit (@actions/core command.ts): the message
    # escapes %, CR and LF; property values also escape ':' and ',', which separate properties.
    properties = []
    if file:
        properties.append(f"file={_escape_property(file)}")
    if line:
        properties.append(f"line={line}")
    command = f"{level} {','.join(properties)}" if properties else level
    return f"::{command}::{_escape_data(outbound.clean(message))}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _delimiter(value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return delimiter
