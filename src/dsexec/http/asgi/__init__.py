"""ASGI 3 on dsexec's HTTP pipelines: serve any ASGI application (Starlette, FastAPI, ...).

``asgi_handler(app)`` turns an app into a ``dsexec.http`` handler (the ``http`` scope, with
``receive``/``send`` on the request's body and the response's writer), ``Lifespan`` runs its
``lifespan`` protocol, and ``serve_asgi(app, *acceptors)`` is the whole server on the running
anyio loop (asyncio, uvloop, trio). From the command line::

    python -m dsexec.http.asgi module:app --port 8000 [--port N]... [--host ::]
        [--loop auto|asyncio|uvloop|trio] [--workers N]

See ``docs/asgi.md``.
"""

from ._cli import import_app as import_app
from ._exchange import ClientDisconnected as ClientDisconnected
from ._handler import AsgiHandler as AsgiHandler
from ._handler import asgi_handler as asgi_handler
from ._lifespan import Lifespan as Lifespan
from ._lifespan import LifespanFailed as LifespanFailed
from ._serve import serve_asgi as serve_asgi
from ._types import ASGIApp as ASGIApp
from ._types import Message as Message
from ._types import Receive as Receive
from ._types import Scope as Scope
from ._types import Send as Send

__all__ = [
    "ASGIApp",
    "AsgiHandler",
    "ClientDisconnected",
    "Lifespan",
    "LifespanFailed",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "asgi_handler",
    "import_app",
    "serve_asgi",
]
