"""GitHub Actions' file protocols and workflow commands, read back the way the runner reads them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.actions import annotation, append_step_summary, write_outputs
from bot.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file as actions/runner's SetOutputFileCommand does."""
    # The runner reads line by line: NAME=VALUE when '=' comes first, else NAME<<DELIMITER
    # followed by the value's lines up to a line equal to the delimiter, joined with "\n".
    outputs: dict[str, str] = {}
    # Lines end at "\n" only (C#'s ReadLine also splits at "\r", which values here never hold);
    # str.splitlines would also split at "\x85" and "\u2028", which the runner keeps.
    lines = iter(path.read_text(encoding="utf-8").split("\n"))
    for line in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1 :]
            continue
        assert heredoc > 0, f"neither NAME=VALUE nor NAME<<DELIMITER: {line!r}"
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        value = []
        for value_line in lines:
            if value_line == delimiter:
                break
            value.append(value_line)
        else:
            raise AssertionError(f"delimiter {delimiter!r} of {name} never closed")
        outputs[name] = "\n".join(value)
    return outputs


def test_one_line_values_are_written_as_name_equals_value(tmp_path: Path) -> None:
    output = tmp_path / "output"
    write_outputs(output, {"pr-number": "17", "changed": "true"})
    assert output.read_text() == "pr-number=17\nchanged=true\n"


def test_outputs_append_to_what_earlier_steps_wrote(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("earlier=1\n")
    write_outputs(output, {"changed": "false", "pr-number": ""})
    assert read_outputs(output) == {"earlier": "1", "changed": "false", "pr-number": ""}


def test_a_multiline_value_is_written_between_delimiters(tmp_path: Path) -> None:
    output = tmp_path / "output"
    table = "| tenant | from | to |\n| --- | --- | --- |\n| acme | 10 | 25 |\n"
    write_outputs(output, {"plan": table, "changed": "true"})
    text = output.read_text()
    assert text.startswith("plan<<ghadelimiter_")
    assert read_outputs(output) == {"plan": table, "changed": "true"}


def test_a_value_that_looks_like_a_delimiter_or_an_assignment_is_kept(tmp_path: Path) -> None:
    output = tmp_path / "output"
    tricky = "EOF\nchanged=false\nghadelimiter_\n<<EOF"
    write_outputs(output, {"body": tricky, "changed": "true"})
    assert read_outputs(output) == {"body": tricky, "changed": "true"}


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True),
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r")),
        max_size=5,
    )
)
def test_any_values_read_back_as_written(outputs: dict[str, str]) -> None:
    # hypothesis forbids function-scoped fixtures here, so the file lives in its own temp dir.
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "output"
        write_outputs(output, outputs)
        assert read_outputs(output) == outputs


@pytest.mark.parametrize("name", ["", "a=b", "two\nlines", "a<<b"])
def test_an_unusable_output_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is not a usable output name"):
        write_outputs(tmp_path / "output", {name: "1"})


def test_step_summary_appends_markdown_blocks(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    append_step_summary(summary, "## rampbot\n\n| tenant | action |\n| --- | --- |\n| acme | up |")
    append_step_summary(summary, "Opened #17.\n")
    assert summary.read_text() == (
        "## rampbot\n\n| tenant | action |\n| --- | --- |\n| acme | up |\nOpened #17.\n"
    )


def test_annotation_without_a_place() -> None:
    assert annotation("error", "Prometheus did not answer") == "::error::Prometheus did not answer"


def test_annotation_with_file_and_line() -> None:
    assert (
        annotation("warning", "pct 140 > 100", file="flags.json", line=9)
        == "::warning file=flags.json,line=9::pct 140 > 100"
    )


def test_annotation_escapes_the_message_and_the_properties() -> None:
    # A newline would end the command early and a ',' or ':' in a file name would start a new
    # property: the toolkit's escapes keep both inside (docs: workflow-commands).
    assert (
        annotation("notice", "100% done\r\nnext: line", file="odd,name:x.json", line=3)
        == "::notice file=odd%2Cname%3Ax.json,line=3::100%25 done%0D%0Anext: line"
    )


def test_validate_annotates_each_problem_in_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(EXAMPLE, repository)
    flags = repository / "flags.json"
    flags.write_text(flags.read_text().replace('"pct": 5,', '"pct": 140,', 1))

    monkeypatch.chdir(repository)
    code = main(["validate"], environ={"GITHUB_ACTIONS": "true"})

    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "flags.json: features.attest.pct: 140 is greater than the maximum of 100",
        "::error file=flags.json,line=14::"
        "flags.json: features.attest.pct: 140 is greater than the maximum of 100",
    ]


def test_validate_prints_no_annotation_outside_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(EXAMPLE, repository)
    (repository / ".github" / "rampbot.yml").write_text("flags_file: [\n")

    monkeypatch.chdir(repository)
    code = main(["validate"], environ={})

    assert code == 1
    assert "::error" not in capsys.readouterr().err
