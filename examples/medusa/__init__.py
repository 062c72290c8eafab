"""MedusaServ's own parts, apart from its I/O: the configuration (command line and TOML file)
and the rendering of the status page, the health check and the Prometheus metrics.

``examples/medusa_serv.py`` wires them to ``dsexec.http``; everything here is pure and tested
without sockets (``tests/examples/medusa/``).
"""

from ._config import BACKENDS as BACKENDS
from ._config import DEFAULT_PORTS as DEFAULT_PORTS
from ._config import DEFAULT_ROOT as DEFAULT_ROOT
from ._config import ConfigError as ConfigError
from ._config import IPNetwork as IPNetwork
from ._config import PortConfig as PortConfig
from ._config import ServerConfig as ServerConfig
from ._config import build_parser as build_parser
from ._config import load_config as load_config

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
