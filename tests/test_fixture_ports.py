"""The server fixtures start again on another port when theirs was taken after free_port()."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.fixtures.prometheus as prometheus_fixtures
import tests.fixtures.redis as redis_fixtures
import tests.fixtures.servers as servers


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port another process holds, as when a parallel test took it first: free_port() gives
    it once, then free ports again."""
    real = servers.free_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = int(holder.getsockname()[1])
        ports = [taken]
        monkeypatch.setattr(servers, "free_port", lambda: ports.pop() if ports else real())
        yield taken


def test_redis_starts_on_another_port(tmp_path: Path, taken_port: int) -> None:
    server = redis_fixtures.start_redis(tmp_path)
    try:
        assert server.port != taken_port
        assert server.process.poll() is None
    finally:
        server.stop()


def test_prometheus_starts_on_another_port(tmp_path: Path, taken_port: int) -> None:
    server = prometheus_fixtures.start_prometheus(tmp_path)
    try:
        assert not server.url.endswith(f":{taken_port}")
        assert server.process.poll() is None
    finally:
        server.stop()


def test_pushgateway_starts_on_another_port(
    taken_port: int, request: pytest.FixtureRequest
) -> None:
    gateway = request.getfixturevalue("pushgateway")
    assert gateway.port != taken_port
    assert gateway.process.poll() is None
    assert "# TYPE" in gateway.metrics_text()


def test_a_port_belongs_to_the_process_listening_on_it(tmp_path: Path) -> None:
    with socket.socket() as here:
        here.bind(("127.0.0.1", 0))
        here.listen(1)
        port = int(here.getsockname()[1])
        assert servers.owns_port(os.getpid(), port)
        # Another process, another port: neither holds the other's.
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            assert not servers.owns_port(other.pid, port)
        finally:
            servers.stop_process(other)
    assert not servers.owns_port(os.getpid(), port)  # closed: no one listens


def test_a_server_answered_for_by_another_process_is_not_taken_for_ours(tmp_path: Path) -> None:
    # The readiness probe succeeds (someone answers), the started process runs, but the port
    # is held by another process: as when another test run's server took it first.
    log = tmp_path / "server.log"
    process = servers.launch([sys.executable, "-c", "import time; time.sleep(60)"], log)
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen(1)
        port = int(stranger.getsockname()[1])
        with pytest.raises(servers.PortTaken, match=f"another process answers on port {port}"):
            servers.wait_ready(process, log, "server", lambda: True, seconds=5, port=port)
    assert process.poll() is not None  # stopped, not left running


def test_each_fixture_server_holds_its_own_port(
    redis_server: redis_fixtures.RedisServer, request: pytest.FixtureRequest
) -> None:
    gateway = request.getfixturevalue("pushgateway")
    assert servers.owns_port(redis_server.process.pid, redis_server.port)
    assert servers.owns_port(gateway.process.pid, gateway.port)
    assert not servers.owns_port(gateway.process.pid, redis_server.port)
