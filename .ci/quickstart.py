"""Prove the README's quick start on this machine, as a newcomer meets it.

1. ``make demo`` on this checkout before anything else ran (no ``.venv`` yet, no dev extras):
   the demo server must answer over IPv4 and IPv6 (where the host has IPv6).
2. A clean venv elsewhere with ``pip install .`` and no extras: ``import dsexec`` and the demo
   server, run from that install, must answer the same way.

Each server is started on a free port, probed with plain sockets, stopped with SIGINT and must
exit 0. Bounded: every wait has a deadline; a server that does not stop is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 240.0  # make demo installs the project first
REQUEST = b"GET / HTTP/1.1\r\nHost: quickstart\r\nConnection: close\r\n\r\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET6 if has_ipv6() else socket.AF_INET) as probe:
        probe.bind(("::" if has_ipv6() else "0.0.0.0", 0))
        return int(probe.getsockname()[1])


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def answer(host: str, port: int) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as client:
        client.settimeout(10)
        client.connect((host, port))
        client.sendall(REQUEST)
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
    command: Callable[[int], list[str]],
    cwd: Path,
    env: dict[str, str],
    stopped_codes: tuple[int, ...] = (0,),
) -> None:
    port = free_port()
    process = subprocess.Popen(
        command(port),
        cwd=cwd,
        env=env,
        start_new_session=True,  # SIGINT reaches make and the server it started
    )
    try:
        wait_until_answering(process, port)
        hosts = ["127.0.0.1", "::1"] if has_ipv6() else ["127.0.0.1"]
        for host in hosts:
            reply = answer(host, port)
            if not reply.startswith(b"HTTP/1.1 200 OK\r\n"):
                raise SystemExit(f"quickstart: {what} answered {reply[:60]!r} over {host}")
            print(f"quickstart: {what} answered over {host} port {port}", flush=True)
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
    check_server(
        "make demo",
        lambda port: ["make", "--no-print-directory", "demo", f"PORT={port}"],
        ROOT,
        env,
        stopped_codes=(0, 2, 130, -signal.SIGINT),
    )

    with tempfile.TemporaryDirectory(prefix="dsexec-quickstart-") as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", str(ROOT)], check=True, cwd=scratch
        )
        subprocess.run(
            [python, "-c", "import dsexec, dsexec.net, dsexec.perf; print('import dsexec: ok')"],
            check=True,
            cwd=scratch,  # not the checkout: only the installed package can be imported
        )
        script = str(ROOT / "examples" / "hello_pipeline.py")
        check_server(
            "the demo from `pip install .`",
            lambda port: [python, script, str(port)],
            Path(scratch),
            env,
        )


if __name__ == "__main__":
    main()
