"""MedusaServ's configuration: the command line, an optional TOML file, one validated value.

``load_config(argv)`` parses the command line (DESIGN.md, "MedusaServ")::

    [--port N]... [--tls-port N]... [--certfile F --keyfile F] [--root DIR] [--host H]
    [--block CIDR]... [--allow CIDR]... [--max-connections N] [--header-timeout S]
    [--request-timeout S] [--keepalive-timeout S] [--backend io_context|asyncio|uvloop|trio]
    [--app module:attr] [--workers N] [--access-log | --no-access-log] [--drain-timeout S]
    [--config FILE.toml]

reads ``--config`` if given, and returns a :class:`ServerConfig`. Flags override the file, and
only the flags actually given do: ``--port`` replaces the plain ports of the file (or the
defaults 8080, 8060, 8070, 8666), ``--tls-port`` its TLS ports, ``--block``/``--allow`` its
lists.

The file
--------
Every flag has a key of the same name with ``_`` for ``-``; the limits live in a ``[limits]``
table, which also takes the :class:`~dsexec.security.Limits` fields that have no flag. Relative
paths in the file are relative to the file's directory. ``deploy/medusa.toml`` uses every key::

    host = "::"
    root = "../examples/www"
    ports = [8080, 8060, { port = 8443, tls = true, root = "/srv/secure" }]
    certfile = "certs/server.pem"
    keyfile = "certs/server.key"
    block = ["203.0.113.0/24"]
    allow = []                  # empty: no allow-list (everyone not blocked)
    backend = "io_context"
    app = ""                    # empty: no ASGI app
    workers = 1
    access_log = true
    drain_timeout = 10.0

    [limits]
    max_connections = 1000
    header_timeout = 10.0
    request_timeout = 60.0
    keepalive_timeout = 5.0     # Limits.idle_timeout
    max_header_bytes = 65536
    max_body_bytes = 1048576
    write_timeout = 30.0
    tls_handshake_timeout = 10.0

``ports`` is a list whose items are port numbers (plain HTTP, the server's ``root``) or tables
``{ port = N, tls = true|false, root = "DIR" }`` (both optional keys); ``[[ports]]`` tables say
the same. Timeouts are seconds (``inf``: none).

Errors
------
A bad flag value is argparse's one-line error and exit status 2. Everything else raises
:class:`ConfigError` with one line naming the flag or the key and the bad value, e.g.
``medusa.toml: unknown key 'prots'``, ``medusa.toml: [limits] header_timeout: must be seconds >
0 ...; got -1``, ``--tls-port needs --certfile and --keyfile``, ``--certfile: file not found:
cert.pem``; the entry script prints it and exits with status 2. Paths are checked when loading:
the roots must be directories, the certificate and key existing files. A :class:`ServerConfig`
built by hand is validated too (types and ranges), but without looking at the filesystem.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TypeAlias, TypeVar, final

import attrs

from dsexec.security import Limits

__all__ = [
    "BACKENDS",
    "DEFAULT_PORTS",
    "DEFAULT_ROOT",
    "ConfigError",
    "IPNetwork",
    "PortConfig",
    "ServerConfig",
    "build_parser",
    "load_config",
]

T = TypeVar("T")
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
"""An allow- or block-list entry."""

BACKENDS: Final = ("io_context", "asyncio", "uvloop", "trio")
"""The ``--backend`` choices: dsexec's own ``IoContext``, or an anyio event loop."""
DEFAULT_PORTS: Final = (8080, 8060, 8070, 8666)
"""The seed's ports 80, 60, 70 and 666, moved where no privileges are needed."""
_HERE: Final = Path(__file__).resolve().parent
DEFAULT_ROOT: Final = (
    _HERE.parent / "www" if (_HERE.parent / "www" / "index.html").is_file() else _HERE / "www"
)
"""The site shipped with the example: ``examples/www`` in a checkout, ``medusa/www`` where
``pip install .`` put it."""
DEFAULT_DRAIN_TIMEOUT: Final = 10.0
_MAX_PORT: Final = 65535
_MAX_WORKERS: Final = 1024
_MAX_SECONDS: Final = 86_400.0
_APP: Final = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*:[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_HOST: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class ConfigError(Exception):
    """Raised when the command line or the config file is wrong; the message is one line that
    names the flag or the key and the bad value."""


# -- checks shared by the value types, the flags and the file --------------------------------
# Each returns the value (normalised) or raises ValueError/TypeError with a message that
# continues "<where>: ", e.g. "must be an int in 0..65535, got 70000".


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"must be an int, got {value!r}")
    return value


def _check_port(value: object) -> int:
    port = _int(value)
    if not 0 <= port <= _MAX_PORT:
        raise ValueError(f"must be a port number in 0..{_MAX_PORT} (0: any free port), got {port}")
    return port


def _check_workers(value: object) -> int:
    workers = _int(value)
    if not 1 <= workers <= _MAX_WORKERS:
        raise ValueError(f"must be an int in 1..{_MAX_WORKERS}, got {workers}")
    return workers


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {value!r}")
    return value


def _check_drain_timeout(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"must be a number of seconds, got {value!r}")
    if math.isnan(value) or not 0 <= value <= _MAX_SECONDS:
        raise ValueError(f"must be seconds in 0..{_MAX_SECONDS:g}, got {value!r}")
    return float(value)


def _check_host(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {value!r}")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if _HOST.fullmatch(value) is None or len(value) > 253:
            raise ValueError(f"must be an IP address or a host name, got {value!r}") from None
    return value


def _check_network(value: object) -> IPNetwork:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise TypeError(f"must be an IP address or CIDR network as a string, got {value!r}")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR network: {value!r}") from None


def _check_backend(value: object) -> str:
    if value not in BACKENDS:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}, got {value!r}")
    assert isinstance(value, str)
    return value


def _check_app(value: object) -> str | None:
    """``module:attr`` (dotted names both sides); ``""`` means no app."""
    if not isinstance(value, str):
        raise TypeError(f"must be a 'module:attr' string, got {value!r}")
    if value == "":
        return None
    if _APP.fullmatch(value) is None:
        raise ValueError(f"must be 'module:attr' (e.g. 'myproject.asgi:app'), got {value!r}")
    return value


def _check_path(value: object) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise TypeError(f"must be a non-empty path string, got {value!r}")
    return Path(value)


# -- the values --------------------------------------------------------------------------------


def _validator(check: Callable[[object], object]) -> Any:
    """An attrs validator running ``check`` and naming the class and the field."""

    def validate(instance: object, attribute: attrs.Attribute[object], value: object) -> None:
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            kind = type(exc)
            raise kind(f"{type(instance).__name__}: {attribute.name}: {exc}") from None

    return validate


def _optional(check: Callable[[object], object]) -> Callable[[object], object]:
    return lambda value: None if value is None else check(value)


def _each(check: Callable[[object], object]) -> Callable[[object], object]:
    def run(values: object) -> object:
        if not isinstance(values, tuple):
            raise TypeError(f"must be a tuple, got {values!r}")
        for value in values:
            check(value)
        return values

    return run


def _is_port_config(value: object) -> object:
    if not isinstance(value, PortConfig):
        raise TypeError(f"must hold PortConfig values, got {value!r}")
    return value


def _is_limits(value: object) -> object:
    if not isinstance(value, Limits):
        raise TypeError(f"must be a dsexec.security.Limits, got {value!r}")
    return value


def _app_value(value: object) -> object:
    if value == "" or _check_app(value) is None:
        raise ValueError("must be 'module:attr' or None")
    return value


@final
@attrs.frozen
class PortConfig:
    """One listening port: its number, whether it speaks TLS, and its own web root (if any)."""

    port: int = attrs.field(validator=_validator(_check_port))
    """The port number; 0 lets the system pick a free one."""
    tls: bool = attrs.field(default=False, validator=_validator(_check_bool))
    """Whether connections start with a TLS handshake (certificate: ``ServerConfig.certfile``)."""
    root: Path | None = attrs.field(default=None, validator=_validator(_optional(_check_path)))
    """The directory served on this port; ``None``: the server's ``root``."""


def _default_ports() -> tuple[PortConfig, ...]:
    return tuple(PortConfig(port) for port in DEFAULT_PORTS)


@final
@attrs.frozen(kw_only=True)
class ServerConfig:
    """Everything MedusaServ needs to start, validated (see :func:`load_config`).

    ``ServerConfig()`` is the default server: ports 8080, 8060, 8070 and 8666 on ``::``
    (dual-stack), serving ``examples/www``. Wrong types are ``TypeError``, bad values
    ``ValueError``, each naming the field.
    """

    ports: tuple[PortConfig, ...] = attrs.field(
        factory=_default_ports, validator=_validator(_each(_is_port_config))
    )
    """The listening ports, plain and TLS, in the order given."""
    host: str = attrs.field(default="::", validator=_validator(_check_host))
    """The address to listen on; ``::`` is every address, IPv6 and IPv4 (dual-stack)."""
    root: Path = attrs.field(default=DEFAULT_ROOT, validator=_validator(_check_path))
    """The directory served (ports without a root of their own)."""
    certfile: Path | None = attrs.field(default=None, validator=_validator(_optional(_check_path)))
    """The TLS certificate chain (PEM), for TLS ports."""
    keyfile: Path | None = attrs.field(default=None, validator=_validator(_optional(_check_path)))
    """The TLS private key (PEM), for TLS ports."""
    block: tuple[IPNetwork, ...] = attrs.field(
        default=(), validator=_validator(_each(_check_network))
    )
    """Peers refused at accept (addresses are /32 or /128 networks)."""
    allow: tuple[IPNetwork, ...] = attrs.field(
        default=(), validator=_validator(_each(_check_network))
    )
    """If not empty, only these peers are served (an allow-list); empty: everyone not blocked.
    Give ``AccessControlList(blocked=block, allowed=allow or None)``."""
    limits: Limits = attrs.field(factory=Limits, validator=_validator(_is_limits))
    """Connection limits and timeouts (``--keepalive-timeout`` is ``limits.idle_timeout``)."""
    backend: str = attrs.field(default="io_context", validator=_validator(_check_backend))
    """Which event loop runs the pipelines: one of :data:`BACKENDS`."""
    app: str | None = attrs.field(default=None, validator=_validator(_optional(_app_value)))
    """An ASGI application as ``module:attr``, or ``None`` for static files only."""
    workers: int = attrs.field(default=1, validator=_validator(_check_workers))
    """Worker processes (each runs every port; 1: this process only)."""
    access_log: bool = attrs.field(default=False, validator=_validator(_check_bool))
    """Whether every request is logged."""
    drain_timeout: float = attrs.field(
        default=DEFAULT_DRAIN_TIMEOUT, validator=_validator(_check_drain_timeout)
    )
    """Seconds a graceful shutdown waits for requests in flight before closing the rest."""

    def __attrs_post_init__(self) -> None:
        if not self.ports:
            raise ValueError("ServerConfig: ports: at least one port is needed")
        seen: set[int] = set()
        for entry in self.ports:
            if entry.port in seen:
                raise ValueError(f"ServerConfig: ports: port {entry.port} is listed twice")
            if entry.port:
                seen.add(entry.port)
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("ServerConfig: certfile and keyfile go together")
        if self.tls_ports and self.certfile is None:
            raise ValueError(
                f"ServerConfig: TLS port {self.tls_ports[0]} needs certfile and keyfile"
            )

    @property
    def tls_ports(self) -> tuple[int, ...]:
        """The numbers of the TLS ports, in order."""
        return tuple(entry.port for entry in self.ports if entry.tls)

    @property
    def plain_ports(self) -> tuple[int, ...]:
        """The numbers of the plain HTTP ports, in order."""
        return tuple(entry.port for entry in self.ports if not entry.tls)

    def root_for(self, port: PortConfig) -> Path:
        """The directory served on ``port``: its own root, else the server's."""
        return port.root if port.root is not None else self.root


# -- the command line --------------------------------------------------------------------------

_LIMIT_FLAGS: Final = {
    "max_connections": "max_connections",
    "header_timeout": "header_timeout",
    "request_timeout": "request_timeout",
    "keepalive_timeout": "idle_timeout",
}
# [limits] keys of the file: the flags plus the Limits fields without one.
_LIMIT_KEYS: Final = {
    **_LIMIT_FLAGS,
    "max_header_bytes": "max_header_bytes",
    "max_body_bytes": "max_body_bytes",
    "write_timeout": "write_timeout",
    "tls_handshake_timeout": "tls_handshake_timeout",
}


def _limit_check(field: str) -> Callable[[object], object]:
    """The validation of one ``Limits`` field, its message without the ``Limits: field``."""

    def check(value: object) -> object:
        try:
            Limits(**{field: value})  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            message = str(exc).removeprefix(f"Limits: {field}").lstrip(": ")
            raise type(exc)(message) from None
        return value

    return check


def _argument(
    parse: Callable[[str], T], check: Callable[[object], object] | None = None
) -> Callable[[str], T]:
    """An argparse ``type=``: ``parse`` the text, then ``check`` it, errors as one line."""

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not {'an integer' if parse is int else 'a number'}: {text!r}"
            ) from None
        if check is not None:
            try:
                check(value)
            except (TypeError, ValueError) as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return convert


def _text_argument(check: Callable[[object], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return check(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage error as one line (no usage block above it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``medusa-serv`` argument parser (every default ``None``: "not given"); a bad flag
    is one line on standard error and exit status 2."""
    parser = _Parser(
        prog="medusa-serv",
        description="MedusaServ: a multi-port dual-stack web server written as dsexec "
        "sender pipelines.",
        epilog="Flags override the --config file; repeated flags (--port, --tls-port, "
        "--block, --allow) replace the file's list.",
    )
    add = parser.add_argument
    port = _argument(int, _check_port)
    add(
        "--port",
        action="append",
        type=port,
        metavar="N",
        help="plain HTTP port, repeatable (default 8080 8060 8070 8666; 0: any free port)",
    )
    add("--tls-port", action="append", type=port, metavar="N", help="TLS port (repeatable)")
    add("--certfile", metavar="F", help="TLS certificate chain (PEM)")
    add("--keyfile", metavar="F", help="TLS private key (PEM)")
    add("--root", metavar="DIR", help="directory to serve (default: examples/www)")
    add("--host", type=_text_argument(_check_host), metavar="H", help="address (default ::)")
    network = _text_argument(_check_network)
    add("--block", action="append", type=network, metavar="CIDR", help="refuse these peers")
    add("--allow", action="append", type=network, metavar="CIDR", help="serve only these peers")
    defaults = Limits()
    limit_help = {
        "max_connections": "connections open at once; the next get 503",
        "header_timeout": "seconds to receive a request's headers",
        "request_timeout": "seconds to receive a whole request",
        "keepalive_timeout": "seconds an idle keep-alive connection is kept",
    }
    for flag, field in _LIMIT_FLAGS.items():
        parse: Callable[[str], int | float] = int if flag == "max_connections" else float
        add(
            f"--{flag.replace('_', '-')}",
            type=_argument(parse, _limit_check(field)),
            metavar="N" if parse is int else "S",
            help=f"{limit_help[flag]} (default {getattr(defaults, field):g}; inf: no limit)"
            if parse is float
            else f"{limit_help[flag]} (default {getattr(defaults, field)})",
        )
    add(
        "--backend",
        type=_text_argument(_check_backend),
        metavar="|".join(BACKENDS),
        help="event loop (default io_context: dsexec's own reactor)",
    )
    add(
        "--app",
        type=_text_argument(_check_app),
        metavar="module:attr",
        help="an ASGI 3 application to serve (default: none, static files only)",
    )
    add(
        "--workers",
        type=_argument(int, _check_workers),
        metavar="N",
        help="processes, each serving every port (default 1)",
    )
    add("--access-log", action=argparse.BooleanOptionalAction, help="log every request")
    add(
        "--drain-timeout",
        type=_argument(float, _check_drain_timeout),
        metavar="S",
        help=f"graceful shutdown deadline (default {DEFAULT_DRAIN_TIMEOUT:g})",
    )
    add("--config", metavar="FILE.toml", help="TOML config file (flags override it)")
    return parser


# -- the file ----------------------------------------------------------------------------------

_TOP_KEYS: Final = frozenset(
    {
        "host",
        "root",
        "ports",
        "certfile",
        "keyfile",
        "block",
        "allow",
        "backend",
        "app",
        "workers",
        "access_log",
        "drain_timeout",
        "limits",
    }
)
_PORT_KEYS: Final = frozenset({"port", "tls", "root"})


@attrs.define
class _Draft:
    """The configuration while it is merged: values, and where each came from (for errors)."""

    values: dict[str, object] = attrs.field(factory=dict)
    limits: dict[str, object] = attrs.field(factory=dict)
    plain: list[PortConfig] | None = None
    tls: list[PortConfig] | None = None
    origin: dict[str, str] = attrs.field(factory=dict)


def _checked(where: str, check: Callable[[object], T], value: object) -> T:
    try:
        return check(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _file_path(base: Path, where: str, value: object) -> Path:
    path = _checked(where, _check_path, value)
    return path if path.is_absolute() else base / path


def _file_ports(
    source: str, base: Path, value: object
) -> tuple[list[PortConfig], list[PortConfig]]:
    if not isinstance(value, list):
        raise ConfigError(f"{source}: ports: must be a list of port numbers or tables")
    plain: list[PortConfig] = []
    tls: list[PortConfig] = []
    for index, item in enumerate(value):
        where = f"{source}: ports[{index}]"
        if isinstance(item, dict):
            for key in item:
                if key not in _PORT_KEYS:
                    raise ConfigError(f"{where}: unknown key {key!r} (port, tls, root)")
            if "port" not in item:
                raise ConfigError(f"{where}: missing key 'port'")
            number = _checked(f"{where}.port", _check_port, item["port"])
            is_tls = _checked(f"{where}.tls", _check_bool, item.get("tls", False))
            root = None
            if "root" in item:
                root = _file_path(base, f"{where}.root", item["root"])
            entry = PortConfig(number, is_tls, root)
        else:
            entry = PortConfig(_checked(where, _check_port, item))
        (tls if entry.tls else plain).append(entry)
    return plain, tls


def _networks(where: str, value: object) -> tuple[IPNetwork, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list of CIDR strings, got {value!r}")
    return tuple(_checked(where, _check_network, item) for item in value)


def _read_file(path: Path, draft: _Draft) -> None:
    source = str(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"--config: file not found: {source}") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    base = path.resolve().parent
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r}")
    simple: Mapping[str, Callable[[object], object]] = {
        "host": _check_host,
        "backend": _check_backend,
        "app": _check_app,
        "workers": _check_workers,
        "access_log": _check_bool,
        "drain_timeout": _check_drain_timeout,
    }
    for key, check in simple.items():
        if key in data:
            draft.values[key] = _checked(f"{source}: {key}", check, data[key])
    for key in ("root", "certfile", "keyfile"):
        if key in data:
            draft.values[key] = _file_path(base, f"{source}: {key}", data[key])
            draft.origin[key] = f"{source}: {key}"
    for key in ("block", "allow"):
        if key in data:
            draft.values[key] = _networks(f"{source}: {key}", data[key])
    if "ports" in data:
        draft.plain, draft.tls = _file_ports(source, base, data["ports"])
        draft.origin["ports"] = f"{source}: ports"
    if "limits" in data:
        limits = data["limits"]
        if not isinstance(limits, dict):
            raise ConfigError(f"{source}: limits: must be a table ([limits])")
        for key, value in limits.items():
            field = _LIMIT_KEYS.get(key)
            if field is None:
                raise ConfigError(f"{source}: unknown key {key!r} in [limits]")
            draft.limits[field] = _checked(f"{source}: [limits] {key}", _limit_check(field), value)
            draft.origin[field] = f"{source}: [limits] {key}"


def _apply_flags(args: argparse.Namespace, draft: _Draft) -> None:
    for key in ("host", "backend", "app", "workers", "access_log", "drain_timeout"):
        value = getattr(args, key)
        if value is not None:
            draft.values[key] = value
    for key in ("root", "certfile", "keyfile"):
        value = getattr(args, key)
        if value is not None:
            draft.values[key] = _checked(f"--{key}", _check_path, value)
            draft.origin[key] = f"--{key}"
    for key in ("block", "allow"):
        value = getattr(args, key)
        if value is not None:
            draft.values[key] = tuple(value)
    if args.port is not None:
        draft.plain = [PortConfig(port) for port in args.port]
        draft.origin["ports"] = "--port"
    if args.tls_port is not None:
        draft.tls = [PortConfig(port, tls=True) for port in args.tls_port]
        draft.origin["tls_ports"] = "--tls-port"
    for flag, field in _LIMIT_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            draft.limits[field] = value
            draft.origin[field] = f"--{flag.replace('_', '-')}"


def _check_files(config: ServerConfig, origin: Mapping[str, str]) -> None:
    """The roots must be directories, the certificate and key files: named in the error."""
    if not config.root.is_dir():
        where = origin.get("root", "root (default)")
        raise ConfigError(f"{where}: not a directory: {config.root}")
    for entry in config.ports:
        if entry.root is not None and not entry.root.is_dir():
            where = origin.get("ports", "ports")
            raise ConfigError(f"{where}: port {entry.port}: root is not a directory: {entry.root}")
    for key, path in (("certfile", config.certfile), ("keyfile", config.keyfile)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{origin.get(key, key)}: file not found: {path}")


def load_config(argv: Sequence[str] | None = None) -> ServerConfig:
    """The configuration from the command line ``argv`` (default ``sys.argv[1:]``) and the
    ``--config`` file it names, flags overriding the file.

    A malformed flag makes argparse print its usage error and raise ``SystemExit(2)``; any
    other problem raises :class:`ConfigError` with a one-line message naming the flag or key
    (see the module docstring).
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    draft = _Draft()
    if args.config is not None:
        _read_file(Path(args.config), draft)
    _apply_flags(args, draft)
    return _finish(draft)


def _finish(draft: _Draft) -> ServerConfig:
    """Cross-field checks with messages naming the flag or key, then the value, then files."""
    plain = draft.plain if draft.plain is not None else list(_default_ports())
    tls = draft.tls or []
    ports_origin = draft.origin.get("ports", "ports")
    tls_origin = draft.origin.get("tls_ports", ports_origin)
    if not plain and not tls:
        raise ConfigError(f"{ports_origin}: no port to listen on")
    seen: set[int] = set()
    for entry in (*plain, *tls):
        if entry.port in seen:
            raise ConfigError(f"{ports_origin}: port {entry.port} is listed twice")
        if entry.port:
            seen.add(entry.port)
    has_cert, has_key = "certfile" in draft.values, "keyfile" in draft.values
    if has_cert != has_key:
        given, missing = ("certfile", "keyfile") if has_cert else ("keyfile", "certfile")
        raise ConfigError(f"{draft.origin[given]}: needs {missing} too")
    if tls and not has_cert:
        if tls_origin == "--tls-port":
            raise ConfigError("--tls-port needs --certfile and --keyfile")
        raise ConfigError(
            f"{tls_origin}: TLS port {tls[0].port} needs certfile and keyfile "
            "(keys, or --certfile and --keyfile)"
        )
    limits = Limits(**draft.limits)  # type: ignore[arg-type]  # each field checked already
    try:
        config = ServerConfig(
            ports=(*plain, *tls),
            limits=limits,
            **draft.values,  # type: ignore[arg-type]
        )
    except (TypeError, ValueError) as exc:  # pragma: no cover - each value checked already
        raise ConfigError(str(exc)) from None
    _check_files(config, draft.origin)
    return config
