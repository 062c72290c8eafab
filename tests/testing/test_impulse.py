"""ImpulseScheduler and ManualSender: completion only when the test says so; prompt stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import dsexec as ex
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    ImpulseScheduler,
    ManualSender,
    RecordingReceiver,
)

T = TypeVar("T")


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Not completed yet (a function, so mypy does not narrow ``completed`` for good)."""
    return not receiver.completed


def record(into: list[T], item: T) -> Callable[[object], None]:
    """A ``then`` callback appending ``item`` to ``into``."""

    def append(_: object) -> None:
        into.append(item)

    return append


def start(sender: ex.Sender[Any], receiver: ex.Receiver[Any]) -> None:
    ex.connect(sender, receiver).start()


# -- ImpulseScheduler -------------------------------------------------------------------------


def test_schedule_waits_for_run_one() -> None:
    sch = ImpulseScheduler()
    receiver = ExpectValueReceiver(None)
    start(sch.schedule(), receiver)
    assert pending(receiver)
    assert len(sch) == 1
    assert sch.run_one() is True
    assert receiver.completed
    assert len(sch) == 0
    assert sch.run_one() is False


def test_run_one_releases_in_fifo_order() -> None:
    sch = ImpulseScheduler()
    order: list[int] = []
    for i in range(5):
        start(sch.schedule() | ex.then(record(order, i)), ExpectValueReceiver())
    assert len(sch) == 5
    while sch.run_one():
        pass
    assert order == [0, 1, 2, 3, 4]


def test_run_all_releases_what_is_pending_now_only() -> None:
    sch = ImpulseScheduler()
    second = ExpectValueReceiver(None)

    def again(_: None) -> None:
        start(sch.schedule(), second)

    start(sch.schedule() | ex.then(again), ExpectValueReceiver())
    start(sch.schedule(), ExpectValueReceiver(None))
    assert sch.run_all() == 2
    assert pending(second)  # started by a completion: waits for the next call
    assert len(sch) == 1
    assert sch.run_all() == 1
    assert second.completed
    assert sch.run_all() == 0


def test_stop_completes_a_pending_operation_at_once_and_dequeues_it() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    stopped = ExpectStoppedReceiver(stop_token=source.token)
    later = ExpectValueReceiver(None)
    start(sch.schedule(), stopped)
    start(sch.schedule(), later)
    assert len(sch) == 2
    source.request_stop()
    assert stopped.completed
    assert len(sch) == 1
    assert sch.run_one()
    assert later.completed


def test_stop_requested_before_start_completes_stopped_without_queueing() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(sch.schedule(), receiver)
    assert receiver.completed
    assert len(sch) == 0


def test_stop_after_release_does_nothing() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    receiver = ExpectValueReceiver(None, stop_token=source.token)
    start(sch.schedule(), receiver)
    sch.run_one()
    source.request_stop()  # the callback was withdrawn: no second completion
    assert receiver.completion == "value"


def test_stop_from_another_thread() -> None:
    sch = ImpulseScheduler()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(sch.schedule(), receiver)
    thread = threading.Thread(target=source.request_stop)
    thread.start()
    thread.join()
    assert receiver.completed
    assert receiver.completing_thread != threading.get_ident()
    assert sch.run_one() is False


def test_stop_racing_with_run_one_completes_once() -> None:
    for _ in range(50):
        sch = ImpulseScheduler()
        source = ex.StopSource()
        receiver = RecordingReceiver[None](stop_token=source.token)
        start(sch.schedule(), receiver)
        thread = threading.Thread(target=source.request_stop)
        thread.start()
        sch.run_one()
        thread.join()
        assert receiver.completion in ("value", "stopped")


def test_impulse_scheduler_repr_and_identity() -> None:
    a, b = ImpulseScheduler(), ImpulseScheduler()
    assert a != b
    assert isinstance(a, ex.Scheduler)
    assert "0 pending" in repr(a)


# -- ManualSender -------------------------------------------------------------------------------


def test_manual_sender_completes_the_last_started_operation() -> None:
    sender = ManualSender[int]()
    first = ExpectValueReceiver(1)
    second = ExpectValueReceiver(2)
    start(sender, first)
    start(sender, second)
    assert (sender.started, len(sender)) == (2, 2)
    sender.set_value(2)
    assert second.completed
    assert pending(first)
    sender.set_value(1)
    assert first.completed
    assert len(sender) == 0


def test_manual_sender_error_and_stopped() -> None:
    sender = ManualSender[int]()
    failing = ExpectErrorReceiver(ValueError, match="bad")
    stopped = ExpectStoppedReceiver()
    start(sender, stopped)
    sender.set_stopped()
    start(sender, failing)
    sender.set_error(ValueError("bad"))
    assert failing.completed
    assert stopped.completed


def test_manual_sender_without_a_waiting_operation_raises() -> None:
    sender = ManualSender[int]()
    with pytest.raises(RuntimeError, match="no started operation is waiting"):
        sender.set_value(1)


def test_manual_sender_stop_completes_the_waiting_operation() -> None:
    sender = ManualSender[int]()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    start(sender, receiver)
    source.request_stop()
    assert receiver.completed
    assert len(sender) == 0
    with pytest.raises(RuntimeError):
        sender.set_value(1)
    early = ExpectStoppedReceiver(stop_token=source.token)
    start(sender, early)  # stop already requested: completes at once
    assert early.completed
    assert "2 started" in repr(sender)


def test_manual_sender_in_a_pipeline() -> None:
    sender = ManualSender[int]()
    receiver = ExpectValueReceiver(42)
    start(sender | ex.then(lambda x: x * 2), receiver)
    sender.set_value(21)
    assert receiver.completed
