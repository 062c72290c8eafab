"""ThreadPool: work on n named non-daemon threads, FIFO, prompt stop of queued work, shutdown
(refusal, queued work stopped, idempotent, from a pool thread), errors isolated, no leaks."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

import dsexec as ex
from dsexec import ThreadPool
from dsexec.testing import ExpectErrorReceiver, RecordingReceiver

T = TypeVar("T")


def pending(receiver: RecordingReceiver[Any]) -> bool:
    """Not completed yet (a function, so mypy does not narrow ``completed`` for good)."""
    return not receiver.completed


def record(into: list[T], item: T) -> Callable[[object], None]:
    """A ``then`` callback appending ``item`` to ``into``."""

    def append(_: object) -> None:
        into.append(item)

    return append


class WaitableReceiver(RecordingReceiver[Any]):
    """A recording receiver with an event set on completion (completions come from workers)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.done = threading.Event()
        self.thread_name = ""

    def _mark(self) -> None:
        self.thread_name = threading.current_thread().name
        self.done.set()

    def set_value(self, value: Any, /) -> None:
        super().set_value(value)
        self._mark()

    def set_error(self, error: BaseException, /) -> None:
        super().set_error(error)
        self._mark()

    def set_stopped(self) -> None:
        super().set_stopped()
        self._mark()

    def wait(self) -> None:
        assert self.done.wait(10), "the operation never completed"


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    with ThreadPool(2) as p:
        yield p


def start(sender: ex.Sender[Any], receiver: ex.Receiver[Any]) -> None:
    ex.connect(sender, receiver).start()


def blocker(pool: ThreadPool) -> tuple[WaitableReceiver, threading.Event, threading.Event]:
    """Occupy one worker until ``release`` is set; ``running`` tells when it started."""
    running, release = threading.Event(), threading.Event()

    def block(_: None) -> None:
        running.set()
        assert release.wait(10)

    receiver = WaitableReceiver()
    start(pool.schedule() | ex.then(block), receiver)
    assert running.wait(10)
    return receiver, running, release


@pytest.mark.parametrize("n", [0, -1])
def test_needs_at_least_one_thread(n: int) -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ThreadPool(n)


@pytest.mark.parametrize("n", [1.5, "2", True, None])
def test_thread_count_must_be_an_int(n: Any) -> None:
    with pytest.raises(TypeError, match="ThreadPool"):
        ThreadPool(n)


def test_threads_are_named_non_daemon_and_as_many_as_asked() -> None:
    with ThreadPool(3) as pool:
        assert pool.size == 3
        threads = list(pool._threads)
        assert all(t.name.startswith("dsexec-pool-") and not t.daemon for t in threads)
        assert all(t.is_alive() for t in threads)
        assert len({t.name for t in threads}) == 3
    assert not any(t.is_alive() for t in threads)


def test_schedule_completes_on_a_pool_thread(pool: ThreadPool) -> None:
    name = ex.sync_wait(pool.schedule() | ex.then(lambda _: threading.current_thread().name))
    assert name.startswith("dsexec-pool-")


def test_schedule_never_completes_inline(pool: ThreadPool) -> None:
    receiver = WaitableReceiver()
    start(pool.schedule(), receiver)
    receiver.wait()
    assert receiver.completing_thread != threading.get_ident()
    assert receiver.completion == "value"


def test_work_runs_on_n_threads_at_once() -> None:
    n = 3
    barrier = threading.Barrier(n)
    with ThreadPool(n) as pool:
        receivers = [WaitableReceiver() for _ in range(n)]
        for receiver in receivers:
            start(pool.schedule() | ex.then(lambda _: barrier.wait(10)), receiver)
        for receiver in receivers:
            receiver.wait()
    assert all(r.completion == "value" for r in receivers)
    assert len({r.thread_name for r in receivers}) == n


def test_one_thread_runs_work_in_fifo_order() -> None:
    order: list[int] = []
    with ThreadPool(1) as pool:
        _, _, release = blocker(pool)
        receivers = [WaitableReceiver() for _ in range(20)]
        for i, receiver in enumerate(receivers):
            start(pool.schedule() | ex.then(record(order, i)), receiver)
        release.set()
        for receiver in receivers:
            receiver.wait()
    assert order == list(range(20))


def test_stop_of_queued_work_completes_it_at_once_on_the_stopping_thread() -> None:
    with ThreadPool(1) as pool:
        busy, _, release = blocker(pool)
        source = ex.StopSource()
        queued = WaitableReceiver(stop_token=source.token)
        ran: list[str] = []
        start(pool.schedule() | ex.then(lambda _: ran.append("ran")), queued)
        assert pending(queued)
        source.request_stop()
        assert queued.completion == "stopped"  # at once, before the worker is free
        assert queued.completing_thread == threading.get_ident()
        release.set()
        after = WaitableReceiver()
        start(pool.schedule(), after)  # the worker skips the tombstone and runs this
        after.wait()
        busy.wait()
    assert ran == []
    assert busy.completion == "value"


def test_stop_requested_before_start_completes_stopped_inline(pool: ThreadPool) -> None:
    source = ex.StopSource()
    source.request_stop()
    receiver = WaitableReceiver(stop_token=source.token)
    start(pool.schedule(), receiver)
    assert receiver.completion == "stopped"
    assert receiver.completing_thread == threading.get_ident()


def test_stop_racing_with_workers_completes_every_operation_exactly_once() -> None:
    with ThreadPool(4) as pool:
        sources = [ex.StopSource() for _ in range(500)]
        receivers = [WaitableReceiver(stop_token=s.token) for s in sources]
        for receiver in receivers:
            start(pool.schedule(), receiver)
        for source in sources[::2]:
            source.request_stop()
        for receiver in receivers:
            receiver.wait()
    # The contract plugin fails the test on any double completion.
    assert all(r.completion in ("value", "stopped") for r in receivers)
    assert all(r.completion == "value" for r in receivers[1::2])


def test_schedule_after_shutdown_completes_with_runtime_error() -> None:
    pool = ThreadPool(1)
    pool.shutdown()
    assert pool.is_shut_down
    receiver = ExpectErrorReceiver(RuntimeError, match="ThreadPool is shut down")
    start(pool.schedule(), receiver)
    assert receiver.completed
    source = ex.StopSource()
    stoppable = ExpectErrorReceiver(RuntimeError, stop_token=source.token)
    start(pool.schedule(), stoppable)
    assert stoppable.completed
    source.request_stop()  # the callback was withdrawn: no second completion


def test_shutdown_stops_queued_work_and_lets_running_work_finish() -> None:
    pool = ThreadPool(1)
    busy, _, release = blocker(pool)
    queued = [WaitableReceiver() for _ in range(3)]
    for receiver in queued:
        start(pool.schedule(), receiver)
    pool.shutdown(wait=False)
    release.set()
    pool.shutdown(wait=True)
    busy.wait()
    assert busy.completion == "value"
    for receiver in queued:
        receiver.wait()
        assert receiver.completion == "stopped"
    assert not any(t.is_alive() for t in pool._threads)


def test_shutdown_is_idempotent_and_joins_the_threads() -> None:
    pool = ThreadPool(2)
    threads = list(pool._threads)
    pool.shutdown()
    pool.shutdown()
    pool.shutdown(wait=False)
    assert not any(t.is_alive() for t in threads)
    assert "shut down" in repr(pool)


def test_shutdown_from_a_pool_thread_does_not_deadlock() -> None:
    pool = ThreadPool(2)
    receiver = WaitableReceiver()
    start(pool.schedule() | ex.then(lambda _: pool.shutdown(wait=True)), receiver)
    receiver.wait()
    assert receiver.completion == "value"
    pool.shutdown()
    assert not any(t.is_alive() for t in pool._threads)


def test_context_manager_shuts_down() -> None:
    with ThreadPool(1) as pool:
        assert not pool.is_shut_down
        assert "running" in repr(pool)
    assert pool.is_shut_down


def test_a_raising_receiver_is_logged_and_the_worker_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Raising(RecordingReceiver[None]):
        def set_value(self, value: None, /) -> None:
            super().set_value(value)
            raise RuntimeError("receiver bug")

    with caplog.at_level(logging.ERROR, logger="dsexec"), ThreadPool(1) as pool:
        bad = Raising()
        start(pool.schedule(), bad)
        good = WaitableReceiver()
        start(pool.schedule(), good)
        good.wait()
    assert bad.completed
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)


def test_equality_is_identity() -> None:
    with ThreadPool(1) as a, ThreadPool(1) as b:
        assert a == a  # noqa: PLR0124
        assert a != b
        assert hash(a) == hash(a)
        assert isinstance(a, ex.Scheduler)


def test_a_forgotten_pool_releases_its_threads_when_collected() -> None:
    pool = ThreadPool(2)
    threads = list(pool._threads)
    del pool
    gc.collect()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)


def test_many_posters_many_operations() -> None:
    with ThreadPool(4) as pool:
        receivers = [WaitableReceiver() for _ in range(400)]

        def post(chunk: list[WaitableReceiver]) -> None:
            for receiver in chunk:
                start(pool.schedule(), receiver)

        posters = [threading.Thread(target=post, args=(receivers[i::4],)) for i in range(4)]
        for thread in posters:
            thread.start()
        for thread in posters:
            thread.join()
        for receiver in receivers:
            receiver.wait()
    assert all(r.completion == "value" for r in receivers)


def test_continues_on_style_hop_from_an_io_context_and_back() -> None:
    # Blocking work on the pool, result delivered back to the loop thread through post.
    with ThreadPool(1) as pool, ex.IoContext() as io:
        results: list[tuple[str, int]] = []
        loop_thread = threading.get_ident()

        def on_pool(_: None) -> None:
            worker = threading.current_thread().name

            def on_loop() -> None:
                results.append((worker, threading.get_ident()))

            io.post(on_loop)

        receiver = WaitableReceiver()
        with io.work_guard():
            start(pool.schedule() | ex.then(on_pool), receiver)
            io.run_until(lambda: bool(results))
        receiver.wait()
        assert results[0][0].startswith("dsexec-pool-")
        assert results[0][1] == loop_thread
