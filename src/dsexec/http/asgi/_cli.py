"""``python -m dsexec.http.asgi module:app``: the command line, in the style users know from
uvicorn.

    python -m dsexec.http.asgi module:app --port 8000 [--port N]... [--host ::]
        [--loop auto|asyncio|uvloop|trio] [--workers N] [--root-path /api]
        [--lifespan auto|on|off] [--access-log] [--drain-timeout S]
        [--max-connections N] [--max-body-bytes N] [--header-timeout S]
        [--request-timeout S] [--idle-timeout S] [--app-dir DIR]

One process (``--workers 1``, the default) binds every port, runs the app's lifespan startup,
prints ``listening on [::]:8000 (dual-stack)`` per port and serves on the chosen loop.
``--workers N`` forks N such processes after checking the ports are free; each binds them
with ``SO_REUSEPORT``, so the kernel spreads the connections over them, and the first process
supervises (its lines are printed once every worker has started).

SIGINT or SIGTERM drains (no new clients, requests in flight finish for up to
``--drain-timeout`` seconds), shuts the app down and exits 0; a second SIGINT exits at once
(status 130). Mistakes -- a bad flag, an app that cannot be imported, a port in use, a failed
lifespan startup -- print one ``error:`` line and exit non-zero (2 for usage, 1 otherwise),
without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import logging
import math
import os
import select
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Final, NoReturn, TypeVar

import anyio

from ..._core import Env, NetError, StopSource
from ...net import Acceptor, create_acceptor
from ...schedulers import AnyioScheduler, on_signals
from ...security import Limits
from ._lifespan import LIFESPAN_MODES, LifespanFailed
from ._serve import serve_asgi
from ._types import ASGIApp

__all__ = ["CliError", "import_app", "listening_line", "main"]

_LOOPS: Final = ("auto", "asyncio", "uvloop", "trio")
_EXIT_NOW: Final = 130  # a second SIGINT: out at once (128 + SIGINT)
_logger = logging.getLogger("dsexec.http")


class CliError(ValueError):
    """Raised for a mistake the command line reports as one ``error:`` line (exit 1)."""


# -- arguments -----------------------------------------------------------------------------

_N = TypeVar("_N", int, float)


def _parsed(text: str, kind: Callable[[str], _N], what: str) -> _N:
    """``kind(text)``; ``ArgumentTypeError`` "expected {what}" when it is not one."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _parsed(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _parsed(text, int, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: any free one), got {value}")
    return value


def _seconds(text: str) -> float:
    value = _parsed(text, float, "seconds")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (and a pointer to ``--help``), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, parsed (a mistake exits 2 with one line)."""
    parser = _Parser(
        prog="python -m dsexec.http.asgi",
        description="Serve an ASGI application on dsexec's HTTP/1.1 pipelines.",
    )
    parser.add_argument("app", help="the application, as module:attribute (e.g. main:app)")
    parser.add_argument(
        "--port",
        type=_port,
        action="append",
        help="port to listen on; repeat for more (default 8000; 0: any free port)",
    )
    parser.add_argument(
        "--host", default="::", help="IP address to bind (default '::': IPv6 and IPv4)"
    )
    parser.add_argument(
        "--loop",
        choices=_LOOPS,
        default="auto",
        help="event loop (default auto: uvloop if installed, else asyncio)",
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=1, help="processes sharing the ports"
    )
    parser.add_argument("--root-path", default="", help="the prefix a proxy strips (ASGI)")
    parser.add_argument(
        "--lifespan", choices=LIFESPAN_MODES, default="auto", help="lifespan protocol"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=10.0,
        help="seconds requests in flight may take to finish on shutdown (default 10)",
    )
    parser.add_argument("--max-connections", type=_positive_int, help="connections at once")
    parser.add_argument("--max-body-bytes", type=_positive_int, help="bytes of a request body")
    parser.add_argument("--header-timeout", type=_seconds, help="seconds to send the headers")
    parser.add_argument("--request-timeout", type=_seconds, help="seconds for a whole request")
    parser.add_argument(
        "--idle-timeout", type=_seconds, help="seconds a keep-alive connection may idle"
    )
    parser.add_argument(
        "--app-dir", default=".", help="directory put first on sys.path (default: '.')"
    )
    args = parser.parse_args(argv)
    if not args.port:
        args.port = [8000]
    if args.root_path and (args.root_path.endswith("/") or not args.root_path.startswith("/")):
        parser.error(f"--root-path must start with '/' and not end with one: {args.root_path!r}")
    return args


def _limits(args: argparse.Namespace) -> Limits:
    options = {
        field: getattr(args, field)
        for field in (
            "max_connections",
            "max_body_bytes",
            "header_timeout",
            "request_timeout",
            "idle_timeout",
        )
        if getattr(args, field) is not None
    }
    return Limits(**options)


# -- the app ------------------------------------------------------------------------------


def import_app(reference: str, app_dir: str = ".") -> ASGIApp:
    """The ASGI app ``module:attribute`` names (``attribute`` may be dotted), importing
    ``module`` with ``app_dir`` first on ``sys.path``; a ``ValueError`` saying in one line what
    is wrong otherwise (a bad reference, a module that cannot be imported or raises, a missing
    attribute, a non-callable)."""
    module_name, colon, attribute = reference.partition(":")
    if not colon or not module_name or not attribute:
        raise CliError(f"APP must look like module:attribute (e.g. main:app), got {reference!r}")
    if app_dir:
        sys.path.insert(0, os.path.abspath(app_dir))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise CliError(f"cannot import module {module_name!r}: {exc}") from None
        raise CliError(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise CliError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    app: Any = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise CliError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(app):
        raise CliError(f"{reference} is not an ASGI app (not callable): {type(app).__name__}")
    result: ASGIApp = app
    return result


# -- listening ----------------------------------------------------------------------------


def listening_line(acceptor: Acceptor) -> str:
    """``listening on [::]:8000 (dual-stack)``, ``listening on 127.0.0.1:8000``, ..."""
    host = acceptor.host
    where = f"[{host}]" if host.version == 6 else str(host)
    suffix = " (dual-stack)" if host.version == 6 and acceptor.dual_stack else ""
    return f"listening on {where}:{acceptor.port}{suffix}"


def _bind(host: str, ports: Sequence[int], *, reuse_port: bool) -> list[Acceptor]:
    acceptors: list[Acceptor] = []
    try:
        for port in ports:
            acceptors.append(create_acceptor(port, host, reuse_port=reuse_port))
    except (NetError, ValueError) as exc:
        for acceptor in acceptors:
            acceptor.close()
        raise CliError(f"cannot listen on port {port}: {exc}") from None
    return acceptors


# -- one serving process ------------------------------------------------------------------


def _loop_options(loop: str) -> tuple[str, dict[str, Any]]:
    if loop == "trio":
        if importlib.util.find_spec("trio") is None:
            raise CliError("--loop trio needs trio installed (pip install trio)")
        return "trio", {}
    if loop in ("uvloop", "auto"):
        if importlib.util.find_spec("uvloop") is None:
            if loop == "uvloop":
                raise CliError("--loop uvloop needs uvloop installed (pip install uvloop)")
            return "asyncio", {}
        return "asyncio", {"use_uvloop": True}
    return "asyncio", {}


def _exit_now(signum: int, frame: FrameType | None) -> None:
    os._exit(_EXIT_NOW)


class _FirstSignal:
    """The receiver of ``on_signals``: remembers the signal, makes a second SIGINT end the
    process at once (installed right as the first one is handled: no window), wakes the
    server's task."""

    def __init__(self, source: StopSource) -> None:
        self.event = anyio.Event()
        self.signum = 0
        self._env = Env(source.token, None)

    def set_value(self, signum: int, /) -> None:
        self.signum = signum
        signal.signal(signal.SIGINT, _exit_now)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # another SIGTERM changes nothing
        self.event.set()

    def set_error(self, error: BaseException, /) -> None:
        _logger.error("watching for signals failed: %s", error)
        self.event.set()

    def set_stopped(self) -> None:
        self.event.set()

    def get_env(self) -> Env:
        return self._env


async def _serve_until_signal(
    app: ASGIApp, acceptors: list[Acceptor], args: argparse.Namespace, ready: Any
) -> None:
    source = StopSource()
    first = _FirstSignal(source)
    async with anyio.create_task_group() as serving:
        # The handlers go in before the first client can be answered: a SIGINT from a client
        # that saw a response (or the "listening on" lines) drains like any other. One that
        # comes during the app's startup drains as soon as the startup is done.
        watching = on_signals(AnyioScheduler(), signal.SIGINT, signal.SIGTERM).connect(first)
        watching.start()
        try:
            await serving.start(
                lambda task_status: serve_asgi(
                    app,
                    *acceptors,
                    lifespan=args.lifespan,
                    root_path=args.root_path,
                    limits=_limits(args),
                    drain_timeout=args.drain_timeout,
                    access_log=args.access_log,
                    task_status=task_status,
                )
            )
            ready()
            await first.event.wait()
        finally:
            source.request_stop()  # (completed already, unless we are leaving early)
        if first.signum:
            _logger.info(
                "%s: shutting down (requests in flight get up to %g s; Ctrl-C again stops at once)",
                signal.Signals(first.signum).name,
                args.drain_timeout,
            )
        serving.cancel_scope.cancel()  # drain, then the lifespan shutdown


def serve(app: ASGIApp, acceptors: list[Acceptor], args: argparse.Namespace, ready: Any) -> None:
    """Serve until a signal (one process); ``ready()`` once startup is done. ``CliError`` if
    the app's startup fails."""
    backend, options = _loop_options(args.loop)
    try:
        anyio.run(
            _serve_until_signal,
            app,
            acceptors,
            args,
            ready,
            backend=backend,
            backend_options=options,
        )
    except LifespanFailed as exc:
        raise CliError(str(exc)) from None
    except BaseExceptionGroup as group:
        failed = _first(group, LifespanFailed)
        if failed is None:
            raise
        raise CliError(str(failed)) from None
    finally:
        for acceptor in acceptors:
            acceptor.close()


def _first(group: BaseExceptionGroup[Any], kind: type[BaseException]) -> BaseException | None:
    """The first exception of type ``kind`` in ``group`` (nested groups included)."""
    for error in group.exceptions:
        if isinstance(error, kind):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first(error, kind)
            if found is not None:
                return found
    return None


# -- several processes --------------------------------------------------------------------


def _worker(app: ASGIApp, args: argparse.Namespace, ports: list[int], report: int) -> int:
    """A forked worker: bind the ports with SO_REUSEPORT, serve, tell the parent how it went
    on ``report`` (``ok`` once started, or the error line)."""

    def ready() -> None:
        os.write(report, b"ok\n")

    try:
        acceptors = _bind(args.host, ports, reuse_port=True)
        serve(app, acceptors, args, ready)
    except CliError as exc:
        with contextlib.suppress(OSError):
            os.write(report, f"error: {exc}\n".encode(errors="replace"))
        return 1
    return 0


def _supervise(app: ASGIApp, args: argparse.Namespace, acceptors: list[Acceptor]) -> int:
    ports = [acceptor.port for acceptor in acceptors]
    lines = [listening_line(acceptor) for acceptor in acceptors]
    for acceptor in acceptors:  # only a check that the ports are free: the workers bind them
        acceptor.close()
    workers: dict[int, int] = {}  # pid -> read end of its report pipe
    for _ in range(args.workers):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (its coverage is its own process)
            os.close(read_end)
            code = 1
            try:
                code = _worker(app, args, ports, write_end)
            finally:
                os._exit(code)
        os.close(write_end)
        workers[pid] = read_end
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping and signum == signal.SIGINT:
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os._exit(_EXIT_NOW)
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    failure = _await_workers_ready(workers)
    if failure is not None:
        on_signal(signal.SIGTERM, None)
        print(failure, file=sys.stderr, flush=True)
    elif not stopping:
        for line in lines:
            print(line, flush=True)
    status = 0 if failure is None else 1
    for pid in list(workers):
        _, code = os.waitpid(pid, 0)
        os.close(workers.pop(pid))
        if os.waitstatus_to_exitcode(code) != 0:
            if not stopping:
                on_signal(signal.SIGTERM, None)
                print(f"error: worker {pid} exited with status {code}", file=sys.stderr)
            status = 1
    return status


def _await_workers_ready(workers: dict[int, int]) -> str | None:
    """Wait for every worker's report; the first error line, if any."""
    waiting = set(workers.values())
    while waiting:
        readable, _, _ = select.select(list(waiting), [], [])
        for fd in readable:
            report = os.read(fd, 4096).decode(errors="replace").strip()
            waiting.discard(fd)
            if report != "ok":
                return report or "error: a worker exited before it started"
    return None


# -- main ---------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _loop_options(args.loop)
        try:
            _limits(args)
        except (TypeError, ValueError) as exc:
            raise CliError(str(exc)) from None
        app = import_app(args.app, args.app_dir)
        # workers: bind without SO_REUSEPORT, so a port someone else shares fails here
        acceptors = _bind(args.host, args.port, reuse_port=False)
        if args.workers > 1:
            return _supervise(app, args, acceptors)

        def ready() -> None:
            for acceptor in acceptors:
                print(listening_line(acceptor), flush=True)

        serve(app, acceptors, args, ready)
    except CliError as exc:
        _fail(str(exc))
    return 0
