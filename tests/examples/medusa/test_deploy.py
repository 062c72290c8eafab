"""The files in ``deploy/`` agree with MedusaServ: the systemd unit's and the Dockerfile's
command lines parse, the Dockerfile exposes the default ports and copies what ``pip install .``
needs, the unit stops with SIGTERM and waits longer than a drain."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from examples.medusa import DEFAULT_PORTS, ServerConfig, build_parser

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


def unit_values(key: str) -> list[str]:
    text = (DEPLOY / "medusa-serv.service").read_text()
    return re.findall(rf"^{key}=(.*)$", text, re.M)


def test_the_systemd_unit_runs_medusa_serv_and_outlasts_a_drain() -> None:
    [exec_start] = unit_values("ExecStart")
    program, *args = shlex.split(exec_start)
    assert program.endswith("/medusa-serv")
    build_parser().parse_args(args)  # exits 2 on a flag medusa-serv does not have
    assert unit_values("KillSignal") == ["SIGTERM"]
    [stop] = unit_values("TimeoutStopSec")
    assert float(stop) > ServerConfig().drain_timeout


def test_the_dockerfile_installs_the_package_and_exposes_the_default_ports() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    [exposed] = re.findall(r"^EXPOSE (.*)$", text, re.M)
    assert tuple(int(port) for port in exposed.split()) == DEFAULT_PORTS
    copied = " ".join(re.findall(r"^COPY (.*)$", text, re.M))
    for needed in ("pyproject.toml", "setup.py", "README.md", "src", "examples"):
        assert needed in copied
    assert re.search(r"^RUN pip install --no-cache-dir \.", text, re.M)
    assert re.search(r'^ENTRYPOINT \["medusa-serv"\]$', text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert "/_medusa/health" in text


def test_haproxy_checks_the_health_page() -> None:
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert "uri /_medusa/health" in text
    assert re.search(r"^\s+retry-on ", text, re.M)
    assert re.search(r"^\s+option redispatch", text, re.M)
