"""The ramp gauges: a real Pushgateway receives them; the textfile parses as Prometheus text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import main
from bot.errors import EXIT_INVALID_INPUT, EXIT_SERVICE
from bot.flags import parse_flags
from bot.metrics import ramp_registry, write_textfile
from tests.fixtures.pushgateway import Pushgateway
from tests.fixtures.redis import RedisServer
from tests.fixtures.servers import free_port


def flags_text(revision: int, tenants: dict[str, int]) -> str:
    document = {
        "version": "flags-v1",
        "revision": revision,
        "features": {
            "receipts": {
                "pct": 0,
                "tenants": {name: {"pct": pct} for name, pct in tenants.items()},
            },
            "attest": {"pct": 5},
        },
    }
    return json.dumps(document, indent=2) + "\n"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric, keyed by their labels (sorted)."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@pytest.fixture
def flags_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "flags.json"
    path.write_text(flags_text(4, {"acme": 25, "globex": 5}), encoding="utf-8")
    return path


def test_the_textfile_holds_one_gauge_per_feature_and_tenant(tmp_path: Path) -> None:
    flags = parse_flags(flags_text(4, {"acme": 25, "globex": 5}), source="flags.json")
    path = tmp_path / "rampbot.prom"
    write_textfile(ramp_registry(flags, tenants=("initech",)), path)
    text = path.read_text()
    assert samples(text, "rampbot_ramp_pct") == {
        (("feature", "receipts"), ("tenant", "acme")): 25.0,
        (("feature", "receipts"), ("tenant", "globex")): 5.0,
        (("feature", "receipts"), ("tenant", "initech")): 0.0,
        (("feature", "attest"), ("tenant", "initech")): 5.0,
    }
    assert samples(text, "rampbot_ramp_default_pct") == {
        (("feature", "attest"),): 5.0,
        (("feature", "receipts"),): 0.0,
    }
    assert samples(text, "rampbot_flags_revision") == {(): 4.0}
    assert "# TYPE rampbot_ramp_pct gauge" in text
    assert [p.name for p in tmp_path.iterdir()] == ["rampbot.prom"]  # no temporary file left


def test_publish_writes_the_textfile(flags_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    textfile = flags_path.parent / "metrics" / "rampbot.prom"
    textfile.parent.mkdir()
    assert main(["publish", "--flags", str(flags_path), "--textfile", str(textfile)], {}) == 0
    assert samples(textfile.read_text(), "rampbot_flags_revision") == {(): 4.0}
    assert f"wrote metrics to {textfile}" in capsys.readouterr().out


def test_a_textfile_node_exporter_would_not_read_is_refused(
    flags_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = flags_path.parent / "rampbot.txt"
    assert main(["publish", "--flags", str(flags_path), "--textfile", str(path)], {}) == (
        EXIT_INVALID_INPUT
    )
    assert "must end in .prom" in capsys.readouterr().err
    assert not path.exists()


def test_the_gauges_arrive_at_the_pushgateway(flags_path: Path, pushgateway: Pushgateway) -> None:
    assert main(["publish", "--flags", str(flags_path), "--pushgateway", pushgateway.url], {}) == 0
    pushed = samples(pushgateway.metrics_text(), "rampbot_ramp_pct")
    group = (("instance", ""), ("job", "rampbot"), ("namespace", "flags:v1"))
    assert pushed == {
        tuple(sorted((*group, ("feature", "receipts"), ("tenant", "acme")))): 25.0,
        tuple(sorted((*group, ("feature", "receipts"), ("tenant", "globex")))): 5.0,
    }
    # A tenant removed from the file disappears: the push replaces the whole group.
    flags_path.write_text(flags_text(5, {"acme": 50}), encoding="utf-8")
    assert main(["publish", "--flags", str(flags_path), "--pushgateway", pushgateway.url], {}) == 0
    text = pushgateway.metrics_text()
    assert list(samples(text, "rampbot_ramp_pct").values()) == [50.0]
    assert list(samples(text, "rampbot_flags_revision").values()) == [5.0]


def test_a_pushgateway_asking_for_basic_auth_gets_the_urls_credentials(
    flags_path: Path, pushgateway_with_auth: Pushgateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = pushgateway_with_auth
    user, password = gateway.auth or ("", "")
    with_auth = gateway.url.replace("http://", f"http://{user}:{password}@")
    assert main(["publish", "--flags", str(flags_path), "--pushgateway", with_auth], {}) == 0
    assert list(samples(gateway.metrics_text(), "rampbot_flags_revision").values()) == [4.0]
    # Without them: refused, named without any password.
    code = main(["publish", "--flags", str(flags_path), "--pushgateway", gateway.url], {})
    assert (code, capsys.readouterr().err) == (
        EXIT_SERVICE,
        f"Pushgateway at {gateway.url} answered 401 Unauthorized; give its user name and "
        "password in the URL: http://USER:PASSWORD@HOST:9091\n",
    )
    wrong = gateway.url.replace("http://", f"http://{user}:wrong-pw@")
    assert main(["publish", "--flags", str(flags_path), "--pushgateway", wrong], {}) == 3
    assert "wrong-pw" not in capsys.readouterr().err


def test_an_unreachable_pushgateway_exits_3(
    flags_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}"
    assert main(["publish", "--flags", str(flags_path), "--pushgateway", url], {}) == EXIT_SERVICE
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert captured.err.startswith(f"Pushgateway at http://127.0.0.1:{url.rsplit(':', 1)[1]}: ")


def test_no_metrics_for_a_revision_older_than_redis_serves(
    flags_path: Path, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    textfile = flags_path.parent / "rampbot.prom"
    options = ["--redis-url", redis_server.url, "--textfile", str(textfile)]
    assert main(["publish", "--flags", str(flags_path), *options], {}) == 0
    first = textfile.read_text()
    flags_path.write_text(flags_text(3, {"acme": 1}), encoding="utf-8")
    assert main(["publish", "--flags", str(flags_path), *options], {}) == 0
    assert textfile.read_text() == first
    assert "metrics not exported" in capsys.readouterr().out
