"""MedusaServ from outside: ``examples/medusa_serv.py`` in a subprocess, real sockets on
loopback, IPv4 and IPv6 on every port; the access list, limits, the pages, the one-line errors,
the backends and the workers. Shutdown (drain, second signal) is in test_medusa_shutdown.py."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._helpers.medusa import (
    DEADLINE,
    MedusaProcess,
    exchange,
    get,
    listening_sockets,
    run_to_exit,
)

from examples.medusa import DEFAULT_ROOT

SECRET = b"the secret outside the root"


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = ["127.0.0.1", "::1"] if has_ipv6() else ["127.0.0.1"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped site, plus what an attacker would like to reach."""
    base = tmp_path_factory.mktemp("medusa")
    root = base / "www"
    shutil.copytree(DEFAULT_ROOT, root)
    (base / "secret.txt").write_bytes(SECRET)
    (root / "escape.txt").symlink_to(base / "secret.txt")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(SECRET)
    return root


@pytest.fixture(scope="module")
def medusa(site: Path) -> Iterator[MedusaProcess]:
    """One server on four free ports for the tests that only talk to it."""
    args = ["--root", str(site), "--block", "127.0.0.3", *("--port", "0") * 4]
    with MedusaProcess(*args) as process:
        yield process
        assert process.stop(signal.SIGTERM) == 0


# -- ports, families, pages ---------------------------------------------------------------------


def test_every_port_is_one_dual_stack_socket_announced_with_its_urls(
    medusa: MedusaProcess,
) -> None:
    assert len(medusa.ports) == 4
    assert len(set(medusa.ports)) == 4
    for line, port in zip(medusa.listening, medusa.ports, strict=True):
        if has_ipv6():
            assert line == f"listening on [::]:{port} (dual-stack)"
            assert f"http://127.0.0.1:{port}/  http://[::1]:{port}/" in "\n".join(medusa.lines)
        counts = listening_sockets(port)
        if counts is not None and has_ipv6():
            assert counts == (1, 0)  # one AF_INET6 socket serves both families
    assert any(line.startswith("status page: http://") for line in medusa.lines)


@pytest.mark.parametrize("host", HOSTS)
def test_every_port_serves_the_site_and_the_status_page(medusa: MedusaProcess, host: str) -> None:
    for port in medusa.ports:
        home = exchange(host, port, get(b"/"))
        assert home is not None
        assert home.status == 200
        assert b"MedusaServ" in home.body
        assert b'href="/_medusa/status"' in home.body
        status = exchange(host, port, get(b"/_medusa/status"))
        assert status is not None
        assert status.status == 200
        assert status.header(b"content-type") == b"text/html; charset=utf-8"
        assert b'<svg class="chart" id="requests"' in status.body
        assert b'http-equiv="refresh"' in status.body


def test_health_and_metrics(medusa: MedusaProcess) -> None:
    port = medusa.ports[0]
    health = exchange("127.0.0.1", port, get(b"/_medusa/health"))
    assert health is not None
    assert (health.status, health.body) == (200, b"ok\n")
    assert health.header(b"cache-control") == b"no-store"
    metrics = exchange("127.0.0.1", port, get(b"/_medusa/metrics"))
    assert metrics is not None
    assert metrics.status == 200
    assert metrics.header(b"content-type") == b"text/plain; version=0.0.4; charset=utf-8"
    text = metrics.body.decode()
    assert re.search(r"^medusa_http_operations_total \d+$", text, re.M)
    for port in medusa.ports:
        assert f'medusa_connections{{port="{port}",tls="false",dual_stack=' in text


def test_a_post_to_a_page_of_medusa_gets_405(medusa: MedusaProcess) -> None:
    reply = exchange(
        "127.0.0.1", medusa.ports[0], get(b"/_medusa/health", b"Content-Length: 0", method=b"POST")
    )
    assert reply is not None
    assert reply.status == 405


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/../secret.txt", 400),
        (b"/%2e%2e/secret.txt", 400),
        (b"/%252e%252e/secret.txt", 404),
        (b"/..%2fsecret.txt", 400),
        (b"/..\\secret.txt", 400),
        (b"/%5c..%5csecret.txt", 400),
        (b"/about/..%00/secret.txt", 400),
        (b"/escape.txt", 403),
        (b"/.git/config", 404),
    ],
)
def test_traversal_over_the_wire_is_refused(
    medusa: MedusaProcess, target: bytes, status: int
) -> None:
    reply = exchange("127.0.0.1", medusa.ports[1], get(target))
    assert reply is not None
    assert reply.status == status
    assert SECRET not in reply.body


def test_static_files_have_validators_ranges_and_types(medusa: MedusaProcess, site: Path) -> None:
    port = medusa.ports[2]
    css = exchange("127.0.0.1", port, get(b"/style.css"))
    assert css is not None
    assert css.header(b"content-type") == b"text/css; charset=utf-8"
    tag = css.header(b"etag")
    assert tag is not None
    again = exchange("127.0.0.1", port, get(b"/style.css", b"If-None-Match: " + tag))
    assert again is not None
    assert again.status == 304
    part = exchange("127.0.0.1", port, get(b"/style.css", b"Range: bytes=0-9"))
    assert part is not None
    assert (part.status, part.body) == (206, (site / "style.css").read_bytes()[:10])
    past = exchange("127.0.0.1", port, get(b"/style.css", b"Range: bytes=99999-"))
    assert past is not None
    assert past.status == 416
    moved = exchange("127.0.0.1", port, get(b"/about"))
    assert moved is not None
    assert (moved.status, moved.header(b"location")) == (301, b"/about/")


# -- the access list at accept -------------------------------------------------------------------


def test_an_ipv4_rule_blocks_the_mapped_peer_of_the_dual_stack_socket(
    medusa: MedusaProcess,
) -> None:
    port = medusa.ports[3]
    # 127.0.0.3 reaches the [::] socket as ::ffff:127.0.0.3; the rule is "127.0.0.3"
    assert exchange("127.0.0.1", port, get(b"/"), source="127.0.0.3") is None
    served = exchange("127.0.0.1", port, get(b"/"), source="127.0.0.2")
    assert served is not None
    assert served.status == 200
    deadline = time.monotonic() + DEADLINE
    while not any(f"deny 127.0.0.3 on port {port}" in line for line in medusa.errors):
        assert time.monotonic() < deadline, medusa.errors[-5:]
        time.sleep(0.01)
    metrics = exchange("127.0.0.1", port, get(b"/_medusa/metrics"))
    assert metrics is not None
    assert re.search(rb"^medusa_denials_total [1-9]", metrics.body, re.M)


@pytest.mark.parametrize(
    "rules",
    [
        ["--block", "127.0.0.2"],
        ["--block", "::ffff:127.0.0.2"],  # the mapped form blocks the IPv4 peer too
        ["--block", "::ffff:7f00:2/128"],  # the same in hex
        ["--allow", "127.0.0.1"],
    ],
)
def test_rules_in_either_form_refuse_127_0_0_2_before_a_byte_is_read(rules: list[str]) -> None:
    with MedusaProcess("--port", "0", *rules) as medusa:
        port = medusa.ports[0]
        assert exchange("127.0.0.1", port, get(b"/"), source="127.0.0.2") is None
        allowed = exchange("127.0.0.1", port, get(b"/"))
        assert allowed is not None
        assert allowed.status == 200


# -- limits and timeouts ------------------------------------------------------------------------


def test_max_connections_and_the_header_timeout() -> None:
    args = ("--port", "0", "--max-connections", "1", "--header-timeout", "0.5")
    with MedusaProcess(*args) as medusa:
        port = medusa.ports[0]
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the header timeout, not by us
            assert time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as held:
            held.sendall(b"GET / HTTP/1.1\r\nHost: m\r\n\r\n")
            assert held.recv(12) == b"HTTP/1.1 200"
            refused = exchange("127.0.0.1", port, get(b"/"))
            assert refused is not None
            assert refused.status == 503


def test_the_access_log_has_a_line_per_request() -> None:
    with MedusaProcess("--port", "0", "--access-log") as medusa:
        exchange("127.0.0.1", medusa.ports[0], get(b"/about/"))
        line = medusa.wait_for("GET /about/ 200")
        assert "127.0.0.1" in line


# -- one-line errors ----------------------------------------------------------------------------


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]
    assert lines[0].startswith("medusa-serv: ")


def test_a_busy_port_is_one_line() -> None:
    with socket.socket(socket.AF_INET) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_to_exit("--port", str(port), "--host", "127.0.0.1")
    assert_one_line(result, 1, f"port {port} on 127.0.0.1 is already in use")


def test_a_bad_flag_is_one_line() -> None:
    assert_one_line(run_to_exit("--port", "http"), 2, "argument --port: not an integer")
    assert_one_line(run_to_exit("--frobnicate"), 2, "unrecognized arguments: --frobnicate")


def test_a_missing_certificate_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not really a key")
    result = run_to_exit(
        "--tls-port", "0", "--certfile", str(tmp_path / "missing.pem"), "--keyfile", str(key)
    )
    assert_one_line(result, 2, "--certfile: file not found")


def _certificate(tmp_path: Path) -> tuple[Any, Path, Path]:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server = authority.issue_cert("localhost", "127.0.0.1", "::1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    server.private_key_and_cert_chain_pem.write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    return authority, cert, key


def test_a_tls_port_serves_https_beside_the_plain_ports(tmp_path: Path) -> None:
    authority, cert, key = _certificate(tmp_path)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    authority.configure_trust(client)
    args = ("--port", "0", "--tls-port", "0", "--certfile", str(cert), "--keyfile", str(key))
    with MedusaProcess(*args) as medusa:
        plain, secure = medusa.ports
        assert "(dual-stack, TLS)" in medusa.listening[1]
        for host in HOSTS:
            with (
                socket.create_connection((host, secure), timeout=DEADLINE) as raw,
                client.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                tls.sendall(get(b"/_medusa/health"))
                received = b""
                while chunk := tls.recv(65536):
                    received += chunk
            assert received.startswith(b"HTTP/1.1 200 OK")
            reply = exchange(host, plain, get(b"/_medusa/health"))
            assert reply is not None
            assert reply.status == 200
        # plain HTTP on the TLS port gets no HTTP answer
        assert exchange("127.0.0.1", secure, get(b"/")) is None


def test_a_certificate_that_does_not_load_is_one_line(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    result = run_to_exit("--tls-port", "0", "--certfile", str(cert), "--keyfile", str(key))
    assert_one_line(result, 1, "--certfile/--keyfile: cannot load the certificate and key")


APP = """
state_seen = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["greeting"] = b"hello from the app"
            await send({"type": "lifespan.startup.complete"})
        message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = scope["state"]["greeting"] + b" at " + scope["path"].encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""

FAILING_APP = """
async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_asgi_app_answers_what_the_static_site_does_not_have(
    tmp_path: Path, backend: str
) -> None:
    (tmp_path / "myapp.py").write_text(APP)
    args = ("--port", "0", "--backend", backend, "--app", "myapp:app")
    with MedusaProcess(*args, cwd=tmp_path) as medusa:
        port = medusa.ports[0]
        api = exchange("127.0.0.1", port, get(b"/api/items"))
        assert api is not None
        assert api.status == 200
        assert api.body == b"hello from the app at /api/items"
        site = exchange("127.0.0.1", port, get(b"/"))
        assert site is not None
        assert b"MedusaServ" in site.body  # the static index still comes first
        health = exchange("127.0.0.1", port, get(b"/_medusa/health"))
        assert health is not None
        assert health.status == 200


def test_an_app_on_the_io_context_backend_is_one_line() -> None:
    result = run_to_exit("--port", "0", "--app", "mymodule:app")
    assert_one_line(result, 1, "--app needs --backend asyncio, uvloop or trio")


def test_an_app_that_cannot_be_imported_is_one_line(tmp_path: Path) -> None:
    result = run_to_exit("--port", "0", "--backend", "asyncio", "--app", "nosuchmodule:app")
    assert_one_line(result, 1, "--app: cannot import module 'nosuchmodule'")


def test_an_app_whose_startup_fails_stops_the_server_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(FAILING_APP)
    with MedusaProcess(
        "--port", "0", "--backend", "asyncio", "--app", "failing:app", cwd=tmp_path, ready=False
    ) as medusa:
        assert medusa.wait() == 1
        assert any("startup failed: no database" in line for line in medusa.errors)


def test_an_unknown_config_key_is_one_line_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "medusa.toml"
    config.write_text("prots = [8080]\n")
    assert_one_line(run_to_exit("--config", str(config)), 2, "unknown key 'prots'")


def test_the_config_file_is_read_and_flags_override_it(tmp_path: Path) -> None:
    config = tmp_path / "medusa.toml"
    config.write_text(
        'ports = [1]\nblock = ["127.0.0.2"]\naccess_log = true\n[limits]\nmax_connections = 7\n'
    )
    # --port replaces the file's ports; the file's block list and access log still apply
    with MedusaProcess("--config", str(config), "--port", "0", "--port", "0") as medusa:
        assert len(medusa.ports) == 2
        port = medusa.ports[1]
        assert exchange("127.0.0.1", port, get(b"/"), source="127.0.0.2") is None
        assert exchange("127.0.0.1", port, get(b"/style.css")) is not None
        medusa.wait_for("GET /style.css 200")
    with MedusaProcess("--config", str(config), "--port", "0", "--no-access-log") as medusa:
        exchange("127.0.0.1", medusa.ports[0], get(b"/style.css"))
        assert medusa.stop() == 0
        assert not any("GET /style.css" in line for line in medusa.lines)


def test_the_shipped_config_file_is_valid() -> None:
    # deploy/medusa.toml asks for a TLS port and certificates a checkout does not have
    shipped = Path(__file__).resolve().parents[2] / "deploy" / "medusa.toml"
    result = run_to_exit("--config", str(shipped))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "certfile: file not found" in result.stderr or "TLS support" in result.stderr


# -- backends and workers -----------------------------------------------------------------------


def backends() -> list[str]:
    found = ["asyncio", "trio"]
    if sys.platform != "win32":
        found.append("uvloop")
    return found


@pytest.mark.parametrize("backend", backends())
def test_the_same_pipelines_serve_on_every_backend(backend: str) -> None:
    pytest.importorskip(backend)
    with MedusaProcess("--port", "0", "--port", "0", "--backend", backend) as medusa:
        assert f"on the {backend} backend" in medusa.lines[0]
        for port in medusa.ports:
            for host in HOSTS:
                reply = exchange(host, port, get(b"/_medusa/status"))
                assert reply is not None
                assert reply.status == 200
        assert medusa.stop(signal.SIGTERM) == 0
        assert any("drained" in line for line in medusa.lines)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")
def test_workers_share_every_port_and_drain_on_sigterm() -> None:
    with MedusaProcess("--port", "0", "--port", "0", "--workers", "2") as medusa:
        assert "2 workers" in medusa.lines[0]
        deadline = time.monotonic() + DEADLINE
        while len(medusa.workers()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for port in medusa.ports:
            counts = listening_sockets(port)
            while counts is not None and sum(counts) < 2:  # the second worker binds its own
                assert time.monotonic() < deadline
                time.sleep(0.01)
                counts = listening_sockets(port)
            for _ in range(20):
                reply = exchange("127.0.0.1", port, get(b"/"))
                assert reply is not None
                assert reply.status == 200
        workers = medusa.workers()
        assert medusa.stop(signal.SIGTERM) == 0
        assert sum("drained" in line for line in medusa.lines) == 2
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
