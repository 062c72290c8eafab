"""Tests of timeout: race the upstream against a timer; all on virtual time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import repeat_n, timeout
from dsexec.testing import (
    ExpectErrorReceiver,
    ExpectStoppedReceiver,
    ExpectValueReceiver,
    RecordingReceiver,
)


class _Manual(ex.Sender[Any]):
    """A single-use sender that completes when the test says so; logs start and stop requests.

    A stop request does not complete it: the test decides when (and how) it completes.
    """

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.receiver: ex.Receiver[Any] | None = None
        self._callback: ex.StopCallback | None = None

    def connect(self, receiver: ex.Receiver[Any], /) -> ex.OperationState:
        self.receiver = receiver
        return self

    def start(self) -> None:
        assert self.receiver is not None
        self.events.append("started")
        self._callback = self.receiver.get_env().stop_token.register(self._on_stop)

    def _on_stop(self) -> None:
        self.events.append("stop requested")

    def _finish(self) -> ex.Receiver[Any]:
        assert self.receiver is not None
        assert self._callback is not None
        self._callback.unregister()
        return self.receiver

    def complete_value(self, value: object) -> None:
        self._finish().set_value(value)

    def complete_error(self, error: BaseException) -> None:
        self._finish().set_error(error)

    def complete_stopped(self) -> None:
        self._finish().set_stopped()


def _pending(receiver: RecordingReceiver[Any]) -> bool:
    """Whether ``receiver`` is still waiting (a function, so mypy does not narrow it)."""
    return not receiver.completed


_FORMS: dict[str, Callable[[ex.Sender[Any], float], ex.Sender[Any]]] = {
    "pipe": lambda s, seconds: s | timeout(seconds),
    "call": timeout,
}


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_a_slow_upstream_fails_with_timeout_error_at_the_deadline(
    form: Any, vts: ex.VirtualTimeScheduler
) -> None:
    with pytest.raises(TimeoutError, match=r"^timeout: the operation timed out after 5 s$"):
        ex.sync_wait(form(vts.schedule_after(10), 5), context=vts)
    assert vts.now() == 5
    assert vts.statistics().timers == 0


@pytest.mark.parametrize("form", _FORMS.values(), ids=_FORMS.keys())
def test_a_fast_upstream_wins_and_its_timer_is_withdrawn(
    form: Any, vts: ex.VirtualTimeScheduler
) -> None:
    sender = form(vts.schedule_after(1) | ex.then(lambda _: "fast"), 3600)
    assert ex.sync_wait(sender, context=vts) == "fast"
    assert vts.now() == 1  # the hour-long timer neither fired nor held the loop
    assert vts.statistics().timers == 0


def test_an_hour_long_timeout_on_a_real_clock_finishes_at_once() -> None:
    with ex.IoContext() as ctx:
        sender = ctx.get_scheduler().schedule() | ex.then(lambda _: "done") | timeout(3600)
        assert ex.sync_wait(sender, context=ctx) == "done"
        assert ctx.statistics().timers == 0


@pytest.mark.parametrize(
    ("upstream", "receiver_factory"),
    [
        (ex.just_error(KeyError("k")), lambda **kw: ExpectErrorReceiver(KeyError, **kw)),
        (ex.just_stopped(), ExpectStoppedReceiver),
        (ex.just(4), lambda **kw: ExpectValueReceiver(4, **kw)),
    ],
    ids=["error", "stopped", "value"],
)
def test_an_inline_upstream_completion_passes_through_and_arms_no_timer(
    upstream: ex.Sender[Any], receiver_factory: Any, vts: ex.VirtualTimeScheduler
) -> None:
    receiver = receiver_factory(scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    assert receiver.completed
    statistics = vts.statistics()
    assert (statistics.timers, statistics.cancelled_timers) == (0, 0)


@pytest.mark.parametrize("how", ["error", "stopped"])
def test_an_asynchronous_upstream_error_or_stop_passes_through(
    how: str, vts: ex.VirtualTimeScheduler
) -> None:
    events: list[str] = []
    upstream = _Manual(events)
    receiver = RecordingReceiver[Any](scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    assert vts.statistics().timers == 1
    if how == "error":
        upstream.complete_error(OSError("reset"))
    else:
        upstream.complete_stopped()
    assert receiver.completion == how  # the timer was stopped inline, then this was delivered
    assert vts.statistics().timers == 0
    assert "stop requested" not in events


def test_on_timeout_the_upstream_is_stopped_and_awaited_before_the_error(
    vts: ex.VirtualTimeScheduler,
) -> None:
    events: list[str] = []
    upstream = _Manual(events)
    receiver = ExpectErrorReceiver(TimeoutError, scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    vts.run()
    assert vts.now() == 5
    assert events == ["started", "stop requested"]
    assert _pending(receiver)  # the upstream has not completed yet
    upstream.complete_stopped()
    assert receiver.completed


@pytest.mark.parametrize(
    ("finish", "receiver_factory"),
    [
        (lambda m: m.complete_value("ok"), lambda **kw: ExpectValueReceiver("ok", **kw)),
        (
            lambda m: m.complete_error(OSError("late")),
            lambda **kw: ExpectErrorReceiver(OSError, **kw),
        ),
    ],
    ids=["value", "error"],
)
def test_an_upstream_completing_before_honouring_the_stop_wins(
    finish: Callable[[_Manual], None], receiver_factory: Any, vts: ex.VirtualTimeScheduler
) -> None:
    events: list[str] = []
    upstream = _Manual(events)
    receiver = receiver_factory(scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    vts.run()
    assert events[-1] == "stop requested"
    finish(upstream)
    assert receiver.completed


def test_outer_stop_stops_both_promptly(vts: ex.VirtualTimeScheduler) -> None:
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token, scheduler=vts.get_scheduler())
    ex.connect(vts.schedule_after(100) | timeout(50), receiver).start()
    assert vts.statistics().timers == 2
    source.request_stop()
    assert receiver.completed
    assert vts.statistics().timers == 0
    assert vts.now() == 0


def test_outer_stop_after_the_timer_fired_delivers_stopped(vts: ex.VirtualTimeScheduler) -> None:
    events: list[str] = []
    upstream = _Manual(events)
    source = ex.StopSource()
    receiver = ExpectStoppedReceiver(stop_token=source.token, scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    vts.run()
    source.request_stop()
    upstream.complete_stopped()


def test_stop_requested_before_start_starts_nothing(vts: ex.VirtualTimeScheduler) -> None:
    events: list[str] = []
    source = ex.StopSource()
    source.request_stop()
    receiver = ExpectStoppedReceiver(stop_token=source.token, scheduler=vts.get_scheduler())
    ex.connect(_Manual(events) | timeout(5), receiver).start()
    assert events == []
    assert vts.statistics().timers == 0


def test_the_upstream_sees_a_new_stop_token_and_the_same_scheduler(
    vts: ex.VirtualTimeScheduler,
) -> None:
    events: list[str] = []
    upstream = _Manual(events)
    source = ex.StopSource()
    receiver = ExpectValueReceiver(1, stop_token=source.token, scheduler=vts.get_scheduler())
    ex.connect(upstream | timeout(5), receiver).start()
    assert upstream.receiver is not None
    env = upstream.receiver.get_env()
    assert env.stop_token != source.token
    assert env.scheduler == vts.get_scheduler()
    upstream.complete_value(1)


def test_an_explicit_scheduler_is_used_when_the_environment_has_none(
    vts: ex.VirtualTimeScheduler,
) -> None:
    receiver = ExpectErrorReceiver(TimeoutError)
    ex.connect(vts.schedule_after(10) | timeout(2, scheduler=vts), receiver).start()
    vts.run()
    assert vts.now() == 2


def test_the_explicit_scheduler_wins_over_the_environments(vts: ex.VirtualTimeScheduler) -> None:
    with ex.VirtualTimeScheduler() as other:
        receiver = ExpectErrorReceiver(TimeoutError, scheduler=other.get_scheduler())
        ex.connect(vts.schedule_after(10) | timeout(2, scheduler=vts), receiver).start()
        assert other.statistics().timers == 0
        vts.run()


def test_without_a_scheduler_the_error_is_a_type_error_and_nothing_starts() -> None:
    events: list[str] = []
    receiver = ExpectErrorReceiver(TypeError, match=r"^timeout: needs a timed scheduler, and")
    ex.connect(_Manual(events) | timeout(5), receiver).start()
    assert events == []


def test_an_untimed_scheduler_in_the_environment_is_a_type_error() -> None:
    class _Untimed:
        def schedule(self) -> ex.Sender[None]:
            return ex.just(None)

    events: list[str] = []
    receiver = ExpectErrorReceiver(
        TypeError,
        match=r"^timeout: needs a timed scheduler \(with schedule_after\(\)\), got _Untimed",
    )
    ex.connect(_Manual(events) | timeout(5), _WithScheduler(receiver, _Untimed())).start()
    assert events == []


class _WithScheduler:
    """Forwards to ``receiver`` with an environment holding an arbitrary ``scheduler`` object."""

    def __init__(self, receiver: ex.Receiver[Any], scheduler: Any) -> None:
        self.receiver = receiver
        self.env = ex.Env(ex.StopToken.never(), scheduler)

    def set_value(self, value: Any, /) -> None:
        self.receiver.set_value(value)

    def set_error(self, error: BaseException, /) -> None:
        self.receiver.set_error(error)

    def set_stopped(self) -> None:
        self.receiver.set_stopped()

    def get_env(self) -> ex.Env:
        return self.env


def test_a_failing_timer_stops_the_upstream_and_delivers_its_error() -> None:
    class _BrokenClock:
        def schedule(self) -> ex.Sender[None]:
            return ex.just(None)

        def schedule_after(self, seconds: float, /) -> ex.Sender[None]:
            return ex.just_error(OSError("clock broke"))

    events: list[str] = []
    upstream = _Manual(events)
    receiver = ExpectErrorReceiver(OSError, match="clock broke")
    clock: Any = _BrokenClock()
    ex.connect(upstream | timeout(5, scheduler=clock), receiver).start()
    assert events == ["started", "stop requested"]
    upstream.complete_stopped()


def test_a_hundred_thousand_timeouts_that_never_fire_cost_nothing(
    vts: ex.VirtualTimeScheduler,
) -> None:
    rounds = 100_000
    ex.sync_wait(vts.schedule() | timeout(5) | repeat_n(rounds), context=vts)
    statistics = vts.statistics()
    assert vts.now() == 0
    assert statistics.timers == 0
    assert statistics.cancelled_timers < 128  # compacted as they were cancelled
    assert len(vts._timers) < 128


def test_an_upstream_completing_on_another_thread_wins() -> None:
    # Real clock on purpose: virtual time would jump to the timer while the loop waits for the
    # other thread. The hour-long timer never fires; it is withdrawn when the upstream wins.
    worker = ex.IoContext()
    worker_thread = threading.Thread(target=worker.run)
    try:
        with ex.IoContext() as ctx, worker.work_guard():
            worker_thread.start()
            sender = worker.get_scheduler().schedule() | ex.then(_thread_id) | timeout(3600)
            assert ex.sync_wait(sender, context=ctx) == worker_thread.ident
            assert ctx.statistics().timers == 0
        worker_thread.join()
    finally:
        worker.close()


def _thread_id(_: object) -> int:
    return threading.get_ident()


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("5",), {}, TypeError, r"^timeout: expected the delay in seconds as a number, got str"),
        ((True,), {}, TypeError, r"^timeout: expected the delay in seconds as a number"),
        ((float("nan"),), {}, ValueError, r"^timeout: the delay is NaN"),
        ((3, 5), {}, TypeError, r"^timeout: expected a Sender, got int"),
        ((ex.just(1),), {}, TypeError, r"^timeout: missing the delay"),
        ((5,), {"scheduler": 3}, TypeError, r"^timeout: needs a timed scheduler .*got int"),
        ((ex.just(1), "x"), {}, TypeError, r"^timeout: expected the delay in seconds"),
    ],
)
def test_bad_composition_is_refused_when_built_naming_timeout(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    algorithm: Any = timeout
    with pytest.raises(error, match=message):
        algorithm(*args, **kwargs)


def test_timeout_adaptor_applied_to_a_non_sender_names_timeout() -> None:
    adaptor: Any = timeout(5)
    with pytest.raises(TypeError, match=r"^timeout: expected a Sender, got int"):
        adaptor(3)
