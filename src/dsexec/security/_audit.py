"""The audit log: the ``dsexec.audit`` logger and the helpers that write its records.

Every security-relevant event of a server is one ``logging`` record on the ``dsexec.audit``
logger, written by one of four helpers so that all callers agree on the record's shape:

* ``audit_accept(peer, port)``: INFO, event ``"accept"``, reason ``"accepted"``;
* ``audit_denied(peer, port, reason)``: WARNING, event ``"deny"``, reason why
  (``"blocked by access list"``);
* ``audit_tls_failure(peer, port, reason)``: WARNING, event ``"tls_failure"``, the error
  (``"TlsError: ..."``);
* ``audit_limit(peer, port, limit)``: WARNING, event ``"limit"``, reason the ``Limits`` field
  that was hit (``"max_connections"``, ``"header_timeout"``).

Each record carries the attributes ``event``, ``peer`` (an ``IPv4Address``/``IPv6Address``,
IPv4-mapped IPv6 peers unmapped to IPv4; a ``str`` that is no IP literal is kept as is; ``None``
when unknown), ``local_port`` (``int``) and ``reason`` (``str``), for filters and structured
formatters (``record.peer``), and a readable message: ``accept 2001:db8::7 on port 8080``,
``deny 203.0.113.9 on port 8080: blocked by access list``.

Off by default, one line to turn on
-----------------------------------
An audit log is a decision, not a side effect: when ``dsexec.security`` is imported, the logger's
level is set above ``CRITICAL`` -- unless the application configured a level for
``dsexec.audit`` already -- so nothing is emitted, even when the application logs everything
else at ``DEBUG``. To turn it on:

* ``enable_audit_log()`` -- records to standard error (or to the handler given), from INFO
  (``level=logging.WARNING`` keeps only denials, TLS failures and limit hits);
* or ``logging.getLogger("dsexec.audit").setLevel(logging.INFO)`` -- the records then propagate
  to the application's own handlers (the root logger's), like any other logger's;
* or a ``logging.config.dictConfig`` entry for the ``dsexec.audit`` logger.

The helpers sit on the accept path, so when the log is off they cost one
``Logger.isEnabledFor`` check (a cached dict lookup) and build nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from typing import Final, TextIO

from ..net import IPAddress

__all__ = [
    "audit",
    "audit_accept",
    "audit_denied",
    "audit_limit",
    "audit_tls_failure",
    "disable_audit_log",
    "enable_audit_log",
]

audit: Final = logging.getLogger("dsexec.audit")
"""The ``dsexec.audit`` logger: accepts, denials, TLS failures and limit hits (off by default)."""

_OFF: Final = logging.CRITICAL + 1
_INFO: Final = logging.INFO
_WARNING: Final = logging.WARNING
_FORMAT: Final = "%(asctime)s dsexec.audit %(levelname)s %(message)s"

if audit.level == logging.NOTSET:  # respect a level the application configured before import
    audit.setLevel(_OFF)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """The handler ``enable_audit_log()`` adds when it is given none."""


_lock = threading.Lock()
_installed: list[logging.Handler] = []  # handlers enable_audit_log added, for disable_audit_log


def enable_audit_log(
    handler: logging.Handler | None = None, *, level: int | str = logging.INFO
) -> logging.Handler:
    """Turn the audit log on: records from ``level`` up go to ``handler``; returns the handler.

    Without a handler, a ``StreamHandler`` on standard error with a timestamped one-line format
    is added (once: calling again only changes the level). The logger is re-enabled if a
    ``dictConfig`` disabled it; records still propagate to the application's handlers.
    ``disable_audit_log()`` undoes it.
    """
    given: object = level
    if isinstance(given, bool) or not isinstance(given, int | str):
        raise TypeError(f"enable_audit_log: level must be an int or a level name, got {level!r}")
    if isinstance(level, str) and level not in logging.getLevelNamesMapping():
        raise ValueError(f"enable_audit_log: unknown level name {level!r}")
    if handler is not None and not isinstance(handler, logging.Handler):
        raise TypeError(f"enable_audit_log: handler must be a logging.Handler, got {handler!r}")
    with _lock:
        if handler is None:  # the standard-error handler, added once however often called
            handler = next((h for h in _installed if isinstance(h, _StderrHandler)), None)
        if handler is None:
            handler = _StderrHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(_FORMAT))
        if handler not in audit.handlers:
            audit.addHandler(handler)
            _installed.append(handler)
        audit.disabled = False
        audit.setLevel(level)
    return handler


def disable_audit_log() -> None:
    """Turn the audit log off again and remove the handlers ``enable_audit_log`` added."""
    with _lock:
        audit.setLevel(_OFF)
        while _installed:
            audit.removeHandler(_installed.pop())


def _normalise_peer(peer: IPAddress | str | None) -> IPAddress | str | None:
    if isinstance(peer, str):
        try:
            peer = ipaddress.ip_address(peer)
        except ValueError:
            return peer
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        return peer.ipv4_mapped
    return peer


def _emit(
    level: int, event: str, peer: IPAddress | str | None, local_port: int, reason: str
) -> None:
    peer = _normalise_peer(peer)
    extra = {"event": event, "peer": peer, "local_port": local_port, "reason": reason}
    if event == "accept":
        audit.log(level, "accept %s on port %s", peer, local_port, extra=extra)
    else:
        audit.log(level, "%s %s on port %s: %s", event, peer, local_port, reason, extra=extra)


def audit_accept(peer: IPAddress | str | None, local_port: int) -> None:
    """Record an accepted connection from ``peer`` on ``local_port`` (INFO, event ``accept``)."""
    if audit.isEnabledFor(_INFO):
        _emit(_INFO, "accept", peer, local_port, "accepted")


def audit_denied(peer: IPAddress | str | None, local_port: int, reason: str) -> None:
    """Record a refused peer (WARNING, event ``deny``), e.g. ``reason="blocked by access list"``."""
    if audit.isEnabledFor(_WARNING):
        _emit(_WARNING, "deny", peer, local_port, reason)


def audit_tls_failure(
    peer: IPAddress | str | None, local_port: int, reason: str | BaseException
) -> None:
    """Record a failed TLS handshake (WARNING, event ``tls_failure``).

    ``reason`` may be the exception itself; it is formatted (``"TlsError: ..."``) only when the
    log is on.
    """
    if audit.isEnabledFor(_WARNING):
        if isinstance(reason, BaseException):
            reason = f"{type(reason).__name__}: {reason}"
        _emit(_WARNING, "tls_failure", peer, local_port, reason)


def audit_limit(peer: IPAddress | str | None, local_port: int, limit: str) -> None:
    """Record a limit hit (WARNING, event ``limit``); ``limit`` names the ``Limits`` field
    (``"max_connections"``, ``"header_timeout"``, ...) and becomes the record's ``reason``."""
    if audit.isEnabledFor(_WARNING):
        _emit(_WARNING, "limit", peer, local_port, limit)
