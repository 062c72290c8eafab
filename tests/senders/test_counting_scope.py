"""Tests of CountingScope (P3149 counting_scope): spawn, spawn_future, join, request_stop, close."""

from __future__ import annotations

import functools
import gc
import logging
import threading
import weakref
from typing import Any

import pytest

import dsexec as ex
from dsexec import CountingScope
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


class _EnvProbe(ex.Sender[None]):
    def __init__(self) -> None:
        self.env: ex.Env | None = None

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        self.env = receiver.get_env()
        return ex.connect(ex.just(None), receiver)


def _pending(receiver: RecordingReceiver[Any]) -> bool:
    """Whether ``receiver`` is still waiting (a function, so mypy does not narrow it)."""
    return not receiver.completed


# -- spawn and join -----------------------------------------------------------------------------


def test_spawn_starts_the_work_at_once() -> None:
    scope = CountingScope()
    ran: list[int] = []
    scope.spawn(ex.just(1) | ex.then(ran.append))
    assert ran == [1]
    assert scope.active == 0


def test_join_waits_for_every_spawned_operation(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    finished: list[float] = []
    for delay in (1, 5, 3):
        scope.spawn(vts.schedule_after(delay) | ex.then(lambda _: finished.append(vts.now())))
    assert len(scope) == 3
    ex.sync_wait(scope.join(), context=vts)
    assert finished == [1, 3, 5]
    assert vts.now() == 5
    assert scope.active == 0


def test_join_of_an_empty_scope_completes_inline() -> None:
    receiver = ExpectValueReceiver(None)
    ex.connect(CountingScope().join(), receiver).start()
    assert receiver.completed


def test_join_waits_for_work_spawned_while_joining(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()

    def spawn_more(_: object) -> None:
        scope.spawn(vts.schedule_after(10))

    scope.spawn(vts.schedule_after(1) | ex.then(spawn_more))
    ex.sync_wait(scope.join(), context=vts)
    assert vts.now() == 11


def test_join_completes_through_the_receivers_scheduler(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    latch = ex.StopSource()  # the spawned work waits for this "event"
    scope.spawn(_StoppedBy(latch.token))
    receiver = ExpectValueReceiver(None, scheduler=vts.get_scheduler())
    ex.connect(scope.join(), receiver).start()
    latch.request_stop()  # the last operation completes here, on this thread...
    assert _pending(receiver)  # ...but join hops onto the receiver's scheduler
    vts.run()
    assert receiver.completed


def test_join_without_a_scheduler_completes_where_the_last_work_completes() -> None:
    scope = CountingScope()
    latch = ex.StopSource()
    scope.spawn(_StoppedBy(latch.token))
    receiver = ExpectValueReceiver(None)
    ex.connect(scope.join(), receiver).start()
    assert _pending(receiver)
    latch.request_stop()
    assert receiver.completed


def test_every_joiner_is_completed(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    scope.spawn(vts.schedule_after(2))
    receivers = [ExpectValueReceiver(None) for _ in range(3)]
    for receiver in receivers:
        ex.connect(scope.join(), receiver).start()
    vts.run()
    assert all(receiver.completed for receiver in receivers)


def test_stopping_a_join_completes_it_stopped_and_leaves_the_work_running(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    ran: list[None] = []
    scope.spawn(vts.schedule_after(5) | ex.then(ran.append))
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(scope.join(), receiver).start()
    source.request_stop()
    assert receiver.completed
    assert scope.active == 1
    vts.run()
    assert ran == [None]


def test_a_join_started_with_stop_requested_completes_stopped_if_work_is_pending(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    scope.spawn(vts.schedule_after(5))
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(scope.join(), receiver).start()
    vts.run()


def test_the_scope_is_usable_again_after_a_join(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    scope.spawn(vts.schedule_after(1))
    ex.sync_wait(scope.join(), context=vts)
    scope.spawn(vts.schedule_after(1))
    assert scope.active == 1
    ex.sync_wait(scope.join(), context=vts)
    assert vts.now() == 2


def test_spawned_work_sees_the_scopes_stop_token_and_no_scheduler() -> None:
    scope = CountingScope()
    probe = _EnvProbe()
    scope.spawn(probe)
    assert probe.env is not None
    assert probe.env.stop_token == scope.stop_token
    assert probe.env.scheduler is None


def test_spawned_work_sees_the_scopes_scheduler_or_the_one_spawn_names(
    vts: ex.VirtualTimeScheduler,
) -> None:
    other = ex.InlineScheduler()
    scope = CountingScope(scheduler=vts)
    assert scope.scheduler is vts
    default, named, future = _EnvProbe(), _EnvProbe(), _EnvProbe()
    scope.spawn(default)
    scope.spawn(named, scheduler=other)
    scope.spawn_future(future, scheduler=other)
    assert default.env is not None
    assert default.env.scheduler is vts
    assert default.env.stop_token == scope.stop_token
    assert named.env is not None
    assert named.env.scheduler is other
    assert named.env.stop_token == scope.stop_token
    assert future.env is not None
    assert future.env.scheduler is other


def test_spawned_work_can_use_timeout_without_naming_the_scheduler_again(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope("handlers", scheduler=vts)
    slow = scope.spawn_future(vts.schedule_after(100) | ex.timeout(5))
    fast = scope.spawn_future(vts.schedule_after(1) | ex.then(lambda _: "ok") | ex.timeout(5))
    result = ex.sync_wait(ex.when_all(slow | ex.into_result(), fast), context=vts)
    assert isinstance(result[0].error(), TimeoutError)
    assert result[1] == "ok"
    assert vts.now() == 5.0
    ex.sync_wait(scope.join(), context=vts)


def test_a_timeout_in_a_scope_without_a_scheduler_says_how_to_give_it_one() -> None:
    scope = CountingScope()
    future = scope.spawn_future(ex.just(1) | ex.timeout(5))
    with pytest.raises(TypeError, match=r"CountingScope\(scheduler=sch\)"):
        ex.sync_wait(future)


def test_a_scheduler_that_is_not_one_is_refused() -> None:
    with pytest.raises(TypeError, match=r"CountingScope: scheduler must be a scheduler"):
        CountingScope(scheduler=42)  # type: ignore[arg-type]
    scope = CountingScope()
    with pytest.raises(TypeError, match=r"CountingScope: the spawn's scheduler must be"):
        scope.spawn(ex.just(1), scheduler=42)  # type: ignore[arg-type]
    assert scope.active == 0


# -- errors and logging -------------------------------------------------------------------------


def test_a_spawned_error_is_logged_to_the_dsexec_logger(caplog: pytest.LogCaptureFixture) -> None:
    scope = CountingScope("handlers")
    with caplog.at_level(logging.ERROR, logger="dsexec"):
        scope.spawn(ex.just(0) | ex.then(lambda v: 1 // v))
    [record] = caplog.records
    assert record.name == "dsexec"
    assert "'handlers'" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ZeroDivisionError)
    assert scope.active == 0


@pytest.mark.parametrize("sender", [ex.just_stopped(), ex.just(1)], ids=["stop", "value"])
def test_spawned_stop_and_values_are_silent(
    sender: ex.Sender[Any], caplog: pytest.LogCaptureFixture
) -> None:
    scope = CountingScope()
    with caplog.at_level(logging.DEBUG, logger="dsexec"):
        scope.spawn(sender)
    assert caplog.records == []


def test_connect_raising_in_spawn_propagates_and_counts_nothing() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    scope = CountingScope()
    with pytest.raises(OSError, match="cannot connect"):
        scope.spawn(_Unconnectable())
    with pytest.raises(OSError, match="cannot connect"):
        scope.spawn_future(_Unconnectable())
    assert scope.active == 0


@pytest.mark.parametrize("method", ["spawn", "spawn_future"])
def test_a_non_sender_is_refused_naming_the_method(method: str) -> None:
    spawn: Any = getattr(CountingScope(), method)
    with pytest.raises(TypeError, match=rf"^CountingScope\.{method}: expected a Sender, got int"):
        spawn(3)


# -- spawn_future ---------------------------------------------------------------------------------


def test_spawn_future_delivers_a_result_that_arrives_later(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    future = scope.spawn_future(vts.schedule_after(3) | ex.then(lambda _: 42))
    assert scope.active == 1
    assert ex.sync_wait(future, context=vts) == 42
    assert vts.now() == 3
    assert scope.active == 0


@pytest.mark.parametrize(
    ("sender", "receiver_factory"),
    [
        (ex.just(7), lambda: ExpectValueReceiver(7)),
        (ex.just_error(KeyError("k")), lambda: ExpectErrorReceiver(KeyError)),
        (ex.just_stopped(), ExpectStoppedReceiver),
    ],
    ids=["value", "error", "stopped"],
)
def test_spawn_future_delivers_a_stored_result_of_every_channel_inline(
    sender: ex.Sender[Any], receiver_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scope = CountingScope()
    future = scope.spawn_future(sender)  # completes now, before anyone consumes it
    assert scope.active == 0
    receiver = receiver_factory()
    ex.connect(future, receiver).start()
    assert receiver.completed
    assert caplog.records == []  # a future's error goes to its consumer, not to the log


def test_dropping_an_unconnected_future_stops_the_work_so_join_completes(
    vts: ex.VirtualTimeScheduler,
) -> None:
    # P3149 / stdexec: discarding a future sends a stop request to the spawned operation.
    scope = CountingScope()
    ran: list[None] = []
    scope.spawn_future(vts.schedule_after(3600) | ex.then(ran.append))  # dropped at once
    ex.sync_wait(scope.join(), context=vts)
    assert ran == []
    assert vts.now() == 0.0  # the hour-long timer was withdrawn, not waited for
    assert scope.active == 0


def test_dropping_a_connected_but_unstarted_future_stops_the_work(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    future = scope.spawn_future(vts.schedule_after(3600))
    op = ex.connect(future, RecordingReceiver[None]())
    del future, op
    ex.sync_wait(scope.join(), context=vts)
    assert vts.now() == 0.0


def test_a_kept_future_is_not_stopped_and_a_started_one_runs_to_the_end(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    kept = scope.spawn_future(vts.schedule_after(2) | ex.then(lambda _: "kept"))
    started = scope.spawn_future(vts.schedule_after(1) | ex.then(lambda _: "started"))
    receiver = ExpectValueReceiver("started")
    op = ex.connect(started, receiver)
    op.start()
    del started
    ex.sync_wait(scope.join(), context=vts)
    assert receiver.completed
    assert vts.now() == 2.0  # the kept future's work ran to its end too
    assert ex.sync_wait(kept) == "kept"


def test_stopping_the_consumer_stops_the_work_and_completes_stopped_at_once(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    work_saw_stop: list[bool] = []
    future = scope.spawn_future(
        vts.schedule_after(3600) | ex.upon_stopped(lambda: work_saw_stop.append(True))
    )
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(future, receiver).start()
    assert _pending(receiver)
    source.request_stop()
    assert receiver.completed
    assert work_saw_stop == [True]
    assert vts.statistics().timers == 0
    assert scope.active == 0


def test_a_consumer_started_with_stop_requested_completes_stopped_and_stops_the_work(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    future = scope.spawn_future(vts.schedule_after(3600))
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(future, receiver).start()
    assert vts.statistics().timers == 0
    assert scope.active == 0


def test_a_consumer_that_stops_while_the_work_ignores_stop_still_completes_at_once() -> None:
    scope = CountingScope()
    latch = ex.StopSource()
    future = scope.spawn_future(_StoppedBy(latch.token) | ex.upon_stopped(lambda: "late"))
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(future, receiver).start()
    source.request_stop()
    assert receiver.completed
    assert scope.active == 1  # the work is still running: join would wait for it
    latch.request_stop()
    assert scope.active == 0


def test_a_spawn_future_sender_connects_only_once() -> None:
    scope = CountingScope("once")
    future = scope.spawn_future(ex.just(1))
    ex.connect(future, ExpectValueReceiver(1)).start()
    with pytest.raises(RuntimeError, match="can be connected only once"):
        ex.connect(future, RecordingReceiver[int]())


def test_spawn_future_result_crosses_threads(worker: tuple[ex.IoContext, threading.Thread]) -> None:
    context, thread = worker
    scope = CountingScope()
    future = scope.spawn_future(context.get_scheduler().schedule() | ex.then(_thread_id))
    assert ex.sync_wait(future) == thread.ident


def _thread_id(_: object) -> int:
    return threading.get_ident()


# -- request_stop and close ---------------------------------------------------------------------


def test_request_stop_stops_all_spawned_work_promptly(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    stopped: list[int] = []
    for i in range(3):
        on_stop = functools.partial(stopped.append, i)
        scope.spawn(vts.schedule_after(3600) | ex.upon_stopped(on_stop))
    future = scope.spawn_future(vts.schedule_after(3600))
    assert scope.request_stop() is True
    assert scope.request_stop() is False
    assert sorted(stopped) == [0, 1, 2]
    assert vts.statistics().timers == 0
    assert scope.active == 0
    receiver = ExpectStoppedReceiver()
    ex.connect(future, receiver).start()
    assert vts.now() == 0


def test_work_spawned_after_request_stop_starts_already_stopped(
    vts: ex.VirtualTimeScheduler,
) -> None:
    scope = CountingScope()
    scope.request_stop()
    stopped: list[str] = []
    scope.spawn(vts.schedule_after(60) | ex.upon_stopped(lambda: stopped.append("spawn")))
    future = scope.spawn_future(vts.schedule_after(60))
    assert stopped == ["spawn"]
    receiver = ExpectStoppedReceiver()
    ex.connect(future, receiver).start()
    assert vts.statistics().timers == 0


def test_close_refuses_further_spawns_naming_the_scope() -> None:
    scope = CountingScope("web handlers")
    scope.close()
    assert scope.closed
    with pytest.raises(RuntimeError, match=r"CountingScope\.spawn: .*'web handlers'.* is closed"):
        scope.spawn(ex.just(1))
    with pytest.raises(RuntimeError, match=r"CountingScope\.spawn_future: .*'web handlers'"):
        scope.spawn_future(ex.just(1))
    assert scope.active == 0


def test_close_lets_running_work_finish(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    ran: list[None] = []
    scope.spawn(vts.schedule_after(1) | ex.then(ran.append))
    scope.close()
    ex.sync_wait(scope.join(), context=vts)
    assert ran == [None]


def test_repr_names_the_scope_and_its_state() -> None:
    scope = CountingScope("http")
    scope.close()
    scope.request_stop()
    assert repr(scope) == "<CountingScope 'http' active=0 closed stop-requested>"


# -- threads and leaks ---------------------------------------------------------------------------


def test_counting_is_thread_safe(worker: tuple[ex.IoContext, threading.Thread]) -> None:
    context, _ = worker
    scope = CountingScope()
    done = [0]
    lock = threading.Lock()

    def finish(_: object) -> None:
        with lock:
            done[0] += 1

    def spawner() -> None:
        for _ in range(250):
            scope.spawn(context.get_scheduler().schedule() | ex.then(finish))

    spawners = [threading.Thread(target=spawner) for _ in range(4)]
    for thread in spawners:
        thread.start()
    for thread in spawners:
        thread.join()
    ex.sync_wait(scope.join())
    assert done == [1000]
    assert scope.active == 0


def test_no_operation_state_outlives_its_completion(vts: ex.VirtualTimeScheduler) -> None:
    scope = CountingScope()
    refs: list[weakref.ref[_TrackedOp]] = []

    class _Tracked(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            op = _TrackedOp(vts.schedule_after(1).connect(receiver))
            refs.append(weakref.ref(op))
            return op

    gc.collect()
    gc.disable()  # so they must be freed by reference counting alone: no cycles left behind
    try:
        scope.spawn(_Tracked())
        future = scope.spawn_future(_Tracked())
        ex.sync_wait(future, context=vts)
        ex.sync_wait(scope.join(), context=vts)
        del future
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


class _StoppedBy(ex.Sender[None]):
    """Completes ``set_stopped`` when ``token`` is stopped; ignores its own environment's token
    (a piece of work that does not honour stop until some event)."""

    def __init__(self, token: ex.StopToken) -> None:
        self.token = token

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        return _StoppedByOp(self.token, receiver)


class _StoppedByOp:
    def __init__(self, token: ex.StopToken, receiver: ex.Receiver[None]) -> None:
        self.token = token
        self.receiver = receiver
        self.callback: ex.StopCallback | None = None

    def start(self) -> None:
        self.callback = self.token.register(self.receiver.set_stopped)


class _TrackedOp:
    """Wraps an operation state so a test can hold a weak reference to it."""

    def __init__(self, inner: ex.OperationState) -> None:
        self.inner = inner

    def start(self) -> None:
        self.inner.start()


@pytest.mark.parametrize(
    "order", [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]], ids=["fifo", "lifo", "mixed"]
)
def test_spawned_work_completing_in_any_order_is_counted_exactly(order: list[int]) -> None:
    # The live list is intrusive (each entry links to its neighbours): removing the head, the
    # tail or a middle entry must all keep the count and the join right.
    scope = CountingScope()
    pending: list[ex.Receiver[None]] = []

    class _Waiting(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            class _Op:
                def start(self) -> None:
                    pending.append(receiver)

            return _Op()

    for _ in order:
        scope.spawn(_Waiting())
    spawned_future = scope.spawn_future(_Waiting())  # a future's state is on the list too
    joined = RecordingReceiver[None]()
    ex.connect(scope.join(), joined).start()
    future_receiver = pending.pop()
    assert scope.active == len(order) + 1
    future_receiver.set_value(None)
    for done, index in enumerate(order, start=1):
        pending[index].set_value(None)
        assert scope.active == len(order) - done
        assert len(scope) == scope.active
        assert joined.completed == (done == len(order))
    assert f"active={scope.active}" in repr(scope)
    assert ex.sync_wait(spawned_future) is None
