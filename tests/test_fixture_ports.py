"""The server fixtures start again on another port when theirs was taken after free_port()."""

from __future__ import annotations

import socket
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
