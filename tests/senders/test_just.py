"""Tests of just, just_error and just_stopped."""

from __future__ import annotations

import pytest

import dsexec as ex
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver, ExpectValueReceiver


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
