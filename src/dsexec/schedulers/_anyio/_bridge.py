"""``as_awaitable`` / ``await sender`` and ``from_coroutine``: the bridge between senders and
``async def`` code on anyio loops (asyncio, uvloop, trio). P2300 [exec.as.awaitable] is the
model for the first; the second is its mirror image.

``await sender`` (``as_awaitable(sender)``) connects the sender to a receiver whose environment
has a fresh stop token and an ``AnyioScheduler`` of the current loop, starts it, and waits. The
value is returned, the error raised, and ``set_stopped`` raises :class:`~dsexec.Stopped`. The
completion may come from any thread (a ``ThreadPool``, a plain thread): it is handed to the loop
with the reactor's thread-safe ``post``. If the awaiting task is cancelled (anyio cancel scope,
``asyncio.Task.cancel``, trio cancellation), stop is requested on the sender, the task waits --
shielded -- until the sender has completed, and then the cancellation propagates: the operation
never outlives the ``await``. A sender that completes inside ``start()`` returns without
yielding to the loop, like awaiting a finished future.

``from_coroutine(fn, *args)`` is a sender that, when started, runs ``await fn(*args)`` as a task
on the loop of the receiver's scheduler, which must be an ``AnyioScheduler`` (``set_error
(TypeError)`` otherwise). It completes with the coroutine's value or error. A stop request
cancels the task; when the task then ends by that cancellation the sender completes with
``set_stopped`` (a coroutine that catches the cancellation and returns still delivers its value).
A stop requested before the task starts completes at once without calling ``fn``. The task is
always awaited to its end, so none is leaked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, TypeVarTuple, final

import anyio

from ..._core import (
    Env,
    OperationState,
    Receiver,
    Sender,
    StopCallback,
    StopSource,
    StoringReceiver,
    require_callable,
    require_sender,
)
from ..._core._sender import _install_awaiter
from .._reactor import run_on_loop
from ._scheduler import (
    AnyioReactor,
    AnyioScheduler,
    Waiter,
    anyio_reactor_of,
    current_anyio_reactor,
)

__all__ = ["as_awaitable", "from_coroutine"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")



# -- as_awaitable -----------------------------------------------------------------------------


@final
class _AwaitReceiver(StoringReceiver):
    """Wakes the awaiting task, on the loop thread, once the completion is stored."""

    __slots__ = ("_reactor", "waiter")

    def __init__(self, reactor: AnyioReactor, env: Env) -> None:
        super().__init__(env)
        self._reactor = reactor
        self.waiter: Waiter | None = None

    def completed(self) -> None:
        run_on_loop(self._reactor, self._wake)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            waiter.set()


async def _await_sender(sender: Sender[T]) -> T:
    scheduler = AnyioScheduler()
    reactor = current_anyio_reactor()  # the loop's own (the new scheduler is not in a block)
    source = StopSource()
    receiver = _AwaitReceiver(reactor, Env(source.token, scheduler))
    op = sender.connect(receiver)
    op.start()
    if not receiver.is_done():
        waiter = receiver.waiter = reactor.create_waiter()
        try:
            await waiter.wait()
        except BaseException:
            # Cancelled (or interrupted): stop the sender and wait for it, then propagate.
            source.request_stop()
            with anyio.CancelScope(shield=True):
                while not receiver.is_done():
                    waiter = receiver.waiter = reactor.create_waiter()
                    await waiter.wait()
            raise
    value: T = receiver.outcome("await")
    return value


def as_awaitable(sender: Sender[T], /) -> Awaitable[T]:
    """Await ``sender`` from anyio code: ``value = await as_awaitable(s)`` (or ``await s``).

    Returns the value, raises the error, raises :class:`~dsexec.Stopped` on stop. Cancelling
    the awaiting task requests stop and waits for the sender to complete before the
    cancellation propagates. ``RuntimeError`` when awaited outside an asyncio/uvloop/trio loop.
    """
    require_sender("as_awaitable", sender)
    return _await_sender(sender)


_install_awaiter(as_awaitable)


# -- from_coroutine ---------------------------------------------------------------------------


@final
class _FromCoroutineSender(Sender[T], Generic[T]):
    __slots__ = ("_args", "_fn")

    def __init__(self, fn: Callable[..., Awaitable[T]], args: tuple[object, ...]) -> None:
        self._fn = fn
        self._args = args

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        return _FromCoroutineOp(receiver, self._fn, self._args)

    def __repr__(self) -> str:
        return f"from_coroutine({self._fn!r:.60})"


@final
class _FromCoroutineOp(Generic[T]):
    __slots__ = ("_args", "_done", "_fn", "_reactor", "_receiver", "_stop_callback", "_task")

    def __init__(
        self, receiver: Receiver[T], fn: Callable[..., Awaitable[T]], args: tuple[object, ...]
    ) -> None:
        self._receiver = receiver
        self._fn = fn
        self._args = args
        self._reactor: AnyioReactor | None = None
        self._task: Any = None
        self._stop_callback: StopCallback | None = None
        self._done = False

    def start(self) -> None:
        receiver = self._receiver
        reactor = anyio_reactor_of(receiver.get_env().scheduler)
        if reactor is None:
            scheduler = receiver.get_env().scheduler
            receiver.set_error(
                TypeError(
                    "from_coroutine: needs an AnyioScheduler in the receiver's environment "
                    f"(await the sender, or use starts_on(AnyioScheduler(), ...)), got "
                    f"{type(scheduler).__name__}"
                )
            )
            return
        self._reactor = reactor
        run_on_loop(reactor, self._start_on_loop)

    def _start_on_loop(self) -> None:
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            if token.stop_requested():
                self._done = True
                self._receiver.set_stopped()
                return
            self._stop_callback = token.register(self._on_stop_requested)
        reactor = self._reactor
        assert reactor is not None
        try:
            self._task = reactor.spawn(self._main)
        except Exception as exc:
            self._finish(None, exc, stopped=False)

    def _on_stop_requested(self) -> None:
        reactor = self._reactor
        assert reactor is not None
        run_on_loop(reactor, self._cancel_task)

    def _cancel_task(self) -> None:
        task = self._task
        if task is not None and not self._done:
            task.cancel()

    async def _main(self) -> None:
        reactor = self._reactor
        assert reactor is not None
        try:
            value = await self._fn(*self._args)
        except reactor.cancelled_exc_class:
            self._finish(None, None, stopped=True)
            raise
        except Exception as exc:
            self._finish(None, exc, stopped=False)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: report, then propagate
            self._finish(None, exc, stopped=False)
            raise
        else:
            self._finish(value, None, stopped=False)

    def _finish(self, value: T | None, error: BaseException | None, *, stopped: bool) -> None:
        if self._done:
            return
        self._done = True
        self._task = None
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()
        receiver = self._receiver
        if stopped:
            receiver.set_stopped()
        elif error is not None:
            receiver.set_error(error)
        else:
            receiver.set_value(value)  # type: ignore[arg-type]


def from_coroutine(fn: Callable[[*Ts], Awaitable[T]], /, *args: *Ts) -> Sender[T]:
    """A sender that runs ``await fn(*args)`` as a task on the receiver's ``AnyioScheduler``.

    Completes with the coroutine's value or error; a stop request cancels the task and
    completes with ``set_stopped``. ``TypeError`` when built if ``fn`` is not callable; at run
    time, ``set_error(TypeError)`` if the receiver's scheduler is not an ``AnyioScheduler``.
    """
    require_callable("from_coroutine", fn)
    return _FromCoroutineSender(fn, tuple(args))
