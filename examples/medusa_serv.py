"""MedusaServ: a multi-port, dual-stack web server written as dsexec sender pipelines.

    python examples/medusa_serv.py                  # ports 8080 8060 8070 8666, examples/www
    python examples/medusa_serv.py --port 0 --root /srv/site --block 203.0.113.0/24
    python examples/medusa_serv.py --config deploy/medusa.toml --workers 2

Installed by ``pip install .`` as the ``medusa-serv`` command. Every flag: ``--help`` and
``docs/medusaserv.md``. The server lives in ``examples/medusa/`` (``_server.py`` holds the
accept pipelines, ``_main.py`` this command line).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: make the examples package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.medusa import main

if __name__ == "__main__":
    raise SystemExit(main())
