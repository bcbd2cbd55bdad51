"""rampbot demo: the whole main job on the bundled example, offline.

Copies examples/demo into a temporary git repository (one commit, a day before the snapshot)
and runs `rampbot run --dry-run` there with the example's health snapshot: no Prometheus, no
GitHub, and nothing outside the temporary directory is written.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import git as gitrepo
from bot.commands.main_job import add_run_arguments, run_main_job
from bot.errors import InputError
from bot.inputs import load_policy, load_snapshot
from bot.policy import DEFAULT_POLICY_PATH

HELP = "show what `rampbot run` does, on examples/demo in a temporary repository (offline)"

DEMO_IDENTITY = gitrepo.Identity(name="Demo Person", email="person@example.invalid")
HEALTH_FILE = "health.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=Path("examples/demo"),
        help="a folder with .github/rampbot.yml, flags.json and health.json "
        "(default: examples/demo)",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    source: Path = args.source
    if not (source / DEFAULT_POLICY_PATH).is_file() or not (source / HEALTH_FILE).is_file():
        raise InputError(
            f"{source}: no {DEFAULT_POLICY_PATH} and {HELP_FILES}; run from the root of the "
            "rampbot checkout or pass the demo folder"
        )
    # Read (and checked) where the person put it, so a bad snapshot is named by its own path.
    snapshot = load_snapshot(source / HEALTH_FILE, load_policy(source / DEFAULT_POLICY_PATH))
    with tempfile.TemporaryDirectory(prefix="rampbot-demo-") as scratch:
        workspace = Path(scratch) / "repo"
        shutil.copytree(source, workspace, ignore=shutil.ignore_patterns(HEALTH_FILE))
        health = Path(scratch) / HEALTH_FILE
        shutil.copyfile(source / HEALTH_FILE, health)
        # Dated well before the snapshot, so every tenant has baked and the plan moves.
        gitrepo.init_repository(
            workspace,
            branch="main",
            identity=DEMO_IDENTITY,
            date=(snapshot.evaluated_at or datetime.now(UTC)) - timedelta(days=1),
        )
        print(f"demo repository: {source} copied to a temporary git repository\n")
        parser = argparse.ArgumentParser(prog="rampbot run")
        add_run_arguments(parser)
        run_args = parser.parse_args(
            [
                "--dry-run",
                "--policy",
                str(workspace / DEFAULT_POLICY_PATH),
                "--health",
                str(health),
            ]
        )
        # Only what git needs: no token, no Actions files, so the demo can touch nothing.
        demo_environ = {
            key: value
            for key, value in environ.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
        }
        demo_environ["GITHUB_WORKSPACE"] = str(workspace)
        return run_main_job(run_args, demo_environ)


HELP_FILES = HEALTH_FILE
