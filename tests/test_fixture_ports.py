"""The server fixtures start again on another port when theirs was taken after free_port()."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.fixtures.prometheus as prometheus_fixtures
import tests.fixtures.pushgateway as pushgateway_fixtures
import tests.fixtures.redis as redis_fixtures


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process holds, as when a parallel test took it first."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def first_taken(taken: int, real: object) -> object:
    ports = [taken]

    def free_port() -> int:
        return ports.pop() if ports else real()  # type: ignore[operator]

    return free_port


def test_redis_starts_on_another_port(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        redis_fixtures, "free_port", first_taken(taken_port, redis_fixtures.free_port)
    )
    server = redis_fixtures.start_redis(tmp_path)
    try:
        assert server.port != taken_port
        assert server.process.poll() is None
    finally:
        server.stop()


def test_prometheus_starts_on_another_port(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        prometheus_fixtures,
        "free_port",
        first_taken(taken_port, prometheus_fixtures.free_port),
    )
    server = prometheus_fixtures.start_prometheus(tmp_path)
    try:
        assert not server.url.endswith(f":{taken_port}")
        assert server.process.poll() is None
    finally:
        server.stop()


def test_pushgateway_starts_on_another_port(
    taken_port: int, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setattr(
        pushgateway_fixtures, "free_port", first_taken(taken_port, pushgateway_fixtures.free_port)
    )
    gateway = request.getfixturevalue("pushgateway")
    assert gateway.port != taken_port
    assert gateway.process.poll() is None
    assert "# TYPE" in gateway.metrics_text()
