"""The exception hierarchy (DESIGN.md, "Errors"): one ``DsexecError`` base, ``NetError`` an
``OSError`` carrying ``errno``, every class exported by ``dsexec``."""

from __future__ import annotations

import errno

import pytest

import dsexec as ex
from dsexec._core import _exceptions

SUBCLASSES: list[type[ex.DsexecError]] = [
    ex.Stopped,
    ex.NetError,
    ex.BusyResourceError,
    ex.ClosedResourceError,
    ex.AccessDenied,
    ex.TlsError,
    ex.HttpError,
    ex.LimitOverrunError,
]


def test_dsexec_error_is_an_ordinary_exception() -> None:
    assert issubclass(ex.DsexecError, Exception)
    assert ex.DsexecError is _exceptions.DsexecError


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda cls: cls.__name__)
def test_every_dsexec_error_derives_from_dsexec_error(cls: type[ex.DsexecError]) -> None:
    assert issubclass(cls, ex.DsexecError)
    assert getattr(_exceptions, cls.__name__) is cls  # one hierarchy, in one module
    assert cls.__name__ in ex.__all__
    assert (cls.__doc__ or "").startswith("Raised when")


def test_hierarchy_lists_every_class_of_the_module() -> None:
    names = {cls.__name__ for cls in SUBCLASSES} | {"DsexecError"}
    assert names == set(_exceptions.__all__)


@pytest.mark.parametrize(
    "cls",
    [ex.Stopped, ex.BusyResourceError, ex.ClosedResourceError, ex.LimitOverrunError],
    ids=lambda c: c.__name__,
)
def test_only_net_error_is_an_os_error(cls: type[ex.DsexecError]) -> None:
    assert not issubclass(cls, OSError)


def test_net_error_is_an_os_error_carrying_errno() -> None:
    message = "port 8080 on [::] is already in use"
    with pytest.raises(OSError, match="already in use") as info:  # pre-dsexec code catches it
        raise ex.NetError(errno.EADDRINUSE, message)
    error = info.value
    assert isinstance(error, ex.NetError)
    assert isinstance(error, ex.DsexecError)
    assert error.errno == errno.EADDRINUSE
    assert error.strerror == message
    assert str(error) == f"[Errno {errno.EADDRINUSE}] {message}"


def test_stopped_has_a_default_message() -> None:
    assert str(ex.Stopped()) == "the operation completed with set_stopped"
    assert str(ex.Stopped("cancelled by the user")) == "cancelled by the user"


def test_sync_wait_of_a_stopped_sender_raises_stopped() -> None:
    with pytest.raises(ex.Stopped):
        ex.sync_wait(ex.just_stopped())


def test_http_error_carries_its_status() -> None:
    error = ex.HttpError(431, "request header fields too large")
    assert error.status == 431
    assert str(error) == "request header fields too large"
    assert isinstance(error, ex.DsexecError)
