"""Tests of sync_wait [exec.sync.wait]."""

from __future__ import annotations

import threading

import pytest

import dsexec as ex


def test_sync_wait_returns_the_value() -> None:
    assert ex.sync_wait(ex.just("v")) == "v"


def test_sync_wait_raises_the_original_error_object() -> None:
    error = ValueError("original")
    with pytest.raises(ValueError, match="original") as info:
        ex.sync_wait(ex.just_error(error))
    assert info.value is error


def test_sync_wait_raises_stopped_on_set_stopped() -> None:
    with pytest.raises(ex.Stopped):
        ex.sync_wait(ex.just_stopped())


def test_sync_wait_offers_a_stop_token_and_a_timed_scheduler() -> None:
    captured: list[ex.Env] = []

    class _Probe(ex.Sender[float]):
        def connect(self, receiver: ex.Receiver[float], /) -> ex.OperationState:
            captured.append(receiver.get_env())
            scheduler = ex.get_scheduler(receiver.get_env())
            assert isinstance(scheduler, ex.IoScheduler)
            return ex.connect(scheduler.schedule() | ex.then(lambda _: scheduler.now()), receiver)

    assert ex.sync_wait(_Probe()) > 0
    assert captured[0].stop_token.stop_possible()
    assert not captured[0].stop_token.stop_requested()


def test_sync_wait_drives_a_virtual_time_context() -> None:
    with ex.VirtualTimeScheduler() as vts:
        pipeline = vts.schedule_after(3600) | ex.then(lambda _: vts.now())
        assert ex.sync_wait(pipeline, context=vts) == 3600.0


def test_sync_wait_on_a_given_context_leaves_it_open_and_reusable() -> None:
    with ex.IoContext() as io:
        scheduler = io.get_scheduler()
        assert ex.sync_wait(scheduler.schedule() | ex.then(lambda _: 1), context=io) == 1
        assert ex.sync_wait(scheduler.schedule() | ex.then(lambda _: 2), context=io) == 2


def test_sync_wait_wakes_up_for_a_completion_from_another_thread() -> None:
    threads: list[threading.Thread] = []

    class _FromThread(ex.Sender[str]):
        def connect(self, receiver: ex.Receiver[str], /) -> ex.OperationState:
            return _FromThreadOp(receiver, threads)

    class _FromThreadOp:
        def __init__(self, receiver: ex.Receiver[str], threads: list[threading.Thread]) -> None:
            self._receiver = receiver
            self._threads = threads

        def start(self) -> None:
            thread = threading.Thread(target=self._receiver.set_value, args=("from thread",))
            self._threads.append(thread)
            thread.start()

    assert ex.sync_wait(_FromThread()) == "from thread"
    for thread in threads:
        thread.join()


def test_sync_wait_rejects_a_non_sender() -> None:
    with pytest.raises(TypeError, match=r"^sync_wait: expected a Sender"):
        ex.sync_wait(42)  # type: ignore[arg-type]
