"""A wheel built from the repository carries the schemas and validates files without a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import bot
assert bot.__file__.startswith(sys.argv[1]), bot.__file__
from bot.cli import main
raise SystemExit(main(["validate", "--policy", "rampbot.yml", "--flags", "flags.json"]))
"""


def test_wheel_ships_the_schemas_and_validates_outside_the_checkout(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
    )
    wheel = next((tmp_path / "dist").glob("rampbot-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for schema in ("flags", "policy", "health"):
        assert f"bot/schemas/{schema}.schema.json" in names

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rampbot.yml").write_text((REPO / "examples/demo/.github/rampbot.yml").read_text())
    (elsewhere / "flags.json").write_text(
        '{"version": "flags-v1", "features": {"receipts": {"pct": 0}, "attest": {"pct": 101}}}'
    )
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(wheel)], cwd=elsewhere, capture_output=True, text=True
    )
    assert (
        result.stderr == "flags.json: features.attest.pct: 101 is greater than the maximum of 100\n"
    )
    assert result.returncode == 1
