"""monitor.measured(): a pipeline step timing its upstream as one operation, on every channel,
forwarding the environment (stop requests), restartable under repeat."""

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


def test_a_measured_value_passes_through_and_counts_an_operation() -> None:
    monitor = PerfMonitor()
    pipeline = ex.just(5) | monitor.measured()
    assert_type(pipeline, ex.Sender[int])
    assert ex.sync_wait(pipeline) == 5
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.in_flight) == (1, 0, 0)


def test_the_function_form_is_the_pipe_form() -> None:
    monitor = PerfMonitor()
    measured = monitor.measured(ex.just("x"))
    assert_type(measured, ex.Sender[str])
    assert ex.sync_wait(measured) == "x"
    assert monitor.snapshot().operations == 1


def test_an_error_passes_through_and_counts_as_an_error() -> None:
    monitor = PerfMonitor()
    receiver = ExpectErrorReceiver(KeyError)
    ex.connect(ex.just_error(KeyError("k")) | monitor.measured(), receiver).start()
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.errors, snapshot.stopped) == (1, 1, 0)


def test_stopped_passes_through_and_counts_as_stopped() -> None:
    monitor = PerfMonitor()
    ex.connect(ex.just_stopped() | monitor.measured(), ExpectStoppedReceiver()).start()
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.stopped, snapshot.in_flight, snapshot.samples) == (
        0,
        1,
        0,
        0,
    )


def test_the_timer_starts_with_start_not_connect() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        upstream: ManualSender[int] = ManualSender()
        receiver: ExpectValueReceiver[int] = ExpectValueReceiver(7)
        op = ex.connect(upstream | monitor.measured(), receiver)
        vts.advance(5.0)
        assert monitor.snapshot().in_flight == 0
        op.start()
        assert monitor.snapshot().in_flight == 1
        vts.advance(0.25)
        upstream.set_value(7)
        snapshot = monitor.snapshot()
        assert (snapshot.operations, snapshot.in_flight) == (1, 0)
        assert snapshot.max == 0.25


def test_the_operation_is_recorded_before_the_downstream_sees_the_value() -> None:
    monitor = PerfMonitor()
    seen = ex.sync_wait(
        ex.just(None) | monitor.measured() | ex.then(lambda _: monitor.snapshot().operations)
    )
    assert seen == 1


def test_stop_requests_reach_the_upstream_and_the_operation_counts_as_stopped() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        source = ex.StopSource()
        receiver = ExpectStoppedReceiver(stop_token=source.get_token())
        ex.connect(vts.schedule_after(3600.0) | monitor.measured(), receiver).start()
        assert monitor.snapshot().in_flight == 1
        source.request_stop()
        vts.run()
        assert receiver.completed
        assert vts.now() == 0.0  # stopped at once, not after the hour
        snapshot = monitor.snapshot()
        assert (snapshot.stopped, snapshot.in_flight, snapshot.operations) == (1, 0, 0)


def test_a_timeout_downstream_stops_the_measured_operation() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        slow = vts.schedule_after(10.0) | monitor.measured() | ex.timeout(1.0)
        with pytest.raises(TimeoutError):
            ex.sync_wait(slow, context=vts)
        assert monitor.snapshot().stopped == 1


def test_each_round_of_a_repeat_is_one_operation() -> None:
    monitor = PerfMonitor()
    measured = ex.just(1) | monitor.measured()
    assert measured.restartable  # the loop restarts one operation state
    ex.sync_wait(measured | ex.repeat_n(10_000))
    snapshot = monitor.snapshot()
    assert (snapshot.operations, snapshot.in_flight) == (10_000, 0)


def test_rounds_on_virtual_time_each_measure_their_own_latency() -> None:
    with ex.VirtualTimeScheduler() as vts:
        monitor = PerfMonitor(clock=vts.now)
        ticks = vts.schedule_after(0.5) | monitor.measured() | ex.repeat_n(4)
        ex.sync_wait(ticks, context=vts)
        snapshot = monitor.snapshot()
        assert (snapshot.operations, snapshot.max, snapshot.latency_sum) == (4, 0.5, 2.0)


def test_a_non_restartable_upstream_keeps_the_step_non_restartable() -> None:
    measured = ManualSender[int]() | PerfMonitor().measured()
    assert not measured.restartable


def test_measuring_something_that_is_not_a_sender_is_a_type_error() -> None:
    monitor = PerfMonitor()
    with pytest.raises(TypeError, match=r"PerfMonitor\.measured: expected a Sender, got int"):
        monitor.measured(3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"PerfMonitor\.measured: expected a Sender"):
        monitor.measured()(3)  # type: ignore[arg-type]
    assert repr(monitor.measured()) == "<SenderAdaptor PerfMonitor.measured>"
    assert repr(ex.just(1) | monitor.measured()) == "just(1) | PerfMonitor.measured()"
