"""rampbot publish writes nothing to Redis when it has nothing new: Redis' own counters say so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.cli import main
from bot.errors import EXIT_CONFLICT
from tests.fixtures.redis import RedisServer


def flags_text(revision: int, *, acme: int = 10) -> str:
    document = {
        "version": "flags-v1",
        "revision": revision,
        "features": {"receipts": {"pct": 0, "tenants": {"acme": {"pct": acme}}}},
    }
    return json.dumps(document, indent=2) + "\n"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    connection.close()


def changes(client: redis.Redis) -> int:
    """Writes since the last save: every key Redis changed (it never saves here)."""
    return int(client.info("persistence")["rdb_changes_since_last_save"])


def set_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_set", {}).get("calls", 0))


def publish(path: Path, server: RedisServer) -> int:
    return main(["publish", "--flags", str(path), "--redis-url", server.url], environ={})


@pytest.fixture
def flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no policy here: publish reads only --flags
    return tmp_path / "flags.json"


def test_publishing_the_same_revision_twice_writes_nothing(
    flags: Path, redis_server: RedisServer, client: redis.Redis
) -> None:
    flags.write_text(flags_text(3), encoding="utf-8")
    before = changes(client)
    assert publish(flags, redis_server) == 0
    first = changes(client)
    assert first > before  # the counter does see a publish
    sets = set_calls(client)
    assert publish(flags, redis_server) == 0
    assert changes(client) == first
    assert set_calls(client) == sets


def test_an_older_revision_or_a_conflict_writes_nothing(
    flags: Path, redis_server: RedisServer, client: redis.Redis
) -> None:
    flags.write_text(flags_text(5, acme=50), encoding="utf-8")
    assert publish(flags, redis_server) == 0
    after_publish = changes(client)
    flags.write_text(flags_text(4, acme=25), encoding="utf-8")
    assert publish(flags, redis_server) == 0  # refused older
    flags.write_text(flags_text(5, acme=60), encoding="utf-8")
    assert publish(flags, redis_server) == EXIT_CONFLICT
    assert changes(client) == after_publish
