"""The one exception hierarchy of dsexec.

Every error dsexec raises on purpose derives from :class:`DsexecError`; where a stdlib type
already names the failure, the class subclasses it too (``NetError`` is an ``OSError``), so
``except OSError`` keeps working in code that predates dsexec.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "BusyResourceError",
    "ClosedResourceError",
    "DsexecError",
    "HttpError",
    "LimitOverrunError",
    "NetError",
    "Stopped",
    "TlsError",
]


class DsexecError(Exception):
    """Raised when dsexec itself reports a failure; the base class of every dsexec error."""


class Stopped(DsexecError):
    """Raised when a sender awaited with ``sync_wait`` or ``await`` completed with ``set_stopped``.

    The operation was cancelled through its stop token: nothing failed, but no value exists.
    """

    def __init__(self, message: str = "the operation completed with set_stopped") -> None:
        super().__init__(message)


class NetError(DsexecError, OSError):
    """Raised when a socket operation fails; carries ``errno`` and the address involved.

    It is an ``OSError``: ``exc.errno`` is the operating system's error number and the message
    names the address, e.g. ``[Errno 98] port 8080 on [::] is already in use``.
    """


class BusyResourceError(DsexecError):
    """Raised when a second task waits on the same direction (read or write) of one fd.

    One waiter per direction is the contract of the reactors (as in trio): two readers on one
    socket would race for the same bytes. Serialise the operations instead.
    """


class ClosedResourceError(DsexecError):
    """Raised when a socket or fd is closed while an operation is waiting on it."""


class LimitOverrunError(DsexecError):
    """Raised when a delimited read (``async_read_until``) finds no delimiter within its limit.

    Like ``asyncio.LimitOverrunError``: the bytes received stay unread on the socket;
    ``buffered`` says how many there are.
    """

    def __init__(self, message: str, buffered: int) -> None:
        super().__init__(message)
        self.buffered = buffered


class AccessDenied(DsexecError):
    """Raised when an access-control list refuses a peer address."""


class TlsError(DsexecError):
    """Raised when a TLS handshake or TLS record fails (bad certificate, garbage, truncation)."""


class HttpError(DsexecError):
    """Raised when an HTTP message is malformed or breaks a limit; ``status`` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
