"""Run inside a network namespace without IPv6 (see ``test_faults.py``): start the server
under test as the suites do, talk to it, and print what happened as one JSON object.

    unshare -rn sh -c '...disable IPv6...; exec python tests/reliability/_no_ipv6.py'
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reliability._harness import ServerProcess, get, make_site


def main() -> int:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as site:
        return run(make_site(Path(site)), report)


def run(site: Path, report: dict[str, Any]) -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("::1", 0))
            report["ipv6_loopback"] = True
        except OSError as exc:
            report["ipv6_loopback"] = False
            report["bind_errno"] = exc.errno
    with ServerProcess.start("--port", "0", "--root", str(site)) as server:
        report["listening"] = server.stdout.strip()
        report["ipv4_status"] = get(server.port, "/hello", "127.0.0.1").status
        try:
            get(server.port, "/hello", "::1", timeout=2.0)
            report["ipv6_error"] = None
        except OSError as exc:
            report["ipv6_error"] = exc.errno
    try:
        with ServerProcess.start("--port", "0", "--root", str(site), "--host", "::1") as server:
            report["explicit_ipv6"] = server.stdout.strip()
    except RuntimeError as exc:
        report["explicit_ipv6"] = None
        report["explicit_ipv6_error"] = str(exc)[-300:]
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
