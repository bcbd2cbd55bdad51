"""The deployment examples: the container's entry point run as the Dockerfile installs it (no
container daemon here), the systemd unit checked by systemd-analyze, the Dockerfile's shape."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.fixtures.servers import free_port, stop_process, wait_ready
from tests.github_double import BareRepo, GitHubDouble
from tests.serve_helpers import WEBHOOK_TOKEN

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "serve"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of examples/serve/Dockerfile, continuation lines joined."""
    text = (EXAMPLES / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_dockerfile_runs_as_a_user_and_starts_the_entry_point() -> None:
    instructions = dockerfile_instructions()
    users = [args for name, args in instructions if name == "USER"]
    assert users == ["10001"]  # numeric: Kubernetes' runAsNonRoot can check it
    [entrypoint] = [args for name, args in instructions if name == "ENTRYPOINT"]
    assert entrypoint == '["/usr/local/bin/rampbot-serve"]'
    runs = " ".join(args for name, args in instructions if name == "RUN")
    assert "install -m 0755 /src/examples/serve/entrypoint.sh /usr/local/bin/rampbot-serve" in runs
    assert "useradd --system --uid 10001" in runs
    [volume] = [args for name, args in instructions if name == "VOLUME"]
    assert volume == "/var/lib/rampbot"


def start_entrypoint(
    bin_dir: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    environment = {
        **os.environ,
        **env,
        "RAMPBOT_LISTEN": f"127.0.0.1:{port}",
        "PATH": f"{Path(shutil.which('rampbot') or 'rampbot').parent}:{os.environ['PATH']}",
    }
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [str(bin_dir / "rampbot-serve")],
            env=environment,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    return process, url


def test_the_entry_point_clones_once_and_serves(
    github_env: dict[str, str],
    github_double: GitHubDouble,
    github_origin: BareRepo,
    tmp_path: Path,
) -> None:
    # The Dockerfile's install step, into a directory of our own instead of /usr/local/bin.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    subprocess.run(
        ["install", "-m", "0755", str(EXAMPLES / "entrypoint.sh"), str(bin_dir / "rampbot-serve")],
        check=True,
    )
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **{k: v for k, v in github_env.items() if k != "GITHUB_WORKSPACE"},
        "RAMPBOT_DATA": str(data),
        "RAMPBOT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "HOME": str(data),
    }
    # Without a clone and without a URL to clone: one line, exit 1.
    missing = subprocess.run(
        [str(bin_dir / "rampbot-serve")], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert missing.stderr == (
        f"rampbot-serve: {data}/repo is not a clone and RAMPBOT_CLONE_URL is not set\n"
    )
    for attempt, clone_url in enumerate([github_origin.url, None]):
        run_env = env | ({"RAMPBOT_CLONE_URL": clone_url} if clone_url else {})
        log = tmp_path / f"entrypoint-{attempt}.log"
        process, url = start_entrypoint(bin_dir, run_env, log)
        try:

            def ready(url: str = url) -> bool:
                return requests.get(f"{url}/healthz", timeout=1).status_code == 200

            wait_ready(process, log, "rampbot-serve", ready, seconds=30)
        finally:
            stop_process(process)
        if attempt == 0:
            marker = data / "repo" / ".git" / "kept"
            marker.write_text("the second start must not clone again")
    assert (data / "repo" / ".git" / "kept").exists()
    # Nothing but the clone was written into the data directory.
    assert sorted(path.name for path in data.iterdir()) == ["repo"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_systemd_unit_verifies() -> None:
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(EXAMPLES / "rampbot-serve.service")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""
