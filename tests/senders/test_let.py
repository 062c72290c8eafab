"""Tests of let_value, let_error and let_stopped [exec.let]."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import dsexec as ex
from dsexec import let_error, let_stopped, let_value
from dsexec.testing import ExpectErrorReceiver, ExpectStoppedReceiver, ExpectValueReceiver


def _fail(*_: object) -> ex.Sender[Any]:
    raise KeyError("from the callback")


def test_let_value_continues_with_the_returned_sender() -> None:
    assert ex.sync_wait(ex.just(2) | let_value(lambda x: ex.just(x * 10))) == 20


def test_let_value_function_form_is_the_same_as_the_pipe_form() -> None:
    assert ex.sync_wait(let_value(ex.just(2), lambda x: ex.just(f"<{x}>"))) == "<2>"


def test_let_value_returned_sender_can_fail_or_stop() -> None:
    failing = ExpectErrorReceiver(ValueError, match="inner")
    pipeline = ex.just(1) | let_value(lambda _: ex.just_error(ValueError("inner")))
    ex.connect(pipeline, failing).start()
    stopping = ExpectStoppedReceiver()
    ex.connect(ex.just(1) | let_value(lambda _: ex.just_stopped()), stopping).start()


def test_let_value_runs_an_asynchronous_second_sender() -> None:
    with ex.VirtualTimeScheduler() as vts:
        pipeline: ex.Sender[tuple[int, float]] = ex.just(1) | let_value(
            lambda x: vts.schedule_after(5) | ex.then(lambda _: (x, vts.now()))
        )
        assert ex.sync_wait(pipeline, context=vts) == (1, 5.0)


@pytest.mark.parametrize(
    ("sender", "receiver_factory"),
    [
        (ex.just_error(ValueError("e")), lambda: ExpectErrorReceiver(ValueError)),
        (ex.just_stopped(), ExpectStoppedReceiver),
    ],
    ids=["error", "stopped"],
)
def test_let_value_fn_not_called_on_error_or_stop(
    sender: ex.Sender[Any], receiver_factory: Callable[[], Any]
) -> None:
    calls: list[object] = []

    def record(value: object) -> ex.Sender[None]:
        calls.append(value)
        return ex.just(None)

    receiver = receiver_factory()
    ex.connect(sender | let_value(record), receiver).start()
    assert calls == []
    assert receiver.completed


@pytest.mark.parametrize(
    ("algorithm", "sender"),
    [
        (let_value, ex.just(1)),
        (let_error, ex.just_error(ValueError())),
        (let_stopped, ex.just_stopped()),
    ],
    ids=["let_value", "let_error", "let_stopped"],
)
def test_let_exception_from_fn_goes_down_the_error_channel(
    algorithm: Any, sender: ex.Sender[Any]
) -> None:
    receiver = ExpectErrorReceiver(KeyError, match="from the callback")
    ex.connect(sender | algorithm(_fail), receiver).start()


@pytest.mark.parametrize(
    ("algorithm", "sender"),
    [
        (let_value, ex.just(1)),
        (let_error, ex.just_error(ValueError())),
        (let_stopped, ex.just_stopped()),
    ],
    ids=["let_value", "let_error", "let_stopped"],
)
def test_let_fn_returning_a_non_sender_is_a_type_error_naming_the_algorithm(
    algorithm: Any, sender: ex.Sender[Any]
) -> None:
    name = algorithm.__name__
    receiver = ExpectErrorReceiver(
        TypeError, match=f"^{name}: the function must return a Sender, got int"
    )
    ex.connect(sender | algorithm(lambda *_: 42), receiver).start()


def test_let_value_connect_failure_of_the_second_sender_goes_down_the_error_channel() -> None:
    class _Unconnectable(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            raise OSError("cannot connect")

    receiver = ExpectErrorReceiver(OSError, match="cannot connect")
    ex.connect(ex.just(1) | let_value(lambda _: _Unconnectable()), receiver).start()


def test_let_error_recovers_with_the_returned_sender() -> None:
    pipeline = ex.just_error(ValueError("bad")) | let_error(lambda e: ex.just(f"handled {e}"))
    assert ex.sync_wait(pipeline) == "handled bad"


def test_let_error_function_form_and_values_pass_through() -> None:
    calls: list[BaseException] = []

    def record(error: BaseException) -> ex.Sender[int]:
        calls.append(error)
        return ex.just(0)

    assert ex.sync_wait(let_error(ex.just(7), record)) == 7
    stopped = ExpectStoppedReceiver()
    ex.connect(ex.just_stopped() | let_error(record), stopped).start()
    assert calls == []


def test_let_error_can_fail_again() -> None:
    receiver = ExpectErrorReceiver(KeyError, match="again")
    pipeline = ex.just_error(ValueError()) | let_error(lambda _: ex.just_error(KeyError("again")))
    ex.connect(pipeline, receiver).start()


def test_let_stopped_continues_with_the_returned_sender() -> None:
    assert ex.sync_wait(ex.just_stopped() | let_stopped(lambda: ex.just("fallback"))) == (
        "fallback"
    )
    assert ex.sync_wait(let_stopped(ex.just_stopped(), lambda: ex.just(0))) == 0


def test_let_stopped_passes_values_and_errors_through() -> None:
    calls: list[None] = []

    def record() -> ex.Sender[int]:
        calls.append(None)
        return ex.just(0)

    assert ex.sync_wait(ex.just(3) | let_stopped(record)) == 3
    receiver = ExpectErrorReceiver(ValueError)
    ex.connect(ex.just_error(ValueError()) | let_stopped(record), receiver).start()
    assert calls == []


def test_let_value_stop_reaches_the_first_sender_and_fn_is_not_called() -> None:
    source = ex.StopSource()
    calls: list[object] = []

    def record(value: object) -> ex.Sender[None]:
        calls.append(value)
        return ex.just(None)

    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        ex.connect(vts.schedule_after(10) | let_value(record), receiver).start()
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0
    assert calls == []
    assert source._callbacks == {}


def test_let_value_stop_reaches_the_second_sender() -> None:
    source = ex.StopSource()
    with ex.VirtualTimeScheduler() as vts:
        receiver = ExpectStoppedReceiver(stop_token=source.token)
        ex.connect(ex.just(1) | let_value(lambda _: vts.schedule_after(10)), receiver).start()
        assert vts.statistics().timers == 1
        source.request_stop()
        assert receiver.completed
        assert vts.statistics().timers == 0
    assert source._callbacks == {}


def test_let_value_second_sender_gets_the_downstream_environment() -> None:
    source = ex.StopSource()
    seen: list[ex.Env] = []

    class _EnvProbe(ex.Sender[str]):
        def connect(self, receiver: ex.Receiver[str], /) -> ex.OperationState:
            seen.append(receiver.get_env())
            return ex.connect(ex.just("probed"), receiver)

    receiver = ExpectValueReceiver("probed", stop_token=source.token)
    ex.connect(_EnvProbe() | let_value(lambda _: _EnvProbe()), receiver).start()
    assert [env.stop_token for env in seen] == [source.token, source.token]


def test_let_value_operation_keeps_the_second_operation_alive() -> None:
    second_ops: list[weakref.ref[Any]] = []
    pending: list[ex.Receiver[int]] = []

    class _PendingOp:
        def __init__(self, receiver: ex.Receiver[int]) -> None:
            self.receiver = receiver

        def start(self) -> None:
            pending.append(self.receiver)

    class _Pending(ex.Sender[int]):
        def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
            op = _PendingOp(receiver)
            second_ops.append(weakref.ref(op))
            return op

    receiver = ExpectValueReceiver(5)
    op = ex.connect(ex.just(1) | let_value(lambda _: _Pending()), receiver)
    op.start()
    gc.collect()
    assert second_ops[0]() is not None
    pending.pop().set_value(5)
    assert receiver.completed


@pytest.mark.parametrize("algorithm", [let_value, let_error, let_stopped])
def test_let_composition_errors_name_the_algorithm_when_built(algorithm: Any) -> None:
    name = algorithm.__name__
    with pytest.raises(TypeError, match=f"^{name}: expected a callable, got int"):
        algorithm(3)
    with pytest.raises(TypeError, match=f"^{name}: expected a Sender, got int"):
        algorithm(3, lambda *_: ex.just(None))
    with pytest.raises(TypeError, match=f"^{name}: expected a callable, got NoneType"):
        algorithm(ex.just(1), None)
    with pytest.raises(TypeError, match=f"^{name}: expected a Sender, got str"):
        algorithm(lambda *_: ex.just(None))("not a sender")


# -- the second sender: connect-or-complete, restarts --------------------------


class _Recorded(ex.Sender[int]):
    """A sender that records how it was used: plain ``connect`` or ``connect_or_complete``."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        self.calls.append("connect")
        return ex.connect(ex.just(7), receiver)

    def connect_or_complete(self, receiver: ex.Receiver[int], /) -> ex.OperationState | None:
        self.calls.append("connect_or_complete")
        receiver.set_value(8)  # completed right here: no operation state at all
        return None


@pytest.mark.parametrize(
    "build",
    [
        lambda f: ex.just(1) | let_value(f),
        lambda f: ex.just_error(ValueError()) | let_error(f),
        lambda f: ex.just_stopped() | let_stopped(f),
    ],
    ids=["let_value", "let_error", "let_stopped"],
)
def test_let_completes_a_second_sender_that_can_without_an_operation_state(build: Any) -> None:
    second = _Recorded()
    receiver = ExpectValueReceiver(8)
    ex.connect(build(lambda *_: second), receiver).start()
    assert second.calls == ["connect_or_complete"]


def testconnect_or_complete_defaults_to_connect_and_reports_connect_errors() -> None:
    class _Unconnectable(ex.Sender[int]):
        def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
            raise OSError("no")

    failing = ExpectErrorReceiver(OSError, match="no")
    assert _Unconnectable().connect_or_complete(failing) is None
    assert failing.completed
    pending = ExpectValueReceiver(5)
    connected = ex.Sender.connect_or_complete(ex.just(5), pending)  # the generic form
    assert connected is not None  # an operation state, not started yet
    assert not pending.completed
    connected.start()
    assert pending.completed


def test_restarting_a_let_operation_drops_the_previous_second_operation() -> None:
    class _Held(ex.Sender[int]):  # a second sender whose operation stays pending until told
        def __init__(self) -> None:
            self.ops: list[weakref.ref[Any]] = []
            self.pending: list[ex.Receiver[int]] = []

        def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
            held = self

            class _Op:
                def start(self) -> None:
                    held.pending.append(receiver)

            op = _Op()
            self.ops.append(weakref.ref(op))
            return op

    second = _Held()
    receiver = ExpectValueReceiver(None)
    ex.connect(ex.just(1) | let_value(lambda _: second) | ex.repeat_n(2), receiver).start()
    second.pending.pop().set_value(0)  # round 1 done: the loop restarts the let operation
    gc.collect()
    assert second.ops[0]() is None  # released by the restart
    assert second.ops[1]() is not None  # round 2's is kept while it runs
    second.pending.pop().set_value(0)
    assert receiver.completed




class _Fusing(ex.Sender[int]):
    """``just(value)`` that asks to fuse with whatever is applied to it: it records what
    ``fuse`` was offered, and fuses (one operation completing with ``fn(value)``'s value
    doubled, visibly different from the plain pair) only when ``accept`` is set."""

    def __init__(self, value: int, *, accept: bool) -> None:
        self.value = value
        self.accept = accept
        self.offers: list[tuple[ex.Sender[Any], ex.Receiver[Any]]] = []

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        return ex.just(self.value).connect(receiver)

    def fuse(
        self, algorithm: ex.Sender[Any], receiver: ex.Receiver[Any], /
    ) -> ex.OperationState | None:
        self.offers.append((algorithm, receiver))
        if not self.accept:
            return None
        fn: Callable[[int], ex.Sender[int]] = algorithm.data  # type: ignore[attr-defined]
        return (fn(self.value) | ex.then(lambda v: 2 * v)).connect(receiver)


@pytest.mark.parametrize("accept", [True, False], ids=["fused", "declined"])
def test_let_value_offers_its_upstream_to_fuse_at_connect(accept: bool) -> None:
    upstream = _Fusing(5, accept=accept)
    pipeline = upstream | let_value(lambda x: ex.just(x + 1))
    receiver = ExpectValueReceiver(12 if accept else 6)
    ex.connect(pipeline, receiver).start()
    assert receiver.completed
    [(algorithm, offered_to)] = upstream.offers
    assert algorithm is pipeline
    assert offered_to is receiver


def test_let_error_and_let_stopped_do_not_offer_fusion() -> None:
    upstream = _Fusing(5, accept=True)
    assert ex.sync_wait(upstream | let_error(lambda _: ex.just(0))) == 5
    assert ex.sync_wait(upstream | let_stopped(lambda: ex.just(0))) == 5
    assert upstream.offers == []


def test_a_sender_declines_fusion_by_default() -> None:
    receiver = ExpectValueReceiver(1)
    assert ex.just(1).fuse(ex.just(1) | let_value(ex.just), receiver) is None
    receiver.allow_missing_completion()
