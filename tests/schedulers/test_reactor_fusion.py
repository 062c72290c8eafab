"""``sender | let_value(fn)`` fused into a reactor operation (``ReactorSender.fuse``) behaves as
the plain pair (``let_value``'s own operation over the reactor operation), scenario by
scenario; timers on virtual time here, socket reads in ``tests/net/test_async_read.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests._helpers.fusion import LET_VALUE_FAILURES

import dsexec as ex
from dsexec import VirtualTimeScheduler
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    RecordingReceiver,
)

Timer = Callable[[float], ex.Sender[None]]


class _Plain(ex.Sender[None]):
    """``inner`` minus its ``fuse``: ``| let_value(f)`` connects the plain pair."""

    def __init__(self, inner: ex.Sender[None]) -> None:
        self.inner = inner
        self.connects = 0
        self.restartable = inner.restartable  # type: ignore[misc]

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        self.connects += 1
        return self.inner.connect(receiver)


@pytest.fixture(params=["fused", "plain"])
def timer(request: pytest.FixtureRequest, vts: VirtualTimeScheduler) -> Timer:
    """``vts.schedule_after`` as it is (fuses with ``let_value``) or behind ``_Plain``."""
    if request.param == "fused":
        return vts.schedule_after
    return lambda delay: _Plain(vts.schedule_after(delay))


def test_a_timer_fuses_with_let_value_into_its_own_operation_state(
    vts: VirtualTimeScheduler,
) -> None:
    receiver = RecordingReceiver[Any]()
    fused = ex.connect(vts.schedule_after(1) | ex.let_value(ex.just), receiver)
    assert isinstance(fused, ex.RestartableOperation)
    assert type(fused).__name__ == "_TimerOp"
    plain = ex.connect(_Plain(vts.schedule_after(1)) | ex.let_value(ex.just), receiver)
    assert type(plain).__name__ == "_LetValueOp"
    assert receiver.completion is None  # connected, never started


def test_the_value_continues_with_the_functions_sender(
    vts: VirtualTimeScheduler, timer: Timer
) -> None:
    later = vts.schedule_after(3) | ex.then(lambda _: vts.now())
    pipeline = timer(5) | ex.let_value(lambda _: later)
    assert ex.sync_wait(pipeline, context=vts) == 8.0


@LET_VALUE_FAILURES
def test_errors_of_the_function_and_of_its_sender_go_downstream(
    vts: VirtualTimeScheduler,
    timer: Timer,
    *,
    fn: Callable[[None], Any],
    error: type[Exception],
    match: str | None,
) -> None:
    receiver = ExpectErrorReceiver(error, match=match)
    ex.connect(timer(1) | ex.let_value(fn), receiver).start()
    vts.run()
    assert receiver.completed


@pytest.mark.parametrize("when", ["timer-waits", "second-runs", "before-start"])
def test_stop_reaches_the_timer_then_the_second_operation(
    vts: VirtualTimeScheduler, timer: Timer, when: str
) -> None:
    source = ex.StopSource()
    calls: list[None] = []

    def second(value: None) -> ex.Sender[None]:
        calls.append(value)
        return vts.schedule_after(3600)

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    if when == "before-start":
        source.request_stop()
    op = ex.connect(timer(5) | ex.let_value(second), receiver)
    op.start()
    if when == "second-runs":
        vts.advance(5)
        vts.run_one()
        assert calls == [None]
    source.request_stop()
    vts.run()
    assert receiver.completed
    assert calls == ([None] if when == "second-runs" else [])
    assert vts.now() < 3600  # the stopped second timer did not run


def test_a_loop_restarts_one_set_of_operation_states(
    vts: VirtualTimeScheduler, timer: Timer
) -> None:
    seen: list[float] = []

    def note_time(_: None) -> ex.Sender[None]:
        seen.append(vts.now())
        return ex.just(None)

    round_sender = timer(2) | ex.let_value(note_time)
    assert round_sender.restartable
    ex.sync_wait(round_sender | ex.repeat_n(4), context=vts)
    assert seen == [2.0, 4.0, 6.0, 8.0]


def test_a_failing_round_ends_the_loop_with_the_error(
    vts: VirtualTimeScheduler, timer: Timer
) -> None:
    rounds: list[int] = []

    def answer(_: None) -> ex.Sender[int]:
        rounds.append(len(rounds))
        return ex.just_error(KeyError("third")) if len(rounds) == 3 else ex.just(0)

    receiver = ExpectErrorReceiver(KeyError, match="third")
    ex.connect(timer(1) | ex.let_value(answer) | ex.repeat(), receiver).start()
    vts.run()
    assert receiver.completed
    assert rounds == [0, 1, 2]

