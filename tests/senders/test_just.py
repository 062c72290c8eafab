"""Tests of just, just_error and just_stopped."""

from __future__ import annotations

import pytest

import dsexec as ex
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


def test_just_completes_inline_with_its_value() -> None:
    receiver = ExpectValueReceiver(42)
    op = ex.connect(ex.just(42), receiver)
    assert not receiver.completed
    op.start()
    assert receiver.completed


def test_just_error_completes_inline_with_its_error() -> None:
    error = ValueError("boom")
    receiver = ExpectErrorReceiver(ValueError)
    ex.connect(ex.just_error(error), receiver).start()
    assert receiver.error is error


def test_just_stopped_completes_inline_with_stopped() -> None:
    receiver = ExpectStoppedReceiver()
    ex.connect(ex.just_stopped(), receiver).start()
    assert receiver.completed


def test_just_sender_can_be_connected_many_times() -> None:
    sender = ex.just("again")
    assert [ex.sync_wait(sender) for _ in range(3)] == ["again"] * 3


def test_just_error_rejects_a_non_exception_when_built() -> None:
    with pytest.raises(TypeError, match="just_error"):
        ex.just_error("not an exception")  # type: ignore[arg-type]


def test_just_completes_inconnect_or_complete_without_an_operation_state() -> None:
    receiver = ExpectValueReceiver(4)
    assert ex.just(4).connect_or_complete(receiver) is None  # let_* start it this way
    assert receiver.completed


class Collect(RecordingReceiver[object]):
    """Records every value (a restarted operation completes once per start)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[object] = []

    def set_value(self, value: object, /) -> None:
        self.values.append(value)


def test_just_operation_restarts_with_the_same_value() -> None:
    sender = ex.just("v")
    assert sender.restartable
    receiver = Collect()
    op = ex.connect(sender, receiver)
    op.start()
    op.start()
    assert receiver.values == ["v", "v"]
    assert sender.connect_or_complete(receiver) is None
    assert receiver.values == ["v", "v", "v"]


def test_just_shows_its_value() -> None:
    assert repr(ex.just(1)) == "just(1)"
    assert repr(ex.just_error(ValueError("x"))) == "just_error(ValueError('x'))"
    assert repr(ex.just_stopped()) == "just_stopped()"
