"""MedusaServ's configuration: flags, the TOML file, which wins, and every error message."""

from __future__ import annotations

import ipaddress
import math
import shutil
import tomllib
from pathlib import Path

import attrs
import pytest

from dsexec.security import Limits
from examples.medusa import (
    BACKENDS,
    DEFAULT_PORTS,
    DEFAULT_ROOT,
    ConfigError,
    PortConfig,
    ServerConfig,
    _config,
    build_parser,
    load_config,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "medusa.toml"


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    return cert, key


def write(tmp_path: Path, text: str, name: str = "medusa.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(argv: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(argv)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- defaults and flags ------------------------------------------------------------------------


def test_no_arguments_give_the_default_server() -> None:
    config = load_config([])
    assert config == ServerConfig()
    assert config.plain_ports == DEFAULT_PORTS == (8080, 8060, 8070, 8666)
    assert config.tls_ports == ()
    assert config.host == "::"
    assert config.root == DEFAULT_ROOT == ROOT / "examples" / "www"
    assert config.limits == Limits()
    assert (config.backend, config.app, config.workers) == ("io_context", None, 1)
    assert (config.access_log, config.drain_timeout) == (False, 10.0)
    assert (config.block, config.allow) == ((), ())


def test_every_flag_is_read(tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, key = certs
    config = load_config(
        [
            "--port", "9000", "--port", "0",
            "--tls-port", "9443",
            "--certfile", str(cert), "--keyfile", str(key),
            "--root", str(tmp_path),
            "--host", "127.0.0.1",
            "--block", "10.0.0.0/8", "--block", "2001:db8::1",
            "--allow", "192.0.2.7/24",
            "--max-connections", "50",
            "--header-timeout", "2.5",
            "--request-timeout", "30",
            "--keepalive-timeout", "inf",
            "--backend", "trio",
            "--app", "myproject.asgi:application",
            "--workers", "4",
            "--access-log",
            "--drain-timeout", "0",
        ]
    )  # fmt: skip
    assert config.ports == (PortConfig(9000), PortConfig(0), PortConfig(9443, tls=True))
    assert (config.plain_ports, config.tls_ports) == ((9000, 0), (9443,))
    assert (config.certfile, config.keyfile) == (cert, key)
    assert config.root == tmp_path
    assert config.host == "127.0.0.1"
    assert config.block == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::1/128"),
    )
    assert config.allow == (ipaddress.ip_network("192.0.2.0/24"),)
    assert config.limits == Limits(
        max_connections=50, header_timeout=2.5, request_timeout=30.0, idle_timeout=math.inf
    )
    assert (config.backend, config.app, config.workers) == ("trio", "myproject.asgi:application", 4)
    assert (config.access_log, config.drain_timeout) == (True, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_is_accepted(backend: str) -> None:
    assert load_config(["--backend", backend]).backend == backend


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--port", "abc"], "argument --port: not an integer: 'abc'"),
        (["--port", "70000"], "argument --port: must be a port number in 0..65535"),
        (["--port", "-1"], "argument --port: must be a port number"),
        (["--tls-port", "1.5"], "argument --tls-port: not an integer"),
        (["--workers", "0"], "argument --workers: must be an int in 1..1024, got 0"),
        (["--backend", "gevent"], "argument --backend: must be one of io_context, asyncio"),
        (["--app", "nocolon"], "argument --app: must be 'module:attr'"),
        (["--app", "a:b:c"], "argument --app: must be 'module:attr'"),
        (["--app", "1mod:app"], "argument --app: must be 'module:attr'"),
        (["--block", "10.0.0.300/8"], "argument --block: not an IP address or CIDR network"),
        (["--allow", "example.com"], "argument --allow: not an IP address or CIDR network"),
        (["--host", "bad host"], "argument --host: must be an IP address or a host name"),
        (["--header-timeout", "-1"], "argument --header-timeout: must be seconds > 0"),
        (["--request-timeout", "nan"], "argument --request-timeout: must be seconds > 0"),
        (["--keepalive-timeout", "1e9"], "argument --keepalive-timeout: must be seconds > 0"),
        (["--header-timeout", "soon"], "argument --header-timeout: not a number: 'soon'"),
        (["--max-connections", "0"], "argument --max-connections: must be an int in 1.."),
        (["--drain-timeout", "-1"], "argument --drain-timeout: must be seconds in 0..86400"),
        (["--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_a_bad_flag_is_argparses_one_line_error_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    with pytest.raises(SystemExit) as info:
        load_config(argv)
    assert info.value.code == 2
    error_lines = capsys.readouterr().err.splitlines()
    assert len(error_lines) == 1  # no usage block: one line
    assert error_lines[0].startswith("medusa-serv: error: ")
    assert fragment in error_lines[0]


def test_the_parser_documents_every_flag_of_the_design() -> None:
    text = build_parser().format_help()
    for flag in (
        "--port", "--tls-port", "--certfile", "--keyfile", "--root", "--block", "--allow",
        "--max-connections", "--header-timeout", "--request-timeout", "--keepalive-timeout",
        "--backend", "--app", "--workers", "--access-log", "--config", "--host",
        "--drain-timeout",
    ):  # fmt: skip
        assert flag in text


# -- errors that are not about one flag's syntax -----------------------------------------------


def test_tls_port_without_certificate_is_an_error() -> None:
    assert error_of(["--tls-port", "8443"]) == "--tls-port needs --certfile and --keyfile"


def test_certfile_without_keyfile_is_an_error(certs: tuple[Path, Path]) -> None:
    cert, _ = certs
    argv = ["--tls-port", "8443", "--certfile", str(cert)]
    assert error_of(argv) == "--certfile: needs keyfile too"


def test_a_missing_certificate_file_is_named(tmp_path: Path, certs: tuple[Path, Path]) -> None:
    _, key = certs
    missing = tmp_path / "nope.pem"
    argv = ["--tls-port", "8443", "--certfile", str(missing), "--keyfile", str(key)]
    assert error_of(argv) == f"--certfile: file not found: {missing}"


def test_a_missing_key_file_is_named(tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, _ = certs
    argv = ["--tls-port", "8443", "--certfile", str(cert), "--keyfile", str(tmp_path)]
    assert error_of(argv) == f"--keyfile: file not found: {tmp_path}"


def test_root_must_be_an_existing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert error_of(["--root", str(missing)]) == f"--root: not a directory: {missing}"
    a_file = write(tmp_path, "x", "file.txt")
    assert error_of(["--root", str(a_file)]) == f"--root: not a directory: {a_file}"


def test_a_port_given_twice_is_an_error() -> None:
    assert error_of(["--port", "8080", "--port", "8080"]) == "--port: port 8080 is listed twice"


def test_port_zero_may_be_given_several_times() -> None:
    assert load_config(["--port", "0", "--port", "0"]).plain_ports == (0, 0)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert error_of(["--config", str(missing)]) == f"--config: file not found: {missing}"


def test_a_directory_as_config_file_is_an_error(tmp_path: Path) -> None:
    assert error_of(["--config", str(tmp_path)]).startswith(f"--config: cannot read {tmp_path}")


# -- the file ----------------------------------------------------------------------------------


def test_the_file_sets_every_value(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "secure").mkdir()
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "c.pem").write_text("c")
    (tmp_path / "tls" / "k.pem").write_text("k")
    path = write(
        tmp_path,
        """
        host = "0.0.0.0"
        root = "site"
        ports = [8081, { port = 8443, tls = true, root = "secure" }, { port = 8082 }]
        certfile = "tls/c.pem"
        keyfile = "tls/k.pem"
        block = ["198.51.100.0/24"]
        allow = ["::/0", "0.0.0.0/0"]
        backend = "asyncio"
        app = "pkg.mod:app"
        workers = 2
        access_log = true
        drain_timeout = 3

        [limits]
        max_connections = 7
        header_timeout = 1
        request_timeout = 2
        keepalive_timeout = 3
        max_header_bytes = 4096
        max_body_bytes = 0
        write_timeout = 4
        tls_handshake_timeout = 5
        """,
    )
    config = load_config(["--config", str(path)])
    assert config.host == "0.0.0.0"
    assert config.root == tmp_path / "site"
    assert config.ports == (
        PortConfig(8081),
        PortConfig(8082),
        PortConfig(8443, tls=True, root=tmp_path / "secure"),
    )
    assert config.root_for(config.ports[0]) == tmp_path / "site"
    assert config.root_for(config.ports[2]) == tmp_path / "secure"
    assert (config.certfile, config.keyfile) == (tmp_path / "tls/c.pem", tmp_path / "tls/k.pem")
    assert config.block == (ipaddress.ip_network("198.51.100.0/24"),)
    assert len(config.allow) == 2
    assert (config.backend, config.app, config.workers) == ("asyncio", "pkg.mod:app", 2)
    assert (config.access_log, config.drain_timeout) == (True, 3.0)
    assert config.limits == Limits(
        max_connections=7,
        header_timeout=1,
        request_timeout=2,
        idle_timeout=3,
        max_header_bytes=4096,
        max_body_bytes=0,
        write_timeout=4,
        tls_handshake_timeout=5,
    )


def test_ports_as_an_array_of_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "[[ports]]\nport = 9001\n\n[[ports]]\nport = 9002\ntls = false\n")
    assert load_config(["--config", str(path)]).plain_ports == (9001, 9002)


def test_relative_paths_in_the_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "www").mkdir(parents=True)
    write(tmp_path / "conf", 'root = "www"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(["--config", "conf/medusa.toml"]).root == tmp_path / "conf" / "www"


def test_an_empty_app_means_no_app(tmp_path: Path) -> None:
    path = write(tmp_path, 'app = ""\n')
    assert load_config(["--config", str(path)]).app is None


def test_flags_override_the_file_and_only_flags_given_do(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        host = "0.0.0.0"
        workers = 3
        access_log = true
        block = ["10.0.0.0/8"]
        [limits]
        header_timeout = 7
        max_connections = 70
        """,
    )
    config = load_config(
        ["--config", str(path), "--host", "::1", "--request-timeout", "9", "--block", "::1"]
    )
    assert config.host == "::1"
    assert config.workers == 3
    assert config.access_log is True
    assert config.block == (ipaddress.ip_network("::1/128"),)
    assert (config.limits.header_timeout, config.limits.request_timeout) == (7, 9.0)
    assert config.limits.max_connections == 70
    off = load_config(["--config", str(path), "--no-access-log", "--max-connections", "5"])
    assert off.access_log is False
    assert (off.limits.max_connections, off.limits.header_timeout) == (5, 7)


def test_port_flags_replace_the_files_ports_of_their_kind(
    tmp_path: Path, certs: tuple[Path, Path]
) -> None:
    cert, key = certs
    path = write(
        tmp_path,
        f'ports = [8081, 8082, {{ port = 8443, tls = true }}]\ncertfile = "{cert}"\n'
        f'keyfile = "{key}"\n',
    )
    assert load_config(["--config", str(path)]).ports == (
        PortConfig(8081),
        PortConfig(8082),
        PortConfig(8443, tls=True),
    )
    plain = load_config(["--config", str(path), "--port", "9000"])
    assert plain.ports == (PortConfig(9000), PortConfig(8443, tls=True))
    tls = load_config(["--config", str(path), "--tls-port", "9443"])
    assert tls.ports == (PortConfig(8081), PortConfig(8082), PortConfig(9443, tls=True))


def test_flag_paths_override_file_paths_before_they_are_checked(
    tmp_path: Path, certs: tuple[Path, Path]
) -> None:
    cert, key = certs
    path = write(tmp_path, 'root = "missing"\ncertfile = "gone.pem"\nkeyfile = "gone.key"\n')
    config = load_config(
        ["--config", str(path), "--root", str(tmp_path), "--certfile", str(cert),
         "--keyfile", str(key)]
    )  # fmt: skip
    assert (config.root, config.certfile, config.keyfile) == (tmp_path, cert, key)


FILE_ERRORS: list[tuple[str, str]] = [
    ("prots = [8080]\n", "medusa.toml: unknown key 'prots'"),
    ("[limits]\nheader_timout = 1\n", "medusa.toml: unknown key 'header_timout' in [limits]"),
    (
        "[limits]\nheader_timeout = -1\n",
        "medusa.toml: [limits] header_timeout: must be seconds > 0 and <= 86400 (one day), "
        "or math.inf for no limit; got -1",
    ),
    ("[limits]\nmax_connections = 0\n", "medusa.toml: [limits] max_connections: must be an int"),
    (
        '[limits]\nkeepalive_timeout = "5"\n',
        "medusa.toml: [limits] keepalive_timeout: must be a number of seconds",
    ),
    ("limits = 5\n", "medusa.toml: limits: must be a table ([limits])"),
    ("ports = 8080\n", "medusa.toml: ports: must be a list of port numbers or tables"),
    ('ports = ["8080"]\n', "medusa.toml: ports[0]: must be an int, got '8080'"),
    ("ports = [8080, 99999]\n", "medusa.toml: ports[1]: must be a port number in 0..65535"),
    ("ports = [true]\n", "medusa.toml: ports[0]: must be an int, got True"),
    ("ports = [{ tls = true }]\n", "medusa.toml: ports[0]: missing key 'port'"),
    ("ports = [{ port = 1, tsl = true }]\n", "medusa.toml: ports[0]: unknown key 'tsl'"),
    ('ports = [{ port = 1, tls = "yes" }]\n', "medusa.toml: ports[0].tls: must be true or false"),
    ("ports = [{ port = 1, root = 3 }]\n", "medusa.toml: ports[0].root: must be a non-empty path"),
    ("ports = [8080, 8080]\n", "medusa.toml: ports: port 8080 is listed twice"),
    ("ports = []\n", "medusa.toml: ports: no port to listen on"),
    (
        "ports = [{ port = 8443, tls = true }]\n",
        "medusa.toml: ports: TLS port 8443 needs certfile and keyfile",
    ),
    ('block = ["10.0.0.300/8"]\n', "medusa.toml: block: not an IP address or CIDR network"),
    ('allow = "10.0.0.0/8"\n', "medusa.toml: allow: must be a list of CIDR strings"),
    ('backend = "gevent"\n', "medusa.toml: backend: must be one of io_context, asyncio"),
    ('app = "nocolon"\n', "medusa.toml: app: must be 'module:attr'"),
    ("workers = 0\n", "medusa.toml: workers: must be an int in 1..1024, got 0"),
    ("workers = 1.5\n", "medusa.toml: workers: must be an int, got 1.5"),
    ('access_log = "yes"\n', "medusa.toml: access_log: must be true or false, got 'yes'"),
    ("drain_timeout = nan\n", "medusa.toml: drain_timeout: must be seconds in 0..86400"),
    ("host = 6\n", "medusa.toml: host: must be a string, got 6"),
    ('root = "missing"\n', "medusa.toml: root: not a directory: "),
    ("root = 3\n", "medusa.toml: root: must be a non-empty path string"),
    ('certfile = "c.pem"\n', "medusa.toml: certfile: needs keyfile too"),
    ('certfile = "c.pem"\nkeyfile = "k.pem"\n', "medusa.toml: certfile: file not found: "),
    ('ports = [{ port = 1, root = "nope" }]\n', "medusa.toml: ports: port 1: root is not a dir"),
    ("ports = [8080\n", "medusa.toml: invalid TOML: "),
]


@pytest.mark.parametrize(("text", "message"), FILE_ERRORS, ids=[m for _, m in FILE_ERRORS])
def test_a_bad_file_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    error = error_of(["--config", str(path)])
    assert error.startswith(message.replace("medusa.toml", str(path), 1))


# -- the shipped example -----------------------------------------------------------------------


def test_the_example_config_uses_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) == set(_config._TOP_KEYS)
    assert set(data["limits"]) == set(_config._LIMIT_KEYS)
    tables = [item for item in data["ports"] if isinstance(item, dict)]
    assert any({"port", "tls", "root"} <= set(item) for item in tables)


def test_the_example_config_loads(tmp_path: Path) -> None:
    """A copy next to a certificate pair and a site, as the file's relative paths expect."""
    deploy = tmp_path / "deploy"
    (deploy / "certs").mkdir(parents=True)
    (deploy / "certs" / "server.pem").write_text("cert")
    (deploy / "certs" / "server.key").write_text("key")
    shutil.copytree(ROOT / "examples" / "www", tmp_path / "examples" / "www")
    path = deploy / "medusa.toml"
    shutil.copy(EXAMPLE, path)
    config = load_config(["--config", str(path)])
    site = deploy / ".." / "examples" / "www"
    assert config.root == site
    assert config.ports == (
        *(PortConfig(port) for port in DEFAULT_PORTS),
        PortConfig(8443, tls=True, root=site),
    )
    assert config.certfile == deploy / "certs" / "server.pem"
    assert config.block == (
        ipaddress.ip_network("203.0.113.0/24"),
        ipaddress.ip_network("2001:db8:bad::/48"),
    )
    assert config.allow == ()
    assert config.app is None
    assert config.access_log is True
    assert config.limits == Limits()


def test_the_example_config_runs_in_place_with_certificates_from_flags(
    certs: tuple[Path, Path],
) -> None:
    cert, key = certs
    config = load_config(["--config", str(EXAMPLE), "--certfile", str(cert), "--keyfile", str(key)])
    assert config.root.resolve() == DEFAULT_ROOT
    assert config.tls_ports == (8443,)


# -- ServerConfig and PortConfig as values -----------------------------------------------------


def test_server_config_is_a_frozen_value() -> None:
    config = ServerConfig(workers=2)
    assert config == ServerConfig(workers=2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.workers = 3  # type: ignore[misc]
    assert attrs.evolve(config, workers=5).workers == 5


@pytest.mark.parametrize(
    ("fields", "error", "fragment"),
    [
        ({"workers": 0}, ValueError, "ServerConfig: workers: must be an int in 1..1024"),
        ({"workers": True}, TypeError, "ServerConfig: workers: must be an int"),
        ({"host": ""}, ValueError, "ServerConfig: host:"),
        ({"backend": "twisted"}, ValueError, "ServerConfig: backend: must be one of"),
        ({"app": "x"}, ValueError, "ServerConfig: app:"),
        ({"app": ""}, ValueError, "ServerConfig: app:"),
        ({"drain_timeout": math.nan}, ValueError, "ServerConfig: drain_timeout:"),
        ({"drain_timeout": -1}, ValueError, "ServerConfig: drain_timeout:"),
        ({"block": ["10.0.0.0/8"]}, TypeError, "ServerConfig: block: must be a tuple"),
        ({"block": ("nope",)}, ValueError, "ServerConfig: block: not an IP address"),
        ({"limits": {"max_connections": 1}}, TypeError, "ServerConfig: limits:"),
        ({"ports": (8080,)}, TypeError, "ServerConfig: ports: must hold PortConfig"),
        ({"ports": ()}, ValueError, "ServerConfig: ports: at least one port"),
        ({"ports": (PortConfig(1), PortConfig(1))}, ValueError, "port 1 is listed twice"),
        ({"ports": (PortConfig(1, tls=True),)}, ValueError, "TLS port 1 needs certfile"),
        ({"certfile": Path("c")}, ValueError, "certfile and keyfile go together"),
        ({"access_log": 1}, TypeError, "ServerConfig: access_log: must be true or false"),
    ],
)
def test_server_config_validates_each_field(
    fields: dict[str, object], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        ServerConfig(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        ((65536,), ValueError, "PortConfig: port: must be a port number"),
        (("80",), TypeError, "PortConfig: port: must be an int"),
        ((80, "yes"), TypeError, "PortConfig: tls: must be true or false"),
        ((80, False, ""), TypeError, "PortConfig: root: must be a non-empty path"),
    ],
)
def test_port_config_validates_each_field(
    args: tuple[object, ...], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        PortConfig(*args)  # type: ignore[arg-type]


def test_a_config_error_is_a_plain_exception() -> None:
    assert issubclass(ConfigError, Exception)
    assert not issubclass(ConfigError, (ValueError, SystemExit))
