"""`rampbot serve` as the tests run it: a subprocess on a free port, its JSON log, webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.fixtures.servers import log_tail, start_on_free_port, stop_process, wait_ready

WEBHOOK_TOKEN = "webhook-secret-0123456789abcdef"


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def post(
        self, body: Any, *, token: str | None = WEBHOOK_TOKEN, raw: bytes | None = None
    ) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body).encode()
        return requests.post(f"{self.url}/alertmanager", data=data, headers=headers, timeout=10)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The JSON log lines written so far (other lines, such as uvicorn's, are skipped)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and (name is None or record.get("event") == name):
                found.append(record)
        return found

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics, 0 when absent."""
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        series = f"{name}{{{wanted}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0

    def wait_for(self, what: str, condition: Callable[[], bool], *, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"rampbot serve exited: {log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} not seen within {seconds} s: {log_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def wait_idle(self, received: int, *, seconds: float = 30) -> None:
        """Wait until the worker has finished with ``received`` alerts in all (batches logged)."""
        self.wait_for(
            f"{received} alerts handled",
            lambda: sum(record["received"] for record in self.events("batch")) >= received,
            seconds=seconds,
        )


@contextmanager
def serving(
    env: Mapping[str, str],
    repo: Path,
    tmp_path: Path,
    *,
    args: tuple[str, ...] = (),
    name: str = "serve",
) -> Iterator[Serve]:
    """Start `rampbot serve --repo REPO` on a free port; stop it by its PID afterwards."""
    environment = {**os.environ, **env, "RAMPBOT_WEBHOOK_TOKEN": WEBHOOK_TOKEN}
    log = tmp_path / f"{name}.log"

    def start(port: int, attempt: int) -> Serve:
        command = [
            sys.executable, "-m", "bot", "serve", "--listen", f"127.0.0.1:{port}",
            "--repo", str(repo), *args,
        ]  # fmt: skip
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, env=environment
            )
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200

        wait_ready(process, log, name, ready, seconds=30, settle=0.1, port=port)
        return Serve(process=process, url=url, log_path=log)

    server = start_on_free_port(start)
    try:
        yield server
    finally:
        stop_process(server.process)


def alert(
    tenant: str | None,
    *,
    name: str = "ShadowDivergence",
    severity: str = "critical",
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: datetime | None = None,
    label: str = "tenant",
) -> dict[str, Any]:
    """One alert as Alertmanager's webhook lists it."""
    labels = {"alertname": name, "severity": severity}
    if tenant is not None:
        labels[label] = tenant
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{name} for {tenant}"},
        "startsAt": (starts_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint or f"{name}-{tenant}-{severity}"[:64],
    }


def webhook(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's version 4 webhook body around ``alerts``."""
    return {
        "version": "4",
        "groupKey": '{}:{tenant="x"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "rampbot",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
    }
