"""``sender | timer``: an OperationTimer from start_operation() as a pipeline step, finishing on
the upstream's completion (by channel), passing it on, measuring from the timer's start."""

from __future__ import annotations

from typing import assert_type

import pytest

import dsexec as ex
from dsexec.perf import PerfMonitor
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    ManualSender,
)


def test_a_value_passes_through_and_finishes_the_timer_ok() -> None:
    monitor = PerfMonitor()
    timer = monitor.start_operation()
    pipeline = ex.just(5) | timer
    assert_type(pipeline, ex.Sender[int])
    assert monitor.snapshot().in_flight == 1
    assert ex.sync_wait(pipeline) == 5
    assert timer.finished
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 0, 0)


def test_the_latency_runs_from_start_operation_not_from_the_step() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        timer = monitor.start_operation()  # the request arrived at 0.0
        vts.advance(2.0)
        upstream: ManualSender[int] = ManualSender()
        receiver: ExpectValueReceiver[int] = ExpectValueReceiver(7)
        ex.connect(upstream | timer, receiver).start()
        vts.advance(0.5)
        assert not timer.finished
        upstream.set_value(7)
        assert receiver.completed
        assert timer.latency == 2.5
        assert monitor.snapshot().max == 2.5


def test_an_error_passes_through_and_finishes_the_timer_as_failed() -> None:
    monitor = PerfMonitor()
    receiver = ExpectErrorReceiver(KeyError)
    ex.connect(ex.just_error(KeyError("k")) | monitor.start_operation(), receiver).start()
    assert receiver.completed
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 1, 0)


def test_stopped_passes_through_and_finishes_the_timer_as_stopped() -> None:
    monitor = PerfMonitor()
    receiver = ExpectStoppedReceiver()
    ex.connect(ex.just_stopped() | monitor.start_operation(), receiver).start()
    assert receiver.completed
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.stopped, snapshot.in_flight) == (0, 1, 0)


def test_stop_requests_reach_the_upstream() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        source = ex.StopSource()
        receiver = ExpectStoppedReceiver(stop_token=source.get_token())
        pipeline = vts.schedule_after(3600.0) | monitor.start_operation()
        ex.connect(pipeline, receiver).start()
        source.request_stop()
        vts.run()
        assert receiver.completed
        assert vts.now() == 0.0  # stopped at once, not after the hour
        assert monitor.snapshot().stopped == 1


def test_a_timer_finished_already_records_nothing_more() -> None:
    monitor = PerfMonitor()
    timer = monitor.start_operation()
    timer.finish(ok=False)
    assert ex.sync_wait(ex.just("late") | timer) == "late"
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors) == (1, 1)


def test_a_timer_is_one_operation_however_often_its_step_completes() -> None:
    monitor = PerfMonitor()
    ex.sync_wait(ex.just(1) | monitor.start_operation() | ex.repeat_n(3))
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.in_flight) == (1, 0)


def test_a_timer_per_round_started_where_each_round_begins() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)

        def handle(request: int) -> ex.Sender[int]:
            timer = monitor.start_operation()  # the request is here: its operation begins
            return vts.schedule_after(0.25 * request) | ex.then(lambda _: request) | timer

        rounds = ex.just(1) | ex.let_value(handle) | ex.repeat_n(4)
        ex.sync_wait(rounds, context=vts)
        snapshot = monitor.snapshot()
        assert (snapshot.operations, snapshot.in_flight, snapshot.latency_sum) == (4, 0, 1.0)


def test_piping_into_a_timer_something_that_is_not_a_sender_is_a_type_error() -> None:
    timer = PerfMonitor().start_operation()
    with pytest.raises(TypeError, match=r"OperationTimer: expected a Sender, got int"):
        timer(3)  # type: ignore[arg-type]
    assert not timer.finished
    assert repr(ex.just(1) | timer) == "just(1) | OperationTimer(<OperationTimer running>)"
