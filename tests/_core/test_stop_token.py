"""StopSource / StopToken [stoptoken.inplace]: registration, the one-shot request, callbacks
that unregister themselves, cross-thread unregister waiting for a running callback, errors in
callbacks, and the never-stop token."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import pytest

import dsexec as ex
from dsexec._core._stop_token import NEVER_STOP_TOKEN, StopObserver, StopSource, StopToken


def test_registered_callback_runs_once_on_request_stop() -> None:
    source = StopSource()
    calls: list[str] = []
    source.token.register(lambda: calls.append("a"))
    assert calls == []
    assert source.request_stop() is True
    assert calls == ["a"]
    assert source.request_stop() is False
    assert calls == ["a"]


def test_request_stop_returns_true_exactly_once_across_threads() -> None:
    source = StopSource()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def requester() -> None:
        barrier.wait(10)
        results.append(source.request_stop())

    threads = [threading.Thread(target=requester) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_stop_requested_and_stop_possible() -> None:
    source = StopSource()
    token = source.get_token()
    assert token == source.token
    assert token.stop_possible()
    assert source.stop_possible()
    assert not token.stop_requested()
    assert not source.stop_requested()
    source.request_stop()
    assert token.stop_requested()
    assert source.stop_requested()
    assert "stopped" in repr(source)
    assert "StopSource" in repr(token)


def test_unregistered_callback_never_runs() -> None:
    source = StopSource()
    calls: list[int] = []
    handle = source.token.register(lambda: calls.append(1))
    handle.unregister()
    handle.unregister()  # idempotent
    source.request_stop()
    assert calls == []


def test_register_as_context_manager_unregisters_on_exit() -> None:
    source = StopSource()
    calls: list[int] = []
    with source.token.register(lambda: calls.append(1)) as handle:
        assert isinstance(handle, ex.StopCallback)
    source.request_stop()
    assert calls == []


def test_register_after_stop_runs_the_callback_inline() -> None:
    source = StopSource()
    source.request_stop()
    calls: list[int] = []
    handle = source.token.register(lambda: calls.append(threading.get_ident()))
    assert calls == [threading.get_ident()]
    handle.unregister()  # inert
    assert "0 callbacks" in repr(StopSource())


def test_every_callback_runs_even_when_many_are_registered() -> None:
    source = StopSource()
    calls: list[int] = []
    for i in range(100):
        source.token.register(functools.partial(calls.append, i))
    source.request_stop()
    assert sorted(calls) == list(range(100))


def test_a_callback_may_unregister_itself() -> None:
    source = StopSource()
    handles: list[ex.StopCallback] = []
    calls: list[str] = []

    def callback() -> None:
        calls.append("ran")
        handles[0].unregister()  # must not wait for itself

    handles.append(source.token.register(callback))
    # On a daemon thread, so that a self-deadlock fails the test instead of hanging it.
    thread = threading.Thread(target=source.request_stop, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "unregister() from inside the callback waited for itself"
    assert calls == ["ran"]


def test_a_callback_may_unregister_another_pending_callback() -> None:
    source = StopSource()
    calls: list[str] = []
    # Callbacks run newest first: "second" runs before "first" and withdraws it.
    first = source.token.register(lambda: calls.append("first"))

    def second() -> None:
        calls.append("second")
        first.unregister()

    source.token.register(second)
    source.request_stop()
    assert calls == ["second"]


def test_a_callback_may_register_and_request_stop_again() -> None:
    source = StopSource()
    calls: list[str] = []
    results: list[bool] = []

    def callback() -> None:
        results.append(source.request_stop())  # re-entrant: already requested
        source.token.register(lambda: calls.append("late"))  # runs inline

    source.token.register(callback)
    assert source.request_stop() is True
    assert results == [False]
    assert calls == ["late"]


def test_unregister_from_another_thread_waits_for_the_running_callback() -> None:
    source = StopSource()
    entered = threading.Event()
    unregister_waiting = threading.Event()
    order: list[str] = []
    handles: list[ex.StopCallback] = []

    class Spy(threading.Condition):
        """The source's condition variable: tells the test when unregister() waits on it."""

        def wait(self, timeout: float | None = None) -> bool:
            unregister_waiting.set()
            return super().wait(timeout)

    def callback() -> None:
        # Running on the stopping thread; swap in the spy before the other thread waits.
        source._done = Spy(source._lock)
        entered.set()
        assert unregister_waiting.wait(10), "unregister() did not wait for the callback"
        order.append("callback finished")

    handles.append(source.token.register(callback))

    def unregisterer() -> None:
        assert entered.wait(10)
        handles[0].unregister()
        order.append("unregister returned")

    stopper = threading.Thread(target=source.request_stop)
    other = threading.Thread(target=unregisterer)
    other.start()
    stopper.start()
    stopper.join()
    other.join()
    assert order == ["callback finished", "unregister returned"]


def test_unregister_of_a_callback_that_already_ran_does_not_wait() -> None:
    source = StopSource()
    handle = source.token.register(lambda: None)
    source.request_stop()
    done = threading.Event()

    def unregister() -> None:
        handle.unregister()
        done.set()

    thread = threading.Thread(target=unregister)
    thread.start()
    thread.join()
    assert done.is_set()


def test_concurrent_register_unregister_and_request_stop_run_each_callback_at_most_once() -> None:
    for _ in range(20):
        source = StopSource()
        counts = [0] * 200
        barrier = threading.Barrier(2)

        def registrar(
            counts: list[int] = counts,
            source: StopSource = source,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait(10)
            for i in range(200):

                def bump(i: int = i) -> None:
                    counts[i] += 1

                handle = source.token.register(bump)
                if i % 2:
                    handle.unregister()

        thread = threading.Thread(target=registrar)
        thread.start()
        barrier.wait(10)
        source.request_stop()
        thread.join()
        assert all(c in (0, 1) for c in counts)
        # Even-numbered callbacks were never unregistered: each ran exactly once.
        assert all(counts[i] == 1 for i in range(0, 200, 2))


def test_exceptions_in_callbacks_are_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = StopSource()
    calls: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    source.token.register(lambda: calls.append("a"))
    source.token.register(boom)
    source.token.register(lambda: calls.append("b"))
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        assert source.request_stop() is True
    assert sorted(calls) == ["a", "b"]
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_exception_in_a_callback_run_by_register_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = StopSource()
    source.request_stop()

    def boom() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="dsexec"):
        handle = source.token.register(boom)
    handle.unregister()
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_keyboard_interrupt_in_a_callback_propagates_after_the_others_ran() -> None:
    source = StopSource()
    calls: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    source.token.register(lambda: calls.append("a"))
    source.token.register(interrupt)
    source.token.register(lambda: calls.append("b"))
    with pytest.raises(KeyboardInterrupt):
        source.request_stop()
    assert sorted(calls) == ["a", "b"]
    assert source.stop_requested()
    assert source._running is None


def test_never_token_is_never_stopped_and_registers_nothing() -> None:
    token = StopToken.never()
    assert token is NEVER_STOP_TOKEN
    assert token == StopToken()
    assert hash(token) == hash(StopToken())
    assert not token.stop_possible()
    assert not token.stop_requested()
    calls: list[int] = []
    handle = token.register(lambda: calls.append(1))
    assert handle is token.register(lambda: calls.append(2))  # shared, no allocation
    handle.unregister()
    assert calls == []
    assert repr(token) == "<StopToken never>"


def test_tokens_of_one_source_are_equal_and_of_different_sources_not() -> None:
    a, b = StopSource(), StopSource()
    assert a.token == StopToken(a)
    assert hash(a.token) == hash(StopToken(a))
    assert a.token != b.token
    assert a.token != NEVER_STOP_TOKEN
    other: Any = object()
    assert a.token != other


class _StopWhileInserting(dict[StopObserver, bool]):
    """A callbacks table that lets a stop request land between register's insert and its
    re-check, on this thread, to exercise the lock-free race handling deterministically."""

    def __init__(self, source: ex.StopSource, *, pop_first: bool) -> None:
        super().__init__()
        self._source = source
        self._pop_first = pop_first

    def __setitem__(self, key: StopObserver, value: bool) -> None:
        super().__setitem__(key, value)
        if self._pop_first:
            self._source.request_stop()  # stop pops and runs the new entry itself
        else:
            self._source.stopped = True  # stop flipped, entries not yet popped


@pytest.mark.parametrize("pop_first", [True, False], ids=["stop-popped-it", "stop-flipped-only"])
def test_register_racing_request_stop_runs_the_callback_exactly_once(pop_first: bool) -> None:
    source = ex.StopSource()
    source._callbacks = _StopWhileInserting(source, pop_first=pop_first)
    calls: list[str] = []
    handle = source.token.register(lambda: calls.append("ran"))
    assert calls == ["ran"]
    handle.unregister()
    source.stopped = False  # let the real request_stop run its (now empty) loop
    source.request_stop()
    assert calls == ["ran"]


# -- observers: the allocation-free registration of dsexec's own operations --------------------


class _Observer:
    """An operation-like object observed with ``observe``: its method is the callback."""

    def __init__(self, action: Any = None) -> None:
        self.calls: list[int] = []
        self._action = action

    def on_stop_requested(self) -> None:
        self.calls.append(threading.get_ident())
        if self._action is not None:
            self._action()


def test_an_observer_is_called_once_on_request_stop_and_allocates_no_handle() -> None:
    source = StopSource()
    observer = _Observer()
    source.observe(observer)
    assert list(source._callbacks) == [observer]  # the object itself is the key
    assert observer.calls == []
    assert source.request_stop() is True
    source.request_stop()
    assert observer.calls == [threading.get_ident()]


def test_an_unobserved_observer_is_never_called() -> None:
    source = StopSource()
    observer = _Observer()
    source.observe(observer)
    source.unobserve(observer)
    source.unobserve(observer)  # idempotent, like unregister()
    source.request_stop()
    assert observer.calls == []
    assert not source._callbacks


def test_observing_after_stop_calls_the_observer_inline() -> None:
    source = StopSource()
    source.request_stop()
    observer = _Observer()
    source.observe(observer)
    assert observer.calls == [threading.get_ident()]
    source.unobserve(observer)  # nothing registered: a no-op


def test_observers_and_handles_share_one_registry_newest_first() -> None:
    source = StopSource()
    order: list[str] = []
    source.token.register(lambda: order.append("handle"))
    source.observe(_Observer(lambda: order.append("observer")))
    source.request_stop()
    assert order == ["observer", "handle"]


@pytest.mark.parametrize("pop_first", [True, False], ids=["stop-popped-it", "stop-flipped-only"])
def test_observe_racing_request_stop_calls_the_observer_exactly_once(pop_first: bool) -> None:
    source = ex.StopSource()
    source._callbacks = _StopWhileInserting(source, pop_first=pop_first)
    observer = _Observer()
    source.observe(observer)
    assert len(observer.calls) == 1
    source.unobserve(observer)
    source.stopped = False  # let the real request_stop run its (now empty) loop
    source.request_stop()
    assert len(observer.calls) == 1


def test_unobserve_from_another_thread_waits_for_the_running_observer() -> None:
    source = StopSource()
    entered = threading.Event()
    unobserve_waiting = threading.Event()
    order: list[str] = []

    class Spy(threading.Condition):
        """The source's condition variable: tells the test when _unobserve() waits on it."""

        def wait(self, timeout: float | None = None) -> bool:
            unobserve_waiting.set()
            return super().wait(timeout)

    def running() -> None:  # on the stopping thread
        source._done = Spy(source._lock)
        entered.set()
        assert unobserve_waiting.wait(10), "_unobserve() did not wait for the observer"
        order.append("observer finished")

    observer = _Observer(running)
    source.observe(observer)

    def unobserve() -> None:
        assert entered.wait(10)
        source.unobserve(observer)
        order.append("unobserve returned")

    stopper = threading.Thread(target=source.request_stop)
    other = threading.Thread(target=unobserve)
    other.start()
    stopper.start()
    stopper.join()
    other.join()
    assert order == ["observer finished", "unobserve returned"]


def test_an_observer_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> None:
        raise ValueError("boom")

    source = StopSource()
    first, second = _Observer(), _Observer(boom)
    source.observe(first)
    source.observe(second)
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        source.request_stop()
    assert first.calls
    assert second.calls
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)
    late = _Observer(boom)
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        source.observe(late)  # runs inline: logged, not raised
    assert late.calls
