"""Tests of starts_on [exec.starts.on]: start a sender on a scheduler's execution resource."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import dsexec as ex
from dsexec import starts_on, timeout
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    ImpulseScheduler,
    RecordingReceiver,
)


class _HopScheduler:
    """A scheduler whose ``schedule()`` is the given sender (to script the hop's outcome)."""

    def __init__(self, hop: ex.Sender[None]) -> None:
        self.hop = hop

    def schedule(self) -> ex.Sender[None]:
        return self.hop


class _Probe(ex.Sender[str]):
    """Records whether it was connected and the environment it saw; completes with "ran"."""

    def __init__(self) -> None:
        self.env: ex.Env | None = None

    def connect(self, receiver: ex.Receiver[str], /) -> ex.OperationState:
        self.env = receiver.get_env()
        return ex.connect(ex.just("ran"), receiver)

    def connected(self) -> bool:
        """Whether it was connected (a method, so mypy does not narrow ``env``)."""
        return self.env is not None


def test_starts_on_runs_the_sender_on_the_schedulers_thread() -> None:
    worker = ex.IoContext()
    worker_thread = threading.Thread(target=worker.run)
    try:
        with worker.work_guard():
            worker_thread.start()
            sender = starts_on(worker.get_scheduler(), ex.just(0) | ex.then(_thread_id))
            ran_on = ex.sync_wait(sender)
        worker_thread.join()
    finally:
        worker.close()
    assert ran_on == worker_thread.ident
    assert ran_on != threading.get_ident()


def _thread_id(_: object) -> int:
    return threading.get_ident()


def test_the_senders_environment_has_the_scheduler(vts: ex.VirtualTimeScheduler) -> None:
    probe = _Probe()
    source = ex.StopSource()
    receiver = ExpectValueReceiver("ran", stop_token=source.token)
    ex.connect(starts_on(vts.get_scheduler(), probe), receiver).start()
    assert not probe.connected()  # connected only once on the scheduler
    vts.run()
    assert probe.env is not None
    assert ex.get_scheduler(probe.env) == vts.get_scheduler()
    assert probe.env.stop_token == source.token


def test_each_sender_is_connected_only_when_the_scheduler_runs_its_hop() -> None:
    sch = ImpulseScheduler()
    probes = [_Probe(), _Probe()]
    receivers = [ExpectValueReceiver("ran"), ExpectValueReceiver("ran")]
    for probe, receiver in zip(probes, receivers, strict=True):
        ex.connect(starts_on(sch, probe), receiver).start()
    assert len(sch) == 2
    assert [probe.connected() for probe in probes] == [False, False]
    assert sch.run_one()
    assert [probe.connected() for probe in probes] == [True, False]
    assert [receiver.completed for receiver in receivers] == [True, False]
    assert probes[0].env is not None
    assert ex.get_scheduler(probes[0].env) is sch
    assert sch.run_one()
    assert [receiver.completed for receiver in receivers] == [True, True]


def test_stop_while_the_hop_waits_never_connects_the_sender() -> None:
    sch = ImpulseScheduler()
    probe = _Probe()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(starts_on(sch, probe), receiver).start()
    assert len(sch) == 1
    source.request_stop()
    assert receiver.completed  # at once, without running the scheduler
    assert not sch.run_one()
    assert not probe.connected()


def test_timeout_inside_starts_on_finds_its_timer_scheduler(
    vts: ex.VirtualTimeScheduler,
) -> None:
    receiver = ExpectErrorReceiver(TimeoutError)  # no scheduler in the receiver's environment
    ex.connect(starts_on(vts, vts.schedule_after(10) | timeout(5)), receiver).start()
    vts.run()
    assert vts.now() == 5


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (ex.just(3), "value"),
        (ex.just_error(KeyError("k")), "error"),
        (ex.just_stopped(), "stopped"),
    ],
)
def test_every_channel_of_the_sender_passes_through(
    sender: ex.Sender[Any], expected: str, vts: ex.VirtualTimeScheduler
) -> None:
    receiver = RecordingReceiver[Any]()
    ex.connect(starts_on(vts, sender), receiver).start()
    vts.run()
    assert receiver.completion == expected


def test_a_failing_hop_delivers_its_error_and_never_connects_the_sender() -> None:
    probe = _Probe()
    scheduler = _HopScheduler(ex.just_error(OSError("no hop")))
    receiver = ExpectErrorReceiver(OSError, match="no hop")
    ex.connect(starts_on(scheduler, probe), receiver).start()
    assert not probe.connected()


def test_a_stopped_hop_delivers_stopped_and_never_connects_the_sender() -> None:
    probe = _Probe()
    receiver = ExpectStoppedReceiver()
    ex.connect(starts_on(_HopScheduler(ex.just_stopped()), probe), receiver).start()
    assert not probe.connected()


def test_stop_before_the_hop_runs_completes_stopped(vts: ex.VirtualTimeScheduler) -> None:
    probe = _Probe()
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(starts_on(vts, probe), receiver).start()
    source.request_stop()
    vts.run()
    assert not probe.connected()


def test_stop_after_the_hop_reaches_the_sender_promptly(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(starts_on(vts, vts.schedule_after(3600)), receiver).start()
    vts.poll()
    assert vts.statistics().timers == 1
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0
    assert vts.now() == 0


def test_connect_raising_goes_down_the_error_channel() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(starts_on(_HopScheduler(ex.just(None)), _Unconnectable()), receiver).start()


def test_schedule_raising_goes_down_the_error_channel() -> None:
    class _Broken:
        def schedule(self) -> ex.Sender[None]:
            raise RuntimeError("scheduler is shut down")

    receiver = ExpectErrorReceiver(RuntimeError, match="shut down")
    ex.connect(starts_on(_Broken(), ex.just(1)), receiver).start()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((3, ex.just(1)), r"^starts_on: expected a scheduler \(an object with \.schedule\(\)\)"),
        ((_HopScheduler(ex.just(None)), 3), r"^starts_on: expected a Sender, got int"),
    ],
)
def test_bad_composition_is_refused_when_built_naming_starts_on(
    args: tuple[Any, ...], message: str
) -> None:
    algorithm: Any = starts_on
    with pytest.raises(TypeError, match=message):
        algorithm(*args)
