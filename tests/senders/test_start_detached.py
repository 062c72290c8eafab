"""Tests of start_detached [exec.start.detached]: fire and forget, errors to the logger."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import dsexec as ex
from dsexec import start_detached
from dsexec.senders import _start_detached


@pytest.fixture(autouse=True)
def _no_leaked_operations() -> Iterator[None]:
    assert not _start_detached._detached
    yield
    assert not _start_detached._detached


class _Latch(ex.Sender[None]):
    """Completes its started operations when ``fire()``d, holding them only weakly (as an event
    source may): only whoever started an operation keeps it alive."""

    def __init__(self) -> None:
        self.waiting: weakref.WeakSet[_LatchOp] = weakref.WeakSet()

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        return _LatchOp(self, receiver)

    def fire(self) -> None:
        for op in list(self.waiting):
            op.receiver.set_value(None)


class _LatchOp:
    def __init__(self, latch: _Latch, receiver: ex.Receiver[None]) -> None:
        self.latch = latch
        self.receiver = receiver

    def start(self) -> None:
        self.latch.waiting.add(self)


class _EnvProbe(ex.Sender[None]):
    def __init__(self) -> None:
        self.env: ex.Env | None = None

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        self.env = receiver.get_env()
        return ex.connect(ex.just(None), receiver)


def test_start_detached_runs_the_sender_and_returns_none() -> None:
    ran: list[int] = []
    result = start_detached(ex.just(3) | ex.then(ran.append))  # type: ignore[func-returns-value]
    assert result is None
    assert ran == [3]


def test_the_operation_is_kept_alive_until_it_completes() -> None:
    latch = _Latch()
    ran: list[None] = []
    start_detached(latch | ex.then(ran.append))
    gc.collect()
    assert len(_start_detached._detached) == 1
    latch.fire()
    assert ran == [None]
    assert not _start_detached._detached


def test_an_error_is_logged_to_the_dsexec_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        start_detached(ex.just_error(ValueError("it broke")))
    [record] = caplog.records
    assert record.name == "dsexec"
    assert record.levelno == logging.ERROR
    assert "start_detached" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


@pytest.mark.parametrize("sender", [ex.just_stopped(), ex.just("value")], ids=["stop", "value"])
def test_stop_and_values_are_silent(
    sender: ex.Sender[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="dsexec"):
        start_detached(sender)
    assert caplog.records == []


def test_the_environment_has_a_never_stop_token_and_no_scheduler() -> None:
    probe = _EnvProbe()
    start_detached(probe)
    assert probe.env is not None
    assert not probe.env.stop_token.stop_possible()
    assert probe.env.scheduler is None


def test_many_detached_operations_leave_nothing_behind(vts: ex.VirtualTimeScheduler) -> None:
    for delay in range(1000):
        start_detached(vts.schedule_after(delay % 7))
    assert len(_start_detached._detached) == 1000
    vts.run()
    assert not _start_detached._detached


def test_a_non_sender_is_refused_naming_start_detached() -> None:
    algorithm: Any = start_detached
    with pytest.raises(TypeError, match=r"^start_detached: expected a Sender, got int"):
        algorithm(3)


def test_connect_raising_propagates_and_registers_nothing() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    with pytest.raises(OSError, match="cannot connect"):
        start_detached(_Unconnectable())
