"""rampbot publish against a real redis-server: compare-and-set on revision, races, faults."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from bot.cli import main
from bot.commands.publish import publish_spec, spec_json
from bot.errors import EXIT_CONFLICT, EXIT_SERVICE, ServiceError
from bot.flags import Flags, parse_flags
from bot.redis_store import PublishOutcome, RedisSpecStore
from bot.urls import shown_url
from tests.fixtures.redis import RedisServer
from tests.fixtures.servers import free_port

NAMESPACE = "flags:v1"


def flags_text(revision: int | None, *, acme: int = 10) -> str:
    document: dict[str, object] = {"version": "flags-v1"}
    if revision is not None:
        document["revision"] = revision
    document["features"] = {
        "receipts": {"pct": 0, "cohorts": ["A", "B"], "tenants": {"acme": {"pct": acme}}}
    }
    return json.dumps(document, indent=2) + "\n"


def flags_of(revision: int | None, *, acme: int = 10) -> Flags:
    return parse_flags(flags_text(revision, acme=acme), source="flags.json")


def stored(server: RedisServer) -> tuple[str | None, str | None]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        spec, revision = client.mget([f"{NAMESPACE}:spec", f"{NAMESPACE}:revision"])
        return spec, revision
    finally:
        client.close()


@pytest.fixture
def flags_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    monkeypatch.chdir(tmp_path)  # no policy file here: publish reads only --flags

    def write(revision: int | None, *, acme: int = 10) -> Path:
        path = tmp_path / "flags.json"
        path.write_text(flags_text(revision, acme=acme), encoding="utf-8")
        return path

    return write


def publish(path: Path, url: str, *extra: str) -> int:
    return main(["publish", "--flags", str(path), "--redis-url", url, *extra], environ={})


def test_publish_writes_the_whole_spec_and_its_revision(
    redis_server: RedisServer, flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = flags_file(3)
    assert publish(path, redis_server.url) == 0
    spec, revision = stored(redis_server)
    assert spec is not None
    assert json.loads(spec) == json.loads(path.read_text())
    assert revision == "3"
    out = capsys.readouterr().out
    assert out.startswith(f"published: {path} revision 3 to flags:v1:spec (was nothing)")


def test_same_revision_twice_is_a_no_op(
    redis_server: RedisServer, flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = flags_file(3)
    assert publish(path, redis_server.url) == 0
    # Reformatting the file is not a new spec.
    path.write_text(json.dumps(json.loads(path.read_text())) + "\n", encoding="utf-8")
    assert publish(path, redis_server.url) == 0
    assert "already current: flags:v1:spec holds revision 3; nothing written" in (
        capsys.readouterr().out
    )


def test_an_older_revision_is_refused_and_nothing_changes(
    redis_server: RedisServer, flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(flags_file(5, acme=50), redis_server.url) == 0
    before = stored(redis_server)
    assert publish(flags_file(4, acme=25), redis_server.url) == 0
    assert stored(redis_server) == before
    out = capsys.readouterr().out
    assert "refused older: flags:v1:spec holds revision 5, newer than" in out
    assert "'s 4; nothing written" in out


def test_same_revision_with_other_content_is_a_conflict(
    redis_server: RedisServer, flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(flags_file(5, acme=50), redis_server.url) == 0
    before = stored(redis_server)
    path = flags_file(5, acme=60)
    assert publish(path, redis_server.url) == EXIT_CONFLICT
    assert stored(redis_server) == before
    err = capsys.readouterr().err
    assert f'raise "revision" in {path} to 6 and publish again' in err


def test_a_spec_written_before_revisions_were_stored_is_ordered_by_its_own_revision(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set(f"{NAMESPACE}:spec", spec_json(flags_of(7)))
    client.close()
    older = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(6))
    assert (older.outcome, older.previous) == (PublishOutcome.REFUSED_OLDER, 7)
    newer = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(8))
    assert (newer.outcome, newer.previous) == (PublishOutcome.PUBLISHED, 7)
    assert stored(redis_server)[1] == "8"


@pytest.mark.parametrize("revision", [5, 3, 9])
def test_a_spec_gone_while_its_revision_remains_is_written_again(
    redis_server: RedisServer, revision: int
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set(f"{NAMESPACE}:revision", "5")  # someone deleted the spec key alone
    client.close()
    result = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(revision))
    assert (result.outcome, result.previous) == (PublishOutcome.PUBLISHED, 5)
    assert stored(redis_server) == (spec_json(flags_of(revision)), str(revision))


def test_revisions_beyond_2_to_the_53_are_compared_exactly(redis_server: RedisServer) -> None:
    big = 2**53  # a double cannot tell 2^53 from 2^53 + 1
    first = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(big))
    assert first.outcome is PublishOutcome.PUBLISHED
    newer = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(big + 1, acme=25))
    assert (newer.outcome, newer.previous) == (PublishOutcome.PUBLISHED, big)
    assert stored(redis_server)[1] == str(big + 1)
    older = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(big, acme=50))
    assert (older.outcome, older.previous) == (PublishOutcome.REFUSED_OLDER, big + 1)
    again = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(big + 1, acme=25))
    assert again.outcome is PublishOutcome.ALREADY_CURRENT
    longer = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(10**20))
    assert (longer.outcome, longer.previous) == (PublishOutcome.PUBLISHED, big + 1)
    assert stored(redis_server)[1] == str(10**20)
    shorter = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(99))
    assert shorter.outcome is PublishOutcome.REFUSED_OLDER


def test_a_file_without_revision_counts_as_revision_0(redis_server: RedisServer) -> None:
    first = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(None))
    assert first.outcome is PublishOutcome.PUBLISHED
    again = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(None))
    assert again.outcome is PublishOutcome.ALREADY_CURRENT
    bot_change = publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(1))
    assert bot_change.outcome is PublishOutcome.PUBLISHED


@pytest.mark.parametrize("first", [7, 8])
def test_two_racing_publishes_leave_the_newer_revision(
    redis_server: RedisServer, first: int
) -> None:
    """Two publishes start together, one thread each; whichever lands first, 8 wins."""
    second = 15 - first
    for _attempt in range(25):
        client = redis.Redis.from_url(redis_server.url)
        client.delete(f"{NAMESPACE}:spec", f"{NAMESPACE}:revision")
        client.close()
        barrier = threading.Barrier(2)
        outcomes: dict[int, PublishOutcome] = {}

        def run(
            revision: int,
            barrier: threading.Barrier = barrier,
            outcomes: dict[int, PublishOutcome] = outcomes,
        ) -> None:
            flags = flags_of(revision, acme=revision * 10)
            store = RedisSpecStore(redis_server.url, namespace=NAMESPACE)
            store.read()  # connect before the barrier so both scripts are sent at once
            barrier.wait()
            outcomes[revision] = store.publish(revision=revision, spec=spec_json(flags)).outcome
            store.close()

        threads = [threading.Thread(target=run, args=(revision,)) for revision in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        spec, revision = stored(redis_server)
        assert revision == "8"
        assert spec == spec_json(flags_of(8, acme=80))
        assert outcomes[8] is PublishOutcome.PUBLISHED
        assert outcomes[7] in (PublishOutcome.PUBLISHED, PublishOutcome.REFUSED_OLDER)


@pytest.mark.parametrize("order", [(7, 8), (8, 7)])
def test_publishes_in_either_order_end_at_the_newer(
    redis_server: RedisServer, order: tuple[int, int]
) -> None:
    for revision in order:
        publish_spec(redis_server.url, namespace=NAMESPACE, flags=flags_of(revision, acme=revision))
    assert stored(redis_server) == (spec_json(flags_of(8, acme=8)), "8")


def test_unreachable_redis_exits_3_without_printing_the_password(
    flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    status = main(["publish", "--flags", str(flags_file(1))], environ={"RAMPBOT_REDIS_URL": url})
    assert status == EXIT_SERVICE
    captured = capsys.readouterr()
    assert "s3cret-pw" not in captured.out + captured.err
    assert captured.err.startswith(f"Redis at {shown_url(url)}: ")
    assert "check that Redis is running" in captured.err


def test_wrong_password_exits_3_without_printing_it(
    redis_server_factory: Callable[..., RedisServer],
    flags_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = redis_server_factory(password="right-one")
    path = flags_file(1)
    assert main(["publish", "--flags", str(path)], environ={"RAMPBOT_REDIS_URL": server.url}) == 0
    wrong = server.url.replace("right-one", "wrong-one")
    status = main(["publish", "--flags", str(path), "--redis-url", wrong], environ={})
    assert status == EXIT_SERVICE
    captured = capsys.readouterr()
    assert "wrong-one" not in captured.out + captured.err
    assert "right-one" not in captured.out + captured.err


def test_a_redis_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that accepts connections but never replies: bounded by the socket timeout."""
    monkeypatch.setattr("bot.redis_store.SOCKET_TIMEOUT_SECONDS", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel's backlog; nothing answers
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with pytest.raises(ServiceError, match="Timeout"):
            publish_spec(url, namespace=NAMESPACE, flags=flags_of(1))


def test_nothing_to_publish_to_is_an_input_error(
    flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", "--flags", str(flags_file(1))], environ={}) == 1
    assert "nothing to publish to" in capsys.readouterr().err


def test_a_redis_error_inside_the_script_writes_nothing(
    redis_server: RedisServer, flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The revision key holds a list (someone else's data): the script fails before writing."""
    client = redis.Redis.from_url(redis_server.url)
    client.rpush(f"{NAMESPACE}:revision", "x")
    client.close()
    assert publish(flags_file(2), redis_server.url) == EXIT_SERVICE
    assert "WRONGTYPE" in capsys.readouterr().err
    client = redis.Redis.from_url(redis_server.url)
    assert client.exists(f"{NAMESPACE}:spec") == 0
    client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "redis://:s3cret-pw@h:xx/0",
            "RAMPBOT_REDIS_URL: redis://h:xx/0: not a valid URL (Port could not be cast to "
            "integer value as 'xx'); the form is redis://[:PASSWORD@]HOST[:PORT][/DB]",
        ),
        (
            "redis://:s3cret-pw@[::1/0",
            "RAMPBOT_REDIS_URL: redis://[::1/0: not a valid URL (Invalid IPv6 URL); the form "
            "is redis://[:PASSWORD@]HOST[:PORT][/DB]",
        ),
        (
            "http://:s3cret-pw@h:6379/0",
            "RAMPBOT_REDIS_URL: http://h:6379/0: the scheme must be redis://, rediss:// (TLS) "
            "or unix://, e.g. redis://:PASSWORD@HOST:6379/0",
        ),
    ],
)
def test_a_malformed_redis_url_is_an_input_error_naming_its_source(
    flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    status = main(["publish", "--flags", str(flags_file(1))], environ={"RAMPBOT_REDIS_URL": url})
    captured = capsys.readouterr()
    assert (status, captured.err) == (1, message + "\n")
    assert "s3cret-pw" not in captured.out + captured.err


def test_a_malformed_redis_option_is_named_as_the_option(
    flags_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(flags_file(1), "redis://h:abc/0") == 1
    assert capsys.readouterr().err.startswith("--redis-url: redis://h:abc/0: not a valid URL")
