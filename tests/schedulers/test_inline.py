"""InlineScheduler: schedule() completes inside start(), on the starting thread."""

from __future__ import annotations

import threading
from typing import Any

import dsexec as ex
from dsexec import InlineScheduler
from dsexec.testing import ExpectStoppedReceiver, ExpectValueReceiver, RecordingReceiver


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Not completed yet (a function, so mypy does not narrow ``completed`` for good)."""
    return not receiver.completed


def test_schedule_completes_inline_in_start() -> None:
    receiver = ExpectValueReceiver(None)
    op = ex.connect(InlineScheduler().schedule(), receiver)
    assert pending(receiver)  # connect does nothing
    op.start()
    assert receiver.completed
    assert receiver.completing_thread == threading.get_ident()


def test_schedule_completes_stopped_when_stop_was_already_requested() -> None:
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(InlineScheduler().schedule(), receiver).start()
    assert receiver.completed


def test_a_stop_possible_but_not_requested_token_completes_with_a_value() -> None:
    source = ex.StopSource()
    receiver = ExpectValueReceiver(None, stop_token=source.token)
    ex.connect(InlineScheduler().schedule(), receiver).start()
    assert receiver.completed


def test_pipelines_run_under_sync_wait() -> None:
    sch = InlineScheduler()
    assert ex.sync_wait(sch.schedule() | ex.then(lambda _: 42)) == 42


def test_one_sender_can_be_connected_many_times() -> None:
    sender = InlineScheduler().schedule()
    for _ in range(3):
        receiver = ExpectValueReceiver(None)
        ex.connect(sender, receiver).start()
        assert receiver.completed


def test_all_inline_schedulers_are_equal() -> None:
    assert InlineScheduler() == InlineScheduler()
    assert hash(InlineScheduler()) == hash(InlineScheduler())
    assert InlineScheduler() != object()
    assert isinstance(InlineScheduler(), ex.Scheduler)
    assert repr(InlineScheduler()) == "InlineScheduler()"
    assert "InlineScheduler" in repr(InlineScheduler().schedule())
