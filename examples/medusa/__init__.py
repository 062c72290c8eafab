"""MedusaServ, the multi-port dual-stack web server: the configuration (command line and TOML
file), the rendering of the status page, the health check and the Prometheus metrics (pure,
tested without sockets in ``tests/examples/medusa/``), the server itself (``_server.py``: the
seed's accept pipelines on ``dsexec.http``) and the ``medusa-serv`` command (``_main.py``).

Run it as ``python examples/medusa_serv.py`` from a checkout, or as ``medusa-serv`` after
``pip install .`` (this package is installed as ``medusa``).
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
from ._main import main as main
from ._server import Listener as Listener
from ._server import MedusaServ as MedusaServ
from ._server import StartupError as StartupError
from ._status import HEALTH_CONTENT_TYPE as HEALTH_CONTENT_TYPE
from ._status import HEALTH_PATH as HEALTH_PATH
from ._status import METRICS_CONTENT_TYPE as METRICS_CONTENT_TYPE
from ._status import METRICS_PATH as METRICS_PATH
from ._status import PAGES_PREFIX as PAGES_PREFIX
from ._status import STATUS_CONTENT_TYPE as STATUS_CONTENT_TYPE
from ._status import STATUS_PATH as STATUS_PATH
from ._status import LatencyHistory as LatencyHistory
from ._status import PortStatus as PortStatus
from ._status import StatusData as StatusData
from ._status import render_health as render_health
from ._status import render_metrics as render_metrics
from ._status import render_status_page as render_status_page
from ._status import route as route

__all__ = [
    "BACKENDS",
    "DEFAULT_PORTS",
    "DEFAULT_ROOT",
    "HEALTH_CONTENT_TYPE",
    "HEALTH_PATH",
    "METRICS_CONTENT_TYPE",
    "METRICS_PATH",
    "PAGES_PREFIX",
    "STATUS_CONTENT_TYPE",
    "STATUS_PATH",
    "ConfigError",
    "IPNetwork",
    "LatencyHistory",
    "Listener",
    "MedusaServ",
    "PortConfig",
    "PortStatus",
    "ServerConfig",
    "StartupError",
    "StatusData",
    "build_parser",
    "load_config",
    "main",
    "render_health",
    "render_metrics",
    "render_status_page",
    "route",
]
