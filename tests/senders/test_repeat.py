"""Tests of repeat, repeat_n and repeat_until (stdexec's repeat_effect, repeat_n,
repeat_effect_until): rounds, channels, stop, stack safety and flat memory."""

from __future__ import annotations

import gc
import queue
import sys
import threading
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import repeat, repeat_n, repeat_until
from dsexec.senders import _trampoline
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


class _Script(ex.Sender[int]):
    """Each connect plays the next step inline: an int value, an exception, or None (stopped)."""

    def __init__(self, *steps: int | BaseException | None) -> None:
        self.steps = list(steps)
        self.connects = 0

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        self.connects += 1
        step = self.steps.pop(0)
        if step is None:
            return ex.connect(ex.just_stopped(), receiver)
        if isinstance(step, BaseException):
            return ex.connect(ex.just_error(step), receiver)
        return ex.connect(ex.just(step), receiver)


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _: object = None) -> int:
        self.count += 1
        return self.count


# The three algorithms, built in both forms, over one upstream (each completes with a value
# after enough rounds, except repeat(), which never does).
_BUILDERS: dict[str, Callable[[ex.Sender[Any]], ex.Sender[Any]]] = {
    "repeat-pipe": lambda s: s | repeat(),
    "repeat-call": repeat,
    "repeat_n-pipe": lambda s: s | repeat_n(10),
    "repeat_n-call": lambda s: repeat_n(s, 10),
    "repeat_until-pipe": lambda s: s | repeat_until(lambda v: v > 100),
    "repeat_until-call": lambda s: repeat_until(s, lambda v: v > 100),
}


def test_repeat_n_runs_the_upstream_n_times_then_completes_with_none() -> None:
    counter = _Counter()
    assert ex.sync_wait(ex.just(0) | ex.then(counter) | repeat_n(5)) is None
    assert counter.count == 5


def test_repeat_n_call_form_is_the_same_as_the_pipe_form() -> None:
    counter = _Counter()
    assert ex.sync_wait(repeat_n(ex.just(0) | ex.then(counter), 3)) is None
    assert counter.count == 3


def test_repeat_n_zero_completes_at_once_without_connecting_the_upstream() -> None:
    script = _Script()
    receiver = ExpectValueReceiver(None)
    ex.connect(script | repeat_n(0), receiver).start()
    assert receiver.completed
    assert script.connects == 0


@pytest.mark.parametrize("form", ["pipe", "call"])
def test_repeat_until_completes_with_the_first_value_the_predicate_accepts(form: str) -> None:
    counter = _Counter()
    upstream = ex.just(0) | ex.then(counter)
    sender = (
        upstream | repeat_until(lambda v: v >= 4)
        if form == "pipe"
        else repeat_until(upstream, lambda v: v >= 4)
    )
    assert ex.sync_wait(sender) == 4
    assert counter.count == 4


def test_repeat_until_predicate_that_raises_goes_down_the_error_channel() -> None:
    def predicate(value: int) -> bool:
        raise KeyError(f"bad {value}")

    script = _Script(1, 2, 3)
    receiver = ExpectErrorReceiver(KeyError, match="bad 1")
    ex.connect(script | repeat_until(predicate), receiver).start()
    assert script.connects == 1


def test_repeat_ends_only_with_the_upstreams_error() -> None:
    script = _Script(1, 2, 3, ValueError("third round failed"), 5)
    receiver = ExpectErrorReceiver(ValueError, match="third round")
    ex.connect(script | repeat(), receiver).start()
    assert script.connects == 4


@pytest.mark.parametrize("builder", _BUILDERS.values(), ids=_BUILDERS.keys())
def test_an_error_in_any_round_ends_every_form(builder: Any) -> None:
    script = _Script(1, 2, ValueError("boom"), 4)
    receiver = ExpectErrorReceiver(ValueError, match="boom")
    ex.connect(builder(script), receiver).start()
    assert script.connects == 3


@pytest.mark.parametrize("builder", _BUILDERS.values(), ids=_BUILDERS.keys())
def test_a_stopped_round_ends_every_form_with_set_stopped(builder: Any) -> None:
    script = _Script(1, None, 3)
    receiver = ExpectStoppedReceiver()
    ex.connect(builder(script), receiver).start()
    assert script.connects == 2


@pytest.mark.parametrize("builder", _BUILDERS.values(), ids=_BUILDERS.keys())
def test_exception_from_an_upstream_callback_goes_down_the_error_channel(builder: Any) -> None:
    def fail(_: object) -> int:
        raise KeyError("from the callback")

    receiver = ExpectErrorReceiver(KeyError, match="from the callback")
    ex.connect(builder(ex.just(0) | ex.then(fail)), receiver).start()


def test_every_round_connects_a_fresh_operation_state() -> None:
    ops: list[ex.OperationState] = []

    class _Recorder(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            op = ex.connect(ex.just(None), receiver)
            ops.append(op)
            return op

    ex.sync_wait(_Recorder() | repeat_n(4))
    assert len({id(op) for op in ops}) == 4


def test_connect_raising_goes_down_the_error_channel() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(_Unconnectable() | repeat(), receiver).start()


@pytest.mark.parametrize("builder", _BUILDERS.values(), ids=_BUILDERS.keys())
def test_stop_reaches_the_pending_round_promptly(
    builder: Any, vts: ex.VirtualTimeScheduler
) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(builder(vts.schedule_after(3600) | ex.then(lambda _: 0)), receiver).start()
    assert vts.statistics().timers == 1
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0
    assert vts.now() == 0


def test_stop_is_checked_before_each_round_even_if_the_upstream_ignores_it() -> None:
    source = ex.StopSource()
    counter = _Counter()

    def round_(_: object) -> int:
        if counter() == 3:
            source.request_stop()
        return counter.count

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(0) | ex.then(round_) | repeat(), receiver).start()
    assert counter.count == 3


def test_stop_requested_before_start_starts_no_round() -> None:
    source = ex.StopSource()
    source.request_stop()
    script = _Script(1)
    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(script | repeat_n(3), receiver).start()
    assert script.connects == 0


def test_stop_from_another_thread_ends_an_inline_forever_loop() -> None:
    source = ex.StopSource()
    stopper = threading.Thread(target=source.request_stop)
    counter = _Counter()

    def round_(_: object) -> None:
        if counter() == 1000:
            stopper.start()

    receiver = ExpectStoppedReceiver(stop_token=source.token)
    ex.connect(ex.just(0) | ex.then(round_) | repeat(), receiver).start()
    stopper.join()
    assert counter.count >= 1000


def test_a_million_inline_rounds_do_not_overflow_the_stack() -> None:
    assert sys.getrecursionlimit() < 1_000_000
    assert ex.sync_wait(ex.just(1) | repeat_n(1_000_000)) is None


def test_inline_rounds_run_in_flat_memory() -> None:
    def peak(rounds: int) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            ex.sync_wait(ex.just(1) | repeat_n(rounds))
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    small = peak(10_000)
    large = peak(200_000)
    assert large < small + 16_384, (small, large)


def test_repeat_until_of_inline_rounds_is_stack_safe_too() -> None:
    counter = _Counter()
    assert ex.sync_wait(ex.just(0) | ex.then(counter) | repeat_until(lambda v: v == 100_000)) == (
        100_000
    )


def test_asynchronous_rounds_restart_from_the_completing_callback() -> None:
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        threads: set[int] = set()
        counter = _Counter()

        def round_(_: object) -> None:
            threads.add(threading.get_ident())
            counter()

        assert ex.sync_wait(sch.schedule() | ex.then(round_) | repeat_n(1000), context=ctx) is None
        assert counter.count == 1000
        assert threads == {threading.get_ident()}


def test_rounds_completing_on_another_thread_loop_correctly() -> None:
    worker = ex.IoContext()
    worker_thread = threading.Thread(target=worker.run)
    threads: set[int] = set()
    counter = _Counter()

    def round_(_: object) -> int:
        threads.add(threading.get_ident())
        return counter()

    try:
        with worker.work_guard():
            worker_thread.start()
            sender = worker.get_scheduler().schedule() | ex.then(round_)
            assert ex.sync_wait(sender | repeat_until(lambda v: v == 500)) == 500
        worker_thread.join()
    finally:
        worker.close()
    assert threads == {worker_thread.ident}


class _Handoff(ex.Sender[None]):
    """Hands each round's completion to one of two worker threads: never the thread calling
    ``start()``. On even rounds ``start()`` returns only after the worker has completed the
    round (the completion comes first, from another thread, while ``start()`` still runs); on
    odd rounds it returns at once (and usually comes first). Both orders of the loop's
    handshake get exercised, from every thread."""

    def __init__(self) -> None:
        self.queues = [queue.SimpleQueue[_HandoffOp | None]() for _ in range(2)]
        self.workers = [
            threading.Thread(target=_complete_handed_off_work, args=(q,)) for q in self.queues
        ]
        self.rounds = 0

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        self.rounds += 1
        return _HandoffOp(self, receiver, wait=self.rounds % 2 == 0)


class _HandoffOp:
    def __init__(self, sender: _Handoff, receiver: ex.Receiver[None], wait: bool) -> None:
        self.sender = sender
        self.receiver = receiver
        self.completed = threading.Event() if wait else None

    def start(self) -> None:
        completed = self.completed
        on_first_worker = threading.get_ident() == self.sender.workers[0].ident
        self.sender.queues[1 if on_first_worker else 0].put(self)
        if completed is not None:
            assert completed.wait(timeout=30)


def _complete_handed_off_work(work: queue.SimpleQueue[_HandoffOp | None]) -> None:
    while (op := work.get()) is not None:
        completed = op.completed
        op.receiver.set_value(None)
        if completed is not None:
            completed.set()


def test_repeat_n_runs_on_virtual_time_rounds_in_order(vts: ex.VirtualTimeScheduler) -> None:
    times: list[float] = []
    sender = vts.schedule_after(2) | ex.then(lambda _: times.append(vts.now()))
    ex.sync_wait(sender | repeat_n(3), context=vts)
    assert times == [2, 4, 6]


def test_the_downstream_environment_reaches_every_round() -> None:
    source = ex.StopSource()
    tokens: list[ex.StopToken] = []

    class _EnvProbe(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            tokens.append(receiver.get_env().stop_token)
            return ex.connect(ex.just(None), receiver)

    receiver = RecordingReceiver[None](stop_token=source.token)
    ex.connect(_EnvProbe() | repeat_n(2), receiver).start()
    assert tokens == [source.token, source.token]
    assert receiver.completion == "value"


@pytest.mark.parametrize(
    ("algorithm", "args", "error", "message"),
    [
        (repeat_n, ("3",), TypeError, r"^repeat_n: expected an int count, got str"),
        (repeat_n, (True,), TypeError, r"^repeat_n: expected an int count, got bool"),
        (repeat_n, (-1,), ValueError, r"^repeat_n: the count must be >= 0, got -1"),
        (repeat_n, (ex.just(1),), TypeError, r"^repeat_n: missing the count"),
        (repeat_n, (3, 3), TypeError, r"^repeat_n: expected a Sender, got int"),
        (repeat_until, (3,), TypeError, r"^repeat_until: expected a callable, got int"),
        (repeat_until, (3, bool), TypeError, r"^repeat_until: expected a Sender, got int"),
        (repeat_until, (ex.just(1), 3), TypeError, r"^repeat_until: expected a callable"),
        (repeat, (3,), TypeError, r"^repeat: expected a Sender, got int"),
        (repeat(), (3,), TypeError, r"^repeat: expected a Sender, got int"),
        (repeat_n(2), (3,), TypeError, r"^repeat_n: expected a Sender, got int"),
        (repeat_until(bool), (3,), TypeError, r"^repeat_until: expected a Sender, got int"),
    ],
)
def test_bad_composition_is_refused_when_built_naming_the_algorithm(
    algorithm: Any, args: tuple[object, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        algorithm(*args)


# -- restartable upstreams: connected once, started every round (Sender.restartable) ----------


class _Restartable(ex.Sender[int]):
    """A sender making the restartable promise: its operation may be started again once done.

    Every start reads the environment (as real operations do, for the stop token) and
    completes inline with the number of starts so far."""

    restartable = True

    def __init__(self) -> None:
        self.connects = 0
        self.starts = 0

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        self.connects += 1
        return _RestartableOp(self, receiver)


class _RestartableOp(ex.RestartableOperation):
    def __init__(self, sender: _Restartable, receiver: ex.Receiver[int]) -> None:
        self.sender = sender
        self.receiver = receiver

    def start(self) -> None:
        self.receiver.get_env()
        self.sender.starts += 1
        self.receiver.set_value(self.sender.starts)


_ADAPTED: dict[str, Callable[[ex.Sender[int]], ex.Sender[Any]]] = {
    "bare": lambda s: s,
    "then": lambda s: s | ex.then(lambda v: v),
    "upon_error": lambda s: s | ex.upon_error(lambda _: 0),
    "let_value": lambda s: s | ex.let_value(ex.just),
    "let_error": lambda s: s | ex.let_error(lambda _: ex.just(0)),
}


@pytest.mark.parametrize("adapt", _ADAPTED.values(), ids=_ADAPTED.keys())
@pytest.mark.parametrize("builder", _BUILDERS.values(), ids=_BUILDERS.keys())
def test_a_restartable_upstream_is_connected_once_and_restarted_every_round(
    builder: Any, adapt: Any
) -> None:
    upstream = _Restartable()
    source = ex.StopSource()

    def stop_at_200(value: int) -> int:
        if value == 200:
            source.request_stop()  # ends repeat(), which never completes with a value
        return value

    receiver = RecordingReceiver[Any](stop_token=source.token)
    ex.connect(builder(adapt(upstream) | ex.then(stop_at_200)), receiver).start()
    assert receiver.completed
    assert upstream.connects == 1
    assert upstream.starts in (10, 101, 200)  # repeat_n(10), repeat_until(v > 100), repeat()


def test_a_sender_without_the_promise_is_connected_afresh_every_round() -> None:
    class _Plain(ex.Sender[int]):  # wraps a restartable operation, but makes no promise
        def __init__(self) -> None:
            self.connects = 0

        def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
            self.connects += 1
            return ex.connect(ex.just(self.connects), receiver)

    upstream = _Plain()
    assert ex.sync_wait(upstream | ex.then(lambda v: v) | repeat_until(lambda v: v == 5)) == 5
    assert upstream.connects == 5


def test_a_reusing_loop_lets_the_upstream_senders_go() -> None:
    upstream = _Restartable()
    pipeline: ex.Sender[int] = upstream | ex.then(lambda v: v) | repeat_until(lambda v: v == 3)
    ref = weakref.ref(upstream)
    receiver = ExpectValueReceiver(3)
    op = ex.connect(pipeline, receiver)
    del pipeline, upstream
    op.start()
    gc.collect()
    assert ref() is None  # the operation states do the work; nothing keeps the senders


def test_the_environment_is_read_once_for_all_rounds() -> None:
    class _CountingEnv(RecordingReceiver[None]):
        reads = 0

        def get_env(self) -> ex.Env:
            self.reads += 1
            return super().get_env()

    receiver = _CountingEnv(stop_token=ex.StopSource().token)
    upstream = _Restartable()
    ex.connect(upstream | ex.let_value(lambda _: ex.just(None)) | repeat_n(50), receiver).start()
    assert receiver.completion == "value"
    assert receiver.reads == 1


class _RestartableHandoff(_Handoff):
    """``_Handoff`` making the restartable promise: one operation, started round after round
    on whichever thread finished the previous one."""

    restartable = True

    def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
        return _RestartedHandoffOp(self, receiver)


class _RestartedHandoffOp(_HandoffOp):
    def __init__(self, sender: _Handoff, receiver: ex.Receiver[None]) -> None:
        super().__init__(sender, receiver, wait=False)

    def start(self) -> None:
        self.sender.rounds += 1
        self.completed = threading.Event() if self.sender.rounds % 2 == 0 else None
        super().start()


@pytest.mark.parametrize(
    "make_sender", [_Handoff, _RestartableHandoff], ids=["connected", "restarted"]
)
def test_rounds_racing_with_start_on_other_threads_run_exactly_once_each(
    make_sender: Callable[[], _Handoff],
) -> None:
    """Each round completes on another thread, racing with the start that follows it; with a
    fresh operation per round or one restarted operation, every round runs exactly once."""
    sender = make_sender()
    for worker in sender.workers:
        worker.start()
    try:
        done = threading.Event()
        receiver = ExpectValueReceiver(None)
        pipeline = sender | repeat_n(2000) | ex.then(lambda _: done.set())
        ex.connect(pipeline, receiver).start()
        assert done.wait(timeout=30)
        assert sender.rounds == 2000
    finally:
        for work, worker in zip(sender.queues, sender.workers, strict=True):
            work.put(None)
            worker.join()


def test_a_million_restarted_inline_rounds_do_not_overflow_the_stack() -> None:
    upstream = _Restartable()
    assert ex.sync_wait(upstream | ex.then(lambda v: v) | repeat_n(1_000_000)) is None
    assert upstream.connects == 1


def test_no_round_ticket_outlives_its_round() -> None:
    with ex.IoContext() as ctx:
        sch = ctx.get_scheduler()
        ex.sync_wait(ex.just(1) | repeat_n(100), context=ctx)
        ex.sync_wait(sch.schedule() | repeat_n(100), context=ctx)
        assert ex.sync_wait(_Restartable() | repeat_until(lambda v: v == 9), context=ctx) == 9

    class _Raising(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            return _RaisingOp()

    class _RaisingOp:
        def start(self) -> None:
            raise RuntimeError("a broken operation")

    with pytest.raises(RuntimeError, match="broken"):
        ex.connect(_Raising() | repeat(), RecordingReceiver[None]()).start()
    assert not _trampoline._ROUNDS


class _Retiring(_Restartable):
    """A restartable sender whose operation counts ``enter_loop()`` and ``retire()`` calls
    (the RestartableOperation protocol)."""

    def __init__(self, fail_at: int = 0) -> None:
        super().__init__()
        self.entered = 0
        self.retired = 0
        self.fail_at = fail_at

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        sender = self
        op = super().connect(receiver)

        class _Op(ex.RestartableOperation):
            def start(self) -> None:
                if sender.starts + 1 == sender.fail_at:
                    sender.starts += 1
                    receiver.set_error(KeyError("round failed"))
                    return
                op.start()

            def enter_loop(self) -> None:
                sender.entered += 1

            def retire(self) -> None:
                sender.retired += 1

        return _Op()


@pytest.mark.parametrize("adapt", _ADAPTED.values(), ids=_ADAPTED.keys())
@pytest.mark.parametrize("fail_at", [0, 3], ids=["value", "error"])
def test_a_loop_over_a_restartable_upstream_enters_and_retires_it_once(
    adapt: Any, fail_at: int
) -> None:
    upstream = _Retiring(fail_at)
    receiver = RecordingReceiver[Any]()
    ex.connect(adapt(upstream) | repeat_until(lambda v: v == 5), receiver).start()
    assert receiver.completed  # a value, or the error (unless an adaptor recovered from it)
    assert (upstream.entered, upstream.retired) == (1, 1)
