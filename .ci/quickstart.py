"""Prove the README's quick start on this machine, as a newcomer meets it.

1. ``make demo`` on this checkout before anything else ran (no ``.venv`` yet, no dev extras):
   MedusaServ must serve the shipped site and its status page on each of its ports over IPv4
   and IPv6 (where the host has IPv6). Its default ports 8080 8060 8070 8666 when they are
   free here, else four free ones (``make demo PORTS="..."``).
2. A clean venv elsewhere with ``pip install .`` and no extras: ``import dsexec``, and the
   ``medusa-serv`` command it installed must serve the site it installed the same way.

Each server is probed with plain sockets, stopped with SIGINT and must exit 0. Bounded: every
wait has a deadline; a server that does not stop is killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 240.0  # make demo installs the project first
DEFAULT_PORTS = (8080, 8060, 8070, 8666)
PAGES = {b"/": b"MedusaServ", b"/_medusa/status": b'<svg class="chart"'}


def request(target: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: quickstart\r\nConnection: close\r\n\r\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET6 if has_ipv6() else socket.AF_INET) as probe:
        probe.bind(("::" if has_ipv6() else "0.0.0.0", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    try:
        with socket.socket(socket.AF_INET6 if has_ipv6() else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("::" if has_ipv6() else "0.0.0.0", port))
    except OSError:
        return False
    return True


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def answer(host: str, port: int, target: bytes = b"/") -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as client:
        client.settimeout(10)
        client.connect((host, port))
        client.sendall(request(target))
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


def wait_until_answering(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"quickstart: the demo server exited with {process.returncode}")
        try:
            answer("127.0.0.1", port)
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise SystemExit(f"quickstart: nothing answered on port {port} within {DEADLINE:.0f} s")


def check_server(
    what: str,
    command: list[str],
    ports: tuple[int, ...],
    *,
    cwd: Path,
    env: dict[str, str],
    stopped_codes: tuple[int, ...] = (0,),
) -> None:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        start_new_session=True,  # SIGINT reaches make and the server it started
    )
    try:
        for port in ports:
            wait_until_answering(process, port)
        hosts = ["127.0.0.1", "::1"] if has_ipv6() else ["127.0.0.1"]
        for port in ports:
            for host in hosts:
                for target, expected in PAGES.items():
                    reply = answer(host, port, target)
                    if not reply.startswith(b"HTTP/1.1 200 OK\r\n") or expected not in reply:
                        raise SystemExit(
                            f"quickstart: {what} answered {reply[:60]!r} for {target!r} over "
                            f"{host} port {port}"
                        )
            print(f"quickstart: {what} served / and /_medusa/status over "
                  f"{' and '.join(hosts)} on port {port}", flush=True)  # fmt: skip
        if len(hosts) == 1:
            print("quickstart: no IPv6 on this host; checked IPv4 only", flush=True)
        os.killpg(process.pid, signal.SIGINT)
        if process.wait(30) not in stopped_codes:
            raise SystemExit(f"quickstart: {what} exited with {process.returncode} on SIGINT")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def main() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    if (ROOT / ".venv").exists():
        print("quickstart: .venv exists already; `make demo` is checked on it as it is")
    # make itself dies of the SIGINT that stops the server (exit 2, or the signal).
    demo = ["make", "--no-print-directory", "demo"]
    ports: tuple[int, ...] = DEFAULT_PORTS
    if not all(port_is_free(port) for port in DEFAULT_PORTS):
        ports = tuple(free_port() for _ in DEFAULT_PORTS)
        print(f"quickstart: default ports busy here; make demo PORTS={ports}", flush=True)
        demo.append(f"PORTS={' '.join(map(str, ports))}")
    check_server(
        "make demo", demo, ports, cwd=ROOT, env=env, stopped_codes=(0, 2, 130, -signal.SIGINT)
    )

    with tempfile.TemporaryDirectory(prefix="dsexec-quickstart-") as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", str(ROOT)], check=True, cwd=scratch
        )
        # Where a C compiler and Python's headers are at hand, `pip install .` compiles.
        can_compile = shutil.which("cc") is not None and Path(
            sysconfig.get_paths()["include"], "Python.h"
        ).exists()
        probe = (
            "import dsexec, dsexec.net, dsexec.perf, sys; "
            "build = 'compiled' if dsexec.compiled else 'pure-Python'; "
            "print(f'import dsexec: ok, {build} build'); "
            f"sys.exit(0 if dsexec.compiled or not {can_compile} else 'expected compiled')"
        )
        subprocess.run(
            [python, "-c", probe],
            check=True,
            cwd=scratch,  # not the checkout: only the installed package can be imported
        )
        port = free_port()
        check_server(
            "medusa-serv from `pip install .`",
            [str(venv / "bin" / "medusa-serv"), "--port", str(port)],
            (port,),
            cwd=Path(scratch),  # not the checkout: the site comes from the install
            env=env,
        )


if __name__ == "__main__":
    main()
