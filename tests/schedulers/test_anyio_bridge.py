"""``await sender`` / ``as_awaitable`` and ``from_coroutine`` on asyncio, trio and uvloop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, final

import anyio
import pytest

import dsexec as ex
from dsexec import AnyioScheduler, as_awaitable, from_coroutine
from dsexec.schedulers import reactor_of
from dsexec.testing import RecordingReceiver

pytestmark = pytest.mark.anyio

_UVLOOP = pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")


class SignalReceiver(RecordingReceiver[Any]):
    """A recording receiver the test can wait on (completions arrive on the loop thread)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event = anyio.Event()

    def set_value(self, value: Any, /) -> None:
        super().set_value(value)
        self.event.set()

    def set_error(self, error: BaseException, /) -> None:
        super().set_error(error)
        self.event.set()

    def set_stopped(self) -> None:
        super().set_stopped()
        self.event.set()

    async def wait(self) -> None:
        with anyio.fail_after(5):
            await self.event.wait()


@final
class ControlledSender(ex.Sender[int]):
    """A sender the test completes by hand; on stop it completes later, from another thread.

    ``log`` records "started", "stop requested" and "completed" in the order they happen.
    """

    def __init__(self) -> None:
        self.log: list[str] = []
        self.started = threading.Event()
        self.receiver: ex.Receiver[int] | None = None
        self.threads: list[threading.Thread] = []
        self._callback: ex.StopCallback | None = None

    def connect(self, receiver: ex.Receiver[int], /) -> ex.OperationState:
        self.receiver = receiver
        return self

    def start(self) -> None:
        assert self.receiver is not None
        self.log.append("started")
        self._callback = self.receiver.get_env().stop_token.register(self._on_stop)
        self.started.set()

    def _on_stop(self) -> None:
        self.log.append("stop requested")
        self.complete_from_thread(None)

    def complete_from_thread(self, value: int | None) -> None:
        thread = threading.Thread(target=self._complete, args=(value,))
        self.threads.append(thread)
        thread.start()

    def _complete(self, value: int | None) -> None:
        assert self._callback is not None
        assert self.receiver is not None
        self._callback.unregister()
        self.log.append("completed")
        if value is None:
            self.receiver.set_stopped()
        else:
            self.receiver.set_value(value)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


# -- await sender -------------------------------------------------------------------------------


async def test_await_sender_returns_its_value() -> None:
    assert await ex.just(42) == 42
    assert await as_awaitable(ex.just("x") | ex.then(str.upper)) == "X"


async def test_await_sender_that_completes_later_returns_its_value() -> None:
    sch = AnyioScheduler()
    assert await (sch.schedule_after(0.001) | ex.then(lambda _: 7)) == 7


async def test_await_sender_raises_its_error() -> None:
    error = ValueError("bad")
    with pytest.raises(ValueError, match="bad") as info:
        await ex.just_error(error)
    assert info.value is error


async def test_await_sender_raises_stopped_when_it_completes_stopped() -> None:
    with pytest.raises(ex.Stopped):
        await ex.just_stopped()


async def test_await_offers_an_anyio_scheduler_and_a_stop_token() -> None:
    seen: list[ex.Env] = []

    class EnvProbe(ex.Sender[None]):
        def connect(self, receiver: ex.Receiver[None], /) -> ex.OperationState:
            seen.append(receiver.get_env())
            return ex.just(None).connect(receiver)

    await EnvProbe()
    assert seen[0].scheduler == AnyioScheduler()
    assert seen[0].stop_token.stop_possible()


def test_as_awaitable_rejects_a_non_sender() -> None:
    with pytest.raises(TypeError, match="as_awaitable: expected a Sender"):
        as_awaitable(42)  # type: ignore[arg-type]


async def test_await_sender_completed_from_another_thread() -> None:
    sender = ControlledSender()

    async def complete_when_started() -> None:
        await anyio.to_thread.run_sync(sender.started.wait)
        sender.complete_from_thread(5)

    loop_thread = threading.get_ident()
    async with anyio.create_task_group() as tg:
        tg.start_soon(complete_when_started)
        assert await sender == 5
        assert threading.get_ident() == loop_thread
    sender.join()
    assert sender.log == ["started", "completed"]


async def test_cancelling_the_awaiting_task_stops_the_sender_before_propagating() -> None:
    sender = ControlledSender()
    cancelled = anyio.get_cancelled_exc_class()

    async def awaiter() -> None:
        try:
            await sender
        except cancelled:
            sender.log.append("cancellation propagated")
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(awaiter)
        await anyio.to_thread.run_sync(sender.started.wait)
        tg.cancel_scope.cancel()
    sender.join()
    assert sender.log == ["started", "stop requested", "completed", "cancellation propagated"]


async def test_a_cancel_scope_deadline_stops_an_awaited_timer() -> None:
    sch = AnyioScheduler()
    with anyio.move_on_after(0.002) as scope:
        await sch.schedule_after(3600)
    assert scope.cancelled_caught


@pytest.mark.parametrize("anyio_backend", ["asyncio", _UVLOOP])
async def test_asyncio_task_cancel_stops_the_sender_before_propagating() -> None:
    sender = ControlledSender()

    async def awaiter() -> None:
        try:
            await sender
        except asyncio.CancelledError:
            sender.log.append("cancellation propagated")
            raise

    task = asyncio.get_running_loop().create_task(awaiter())
    await anyio.to_thread.run_sync(sender.started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sender.join()
    assert sender.log == ["started", "stop requested", "completed", "cancellation propagated"]


def test_await_sender_outside_a_loop_is_a_runtime_error() -> None:
    coroutine = as_awaitable(ex.just(1)).__await__()
    with pytest.raises(RuntimeError, match="needs a running asyncio, uvloop or trio event loop"):
        coroutine.send(None)


# -- from_coroutine -----------------------------------------------------------------------------


async def add(a: int, b: int) -> int:
    await anyio.sleep(0)
    return a + b


async def fail(message: str) -> int:
    await anyio.sleep(0)
    raise ValueError(message)


async def test_from_coroutine_completes_with_the_coroutine_value() -> None:
    assert await from_coroutine(add, 1, 2) == 3


async def test_from_coroutine_completes_with_the_coroutine_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        await from_coroutine(fail, "nope")


async def test_from_coroutine_runs_the_coroutine_on_the_loop_of_the_receivers_scheduler() -> None:
    loop_thread = threading.get_ident()

    async def where() -> int:
        return threading.get_ident()

    sch = AnyioScheduler()
    receiver = SignalReceiver(scheduler=sch)
    op = ex.connect(from_coroutine(where), receiver)
    thread = threading.Thread(target=op.start)  # start() from another thread posts to the loop
    thread.start()
    thread.join()
    await receiver.wait()
    assert receiver.value == loop_thread


def _live_from_coroutine_tasks() -> int:
    if AnyioScheduler().backend == "asyncio":
        return sum(
            1
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "_FromCoroutineOp._main"
        )
    import trio

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return sum(
        1
        for nursery in root.child_nurseries
        for task in nursery.child_tasks
        if task.name == "dsexec from_coroutine"
    )


async def test_from_coroutine_stop_cancels_the_task_and_completes_stopped() -> None:
    started = anyio.Event()
    log: list[str] = []

    async def forever() -> int:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            log.append("coroutine cleaned up")
        return 1  # pragma: no cover

    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(scheduler=sch, stop_token=source.token)
    ex.connect(from_coroutine(forever), receiver).start()
    with anyio.fail_after(1):
        await started.wait()
    assert _live_from_coroutine_tasks() == 1
    source.request_stop()
    await receiver.wait()
    assert receiver.completion == "stopped"
    assert log == ["coroutine cleaned up"]
    await sch.schedule()  # let the loop retire the finished task
    assert _live_from_coroutine_tasks() == 0


async def test_from_coroutine_stop_from_another_thread_cancels_the_task() -> None:
    started = anyio.Event()

    async def forever() -> int:
        started.set()
        await anyio.sleep_forever()
        return 1  # pragma: no cover

    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(scheduler=sch, stop_token=source.token)
    ex.connect(from_coroutine(forever), receiver).start()
    with anyio.fail_after(1):
        await started.wait()
    thread = threading.Thread(target=source.request_stop)
    thread.start()
    await receiver.wait()
    thread.join()
    assert receiver.completion == "stopped"


async def test_from_coroutine_catching_the_cancellation_delivers_its_value() -> None:
    started = anyio.Event()

    async def stubborn() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            return "cleaned up"
        return "unreachable"  # pragma: no cover

    sch = AnyioScheduler()
    source = ex.StopSource()
    receiver = SignalReceiver(scheduler=sch, stop_token=source.token)
    ex.connect(from_coroutine(stubborn), receiver).start()
    await started.wait()
    source.request_stop()
    await receiver.wait()
    assert receiver.value == "cleaned up"


async def test_from_coroutine_stopped_before_start_never_calls_fn() -> None:
    called: list[int] = []

    async def record() -> None:
        called.append(1)

    source = ex.StopSource()
    source.request_stop()
    receiver = SignalReceiver(scheduler=AnyioScheduler(), stop_token=source.token)
    ex.connect(from_coroutine(record), receiver).start()
    assert receiver.completion == "stopped"
    assert called == []


async def test_from_coroutine_awaited_task_cancellation_stops_the_coroutine() -> None:
    log: list[str] = []
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            log.append("coroutine cleaned up")

    async def cancel_once_started(scope: anyio.CancelScope) -> None:
        await started.wait()
        scope.cancel()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as scope:
                tg.start_soon(cancel_once_started, scope)
                await from_coroutine(forever)
    assert scope.cancelled_caught
    assert log == ["coroutine cleaned up"]  # the await waited for the task to end


async def test_from_coroutine_is_tracked_by_an_async_with_scheduler() -> None:
    log: list[str] = []
    exiting = anyio.Event()
    release = anyio.Event()

    async def slow() -> None:
        await release.wait()  # finishes only after the block began to exit
        log.append("done")

    async def releaser() -> None:
        await exiting.wait()
        release.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(releaser)
            async with AnyioScheduler() as sch:
                ex.connect(from_coroutine(slow), SignalReceiver(scheduler=sch)).start()
                exiting.set()
            assert log == ["done"]  # the exit waited for the coroutine


def test_from_coroutine_without_an_anyio_scheduler_completes_with_type_error() -> None:
    called: list[int] = []

    async def record() -> None:  # pragma: no cover - never called
        called.append(1)

    with pytest.raises(
        TypeError, match=r"from_coroutine: needs an AnyioScheduler.*IoContextScheduler"
    ):
        ex.sync_wait(from_coroutine(record))
    receiver = RecordingReceiver[Any]()
    ex.connect(from_coroutine(record), receiver).start()
    assert isinstance(receiver.error, TypeError)
    assert "NoneType" in str(receiver.error)
    assert called == []


def test_from_coroutine_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match="from_coroutine: expected a callable"):
        from_coroutine(42)  # type: ignore[arg-type]


async def test_reactor_of_an_anyio_scheduler_is_its_loop_reactor() -> None:
    sch = AnyioScheduler()
    assert reactor_of(sch, "test").in_loop_thread()
