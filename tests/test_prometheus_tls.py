"""prometheus.ca_bundle: reading health from an https:// Prometheus signed by a private CA.

The certificates are made for the test with the openssl command; a small HTTPS server on
127.0.0.1 forwards /api/v1/* to the session's real Prometheus, so the readings over https can be
compared with those over plain http.
"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.prometheus import Recorded, Server, at_history_end, proxy_to
from tests.prometheus_repo import rampbot, write_repo

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")

TENANTS = ["green", "dip", "no_latency", "nan"]
CA_EXTENSIONS = ("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign")
SERVER_EXTENSIONS = """\
subjectAltName = IP:127.0.0.1
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
"""


def openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key). EC keys, since RSA key generation is slow."""
    extensions = [part for extension in CA_EXTENSIONS for part in ("-addext", extension)]
    openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-days", "2", "-subj", f"/CN={name}", *extensions),
        *("-keyout", f"{name}.key", "-out", f"{name}.pem"),
        cwd=directory,
    )
    return directory / f"{name}.pem", directory / f"{name}.key"


def make_server_certificate(directory: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (an IP SAN; the CN is not read) signed by ``ca``."""
    (directory / "server.ext").write_text(SERVER_EXTENSIONS)
    openssl(
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"),
        cwd=directory,
    )
    openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1])),
        *("-set_serial", "2", "-days", "2", "-extfile", "server.ext", "-out", "server.pem"),
        cwd=directory,
    )
    return directory / "server.pem", directory / "server.key"


@dataclass
class HttpsProxy:
    """An HTTPS server on 127.0.0.1 answering /api/v1/* from an upstream server over http."""

    certificate: Path
    key: Path
    upstream: str
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> HttpsProxy:
        proxy = self
        answer = proxy_to(self.upstream)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                query = urllib.parse.parse_qs(parts.query) | urllib.parse.parse_qs(body)
                recorded = Recorded(self.command, parts.path, query, dict(self.headers))
                proxy.requests.append(recorded)
                if parts.path.startswith("/api/v1/"):
                    status, content_type, payload = answer(recorded)
                else:
                    status, content_type, payload = 404, "text/plain", b"not proxied\n"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class TlsServer(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                # The handshake happens in the request's thread, not in the accepting one,
                # so a client that rejects the certificate cannot stall the server.
                with context.wrap_socket(request, server_side=True) as tls:
                    super().finish_request(tls, client_address)

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client refusing the certificate is what some tests expect; the default
                # prints a traceback to stderr, where those tests read rampbot's one line.
                pass

        self._server = TlsServer(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA, a server certificate for 127.0.0.1 it signed, and an unrelated CA."""
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory, "ca")
    other = make_ca(directory, "other-ca")
    make_server_certificate(directory, ca)
    return Certificates(ca=ca[0], other_ca=other[0])


@pytest.fixture(scope="module")
def https_prometheus(certificates: Certificates, prometheus: Server) -> Iterator[HttpsProxy]:
    """The session's Prometheus behind HTTPS, with the certificate signed by the test CA."""
    directory = certificates.ca.parent
    proxy = HttpsProxy(directory / "server.pem", directory / "server.key", prometheus.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def _back_to_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """rampbot -C changes directory; come back to where the test started afterwards."""
    monkeypatch.chdir(Path.cwd())


def repo_with_bundle(root: Path, url: str, bundle: Path | None) -> Path:
    """A repository reading ``url``; ``bundle`` is copied to certs/ca.pem and named by the policy."""
    extra = ""
    if bundle is not None:
        (root / "certs").mkdir(parents=True)
        shutil.copyfile(bundle, root / "certs" / "ca.pem")
        extra = "  ca_bundle: certs/ca.pem\n"
    return write_repo(root, url, tenants=TENANTS, extra=extra)


def health_json(repo: Path, prometheus: Server, capsys: pytest.CaptureFixture[str]) -> Any:
    now = at_history_end(prometheus).isoformat()
    assert rampbot(repo, "health", "--format", "json", "--now", now) == 0
    return json.loads(capsys.readouterr().out)


def test_a_ca_bundle_verifies_an_https_server_and_the_readings_are_those_over_http(
    tmp_path, prometheus, https_prometheus, certificates, capsys
):
    plain = health_json(
        repo_with_bundle(tmp_path / "http", prometheus.url, None), prometheus, capsys
    )
    before = len(https_prometheus.requests)
    repo = repo_with_bundle(tmp_path / "https", https_prometheus.url, certificates.ca)
    secure = health_json(repo, prometheus, capsys)
    # Three signals and the alerts, each one query, all of them over https.
    assert [r.path for r in https_prometheus.requests[before:]] == ["/api/v1/query"] * 4
    assert secure["source"] == https_prometheus.url
    assert secure["tenants"] == plain["tenants"]
    assert secure["alerts"] == plain["alerts"]
    assert secure["evaluated_at"] == plain["evaluated_at"]
    assert set(secure["tenants"]) == set(TENANTS)
    assert secure["tenants"]["dip"]["coverage"]["value"] == 90


def test_a_ca_bundle_verifies_the_server_for_plan_too(
    tmp_path, prometheus, https_prometheus, certificates, capsys
):
    now = at_history_end(prometheus).isoformat()
    plans = []
    for name, url, bundle in (
        ("http", prometheus.url, None),
        ("https", https_prometheus.url, certificates.ca),
    ):
        repo = repo_with_bundle(tmp_path / name, url, bundle)
        assert rampbot(repo, "plan", "--format", "json", "--now", now) == 0
        plans.append(json.loads(capsys.readouterr().out))
    assert plans[0]["decisions"] == plans[1]["decisions"]
    assert {decision["action"] for decision in plans[1]["decisions"]} == {"up", "down", "hold"}


UNVERIFIED: list[tuple[str, Callable[[Certificates], Path | None]]] = [
    ("system CAs", lambda certificates: None),
    ("another CA", lambda certificates: certificates.other_ca),
]


@pytest.mark.parametrize(("case", "bundle"), UNVERIFIED, ids=[case for case, _ in UNVERIFIED])
@pytest.mark.parametrize("command", ["health", "plan"])
def test_a_server_the_bundle_does_not_vouch_for_fails_with_exit_3_and_writes_nothing(
    tmp_path, https_prometheus, certificates, capsys, command, case, bundle
):
    repo = repo_with_bundle(tmp_path, https_prometheus.url, bundle(certificates))
    flags = (repo / "flags.json").read_text()
    before = len(https_prometheus.requests)
    assert rampbot(repo, command, "--format", "json") == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    # OpenSSL's own words for a chain that ends at no CA the client trusts, and what to do;
    # not retried, since another try cannot verify it either.
    assert lines[0] == (
        f"Prometheus at {https_prometheus.url}: signal coverage: cannot verify the server's "
        "certificate (unable to get local issuer certificate); set prometheus.ca_bundle to the "
        "PEM file of the certificate authority that signed it"
    )
    # The handshake failed: no request reached the server, and nothing changed in the repo.
    assert len(https_prometheus.requests) == before
    assert (repo / "flags.json").read_text() == flags
    assert sorted(path.name for path in repo.iterdir()) == sorted(
        [".github", "flags.json", *(["certs"] if bundle(certificates) else [])]
    )
