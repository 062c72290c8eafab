"""Running an ASGI application's coroutine: inline on the loop thread while it does not wait,
in a task from the moment it does.

Theory of operation
-------------------
Most requests to most apps never wait for anything but ``receive()`` and ``send()``, and those
complete without suspending when the request body is already there and the socket takes the
answer. Creating a task per request (what other servers do) then costs more than the app
itself. So a driver first runs the coroutine here, inline, with ``coro.send(None)``: if it
returns, the response was handed over inside ``send()`` and the request is done -- no task, no
future, no trip through the event loop. Only when the coroutine yields -- an asyncio future, a
trio trap, anything the loop must wait for -- does a task take it over (:class:`Continue`,
awaited by that task: it re-yields what the coroutine yielded to the task's loop, sends the
results back in, and throws cancellation in where the coroutine waited).

The catch is that async code asks the loop *which task* it runs in before it waits: anyio's
cancel scopes and task groups, ``asyncio.timeout``, ``asyncio.TaskGroup`` and sniffio all do,
and a scope entered in one task must be left in the same one. So the inline step must already
run "in" the task that will carry on if the coroutine waits:

* asyncio (and uvloop): :class:`AsyncioDriver` keeps parked *runner* tasks. The inline step
  runs with one of them entered as the loop's current task (``asyncio.tasks._enter_task``, the
  hook asyncio's own tasks use), so ``current_task()`` is that runner; if the coroutine waits,
  the same runner is woken and continues it, so every scope is left in the task it was entered
  in. A runner goes back to the pool when its request is done (no task is created per request,
  even for apps that always wait).
* trio: a trio checkpoint binds a cancel scope to the current task *before* it yields its trap,
  and a task cannot be named current without running it, so on trio (and wherever the asyncio
  hook is missing) :class:`TaskDriver` runs each app in a task of its own from the start.
* no anyio loop at all (``IoContext``, ``VirtualTimeScheduler``): :class:`InlineDriver` runs
  the coroutine inline throughout; waits inside ``receive``/``send`` resume it when their
  operation completes, and anything else it awaits fails with a ``RuntimeError`` saying the
  app needs an event loop.

Each coroutine step runs in the request's own ``contextvars.Context`` (a copy per request), so
context variables an app sets never leak into the next request.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from typing import Any, Final, Protocol, final

from ...schedulers import Reactor
from ...schedulers._anyio._scheduler import AnyioReactor

__all__ = [
    "START",
    "AsyncioDriver",
    "Continue",
    "Driver",
    "InlineDriver",
    "Job",
    "Parkable",
    "TaskDriver",
    "resume_inline",
]


class _Start:
    """Type of :data:`START`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "START"


START: Final = _Start()
"""What a coroutine that has not run yet "yielded": start it with ``send(None)``."""
# What _step answers once the coroutine has ended: by returning or raising, or by raising the
# very exception thrown into it (a cancellation it let through: its task should end too).
_ENDED: Final = object()
_ENDED_BY_THROWN: Final = object()
_MAX_IDLE_RUNNERS: Final = 64
# The loop -> current task table behind asyncio.current_task (one dict lookup; the function
# itself is pure Python on 3.11).
_current_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] = getattr(
    asyncio.tasks, "_current_tasks", {}
)


class Cancellable(Protocol):
    """A task's cancel handle (``asyncio.Task``, a trio ``CancelScope``)."""

    def cancel(self) -> object:
        """Cancel the task."""
        ...


class Job(Protocol):
    """What a driver runs: one request's app coroutine, and where its outcome goes."""

    coro: Coroutine[Any, Any, Any]
    ctx: contextvars.Context
    task: Cancellable | None
    stepping: bool
    """True while a driver runs a step of the coroutine."""

    def flush(self) -> None:
        """A step is over: hand over what the app sent during it."""

    def app_done(self, error: BaseException | None) -> None:
        """The coroutine returned (``None``) or raised ``error``."""


class Parkable(Protocol):
    """A wait of ``receive``/``send`` yielded to the :class:`InlineDriver`."""

    def park(self, job: Job) -> bool:
        """Resume ``job`` inline once the wait is over; ``False`` if it is over already."""
        ...


class Driver(Protocol):
    """Runs apps for one loop."""

    @property
    def anyio(self) -> AnyioReactor | None:
        """The anyio loop's reactor (waits inside receive/send use its waiters), or ``None``."""
        ...

    @property
    def loop(self) -> Reactor:
        """The reactor of the loop the server runs on."""
        ...

    def start(self, job: Job, /) -> None:
        """Run ``job``'s coroutine (see the module docstring)."""

    def close(self) -> None:
        """Let idle runners go (the server is over)."""


def _must_propagate(error: BaseException) -> bool:
    return isinstance(error, KeyboardInterrupt | SystemExit)


@final
class Continue:
    """``await Continue(job, first)`` drives ``job.coro`` to its end from inside the awaiting
    task; ``first`` is what the coroutine yielded last (:data:`START` if it has not run),
    ``error`` an exception to throw in first. Its value tells whether the coroutine ended by
    raising a cancellation that was thrown into it (the task should then end too)."""

    __slots__ = ("error", "first", "job")

    def __init__(self, job: Job, first: object, error: BaseException | None = None) -> None:
        self.job = job
        self.first = first
        self.error = error

    def __await__(self) -> Generator[Any, Any, bool]:
        job = self.job
        coro = job.coro
        run = job.ctx.run
        yielded = self.first
        value: Any = None
        error = self.error
        while True:
            if error is None and yielded is not START:
                try:
                    value = yield yielded
                except GeneratorExit:
                    run(coro.close)
                    raise
                except BaseException as exc:  # cancellation (or an interrupt): the app decides
                    error = exc
            yielded = _step(job, value, error)
            if yielded is _ENDED or yielded is _ENDED_BY_THROWN:
                return yielded is _ENDED_BY_THROWN
            value = None
            error = None


def _step(job: Job, value: object, error: BaseException | None) -> object:
    """Resume ``job``'s coroutine -- send ``value`` in, or throw ``error`` -- and flush what it
    wrote; what it yielded, or :data:`_ENDED` / :data:`_ENDED_BY_THROWN` once it has ended
    (``app_done`` told). An interrupt it raises (``KeyboardInterrupt``, ``SystemExit``)
    propagates once ``app_done`` has it."""
    coro = job.coro
    job.stepping = True
    try:
        yielded = job.ctx.run(coro.send, value) if error is None else job.ctx.run(coro.throw, error)
    except StopIteration:
        job.stepping = False
        job.flush()
        job.app_done(None)
        return _ENDED
    except BaseException as exc:
        job.stepping = False
        job.flush()
        job.app_done(exc)
        if _must_propagate(exc):
            raise
        return _ENDED_BY_THROWN if exc is error else _ENDED
    job.stepping = False
    job.flush()
    return yielded


@final
class _Runner:
    """A task that continues apps which had to wait, parked while it has none."""

    __slots__ = ("driver", "error", "first", "job", "parked", "task")

    def __init__(self, driver: AsyncioDriver) -> None:
        self.driver = driver
        self.job: Job | None = None
        self.first: object = START
        self.error: BaseException | None = None
        self.parked: asyncio.Future[None] | None = None
        self.task = driver.asyncio_loop.create_task(self._run(), name="dsexec asgi runner")

    def begin(self, job: Job, first: object) -> None:
        """Continue ``job``, whose coroutine yielded ``first``, in this runner's task."""
        self.job = job
        self.first = first
        job.task = self.task
        parked = self.parked
        if parked is not None and not parked.done():
            parked.set_result(None)

    async def _run(self) -> None:
        driver = self.driver
        while True:
            job = self.job
            if job is None:
                parked = self.parked = driver.asyncio_loop.create_future()
                try:
                    await parked
                except asyncio.CancelledError as exc:
                    if self.job is None:
                        return  # the server is over (or a stray cancel): this runner retires
                    # A cancellation meant for the app arrived before the app resumed here
                    # (its cancel scope fired, or a stop): it is thrown in where it waits.
                    self.error = exc
                finally:
                    self.parked = None
                continue
            self.job = None
            first, error = self.first, self.error
            self.first, self.error = START, None
            ended_by_cancel = await Continue(job, first, error)
            job.task = None
            if ended_by_cancel or self.task.cancelling() or not driver.release(self):
                return


class _AnyioDriver:
    """What the drivers on an anyio loop share: its reactor is both ``anyio`` (whose waiters
    receive/send use) and ``loop`` (the reactor the server runs on)."""

    __slots__ = ("_anyio",)

    def __init__(self, reactor: AnyioReactor) -> None:
        self._anyio = reactor

    @property
    def anyio(self) -> AnyioReactor:
        return self._anyio

    @property
    def loop(self) -> Reactor:
        return self._anyio


@final
class AsyncioDriver(_AnyioDriver):
    """Inline first step under a parked runner task; the runner continues if it waits."""

    __slots__ = ("_idle", "asyncio_loop")

    def __init__(self, reactor: AnyioReactor) -> None:
        super().__init__(reactor)
        self.asyncio_loop = asyncio.get_running_loop()
        self._idle: list[_Runner] = []

    def start(self, job: Job, /) -> None:
        idle = self._idle
        runner = idle.pop() if idle else _Runner(self)
        loop = self.asyncio_loop
        task = runner.task
        if _current_tasks.get(loop) is not None:
            # Called from inside a running task (a pipelined request read while another
            # request's runner wrote its answer): start it in the runner's own task.
            runner.begin(job, START)
            return
        try:
            _enter_task(loop, task)
        except RuntimeError:  # pragma: no cover - a Python whose task table is elsewhere
            runner.begin(job, START)
            return
        error: BaseException | None = None
        job.stepping = True
        try:
            yielded = job.ctx.run(job.coro.send, None)
        except StopIteration:
            done = True
        except BaseException as exc:
            error = exc
            done = True
        else:
            done = False
        finally:
            _leave_task(loop, task)
            job.stepping = False
        job.flush()  # the response goes out now, outside the app's frames
        if not done:
            runner.begin(job, yielded)
            return
        if task.cancelling():
            task.cancel()  # the app cancelled "its" task: this runner is spent
        elif len(idle) < _MAX_IDLE_RUNNERS:
            idle.append(runner)
        else:
            task.cancel()
        job.app_done(error)
        if error is not None and _must_propagate(error):
            raise error

    def release(self, runner: _Runner) -> bool:
        """Take ``runner`` back into the pool; ``False`` when the pool is full."""
        idle = self._idle
        if len(idle) >= _MAX_IDLE_RUNNERS:
            return False
        idle.append(runner)
        return True

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for runner in idle:
            runner.task.cancel()


@final
class TaskDriver(_AnyioDriver):
    """Each app in a task of its own from the start (trio; asyncio without the task hook)."""

    __slots__ = ()

    def start(self, job: Job, /) -> None:
        async def drive() -> None:
            await Continue(job, START)

        job.task = self._anyio.spawn(drive)

    def close(self) -> None:
        """Nothing to let go: tasks end with their requests."""


@final
class InlineDriver:
    """No anyio loop: the coroutine runs inline throughout (see the module docstring)."""

    __slots__ = ("_loop",)

    def __init__(self, reactor: Reactor) -> None:
        self._loop = reactor

    @property
    def anyio(self) -> None:
        return None

    @property
    def loop(self) -> Reactor:
        return self._loop

    def start(self, job: Job, /) -> None:
        resume_inline(job, None)

    def close(self) -> None:
        """Nothing to let go."""


def resume_inline(job: Job, value: object) -> None:
    """Run ``job``'s coroutine inline, sending ``value`` in, until it ends or parks on a wait
    of ``receive``/``send`` (which calls this again when it is over)."""
    error: BaseException | None = None
    while True:
        yielded = _step(job, value, error)
        if yielded is _ENDED or yielded is _ENDED_BY_THROWN:
            return
        value = None
        error = None
        park = getattr(yielded, "park", None)
        if park is not None:
            if park(job):
                return
            continue  # the wait was over already: carry on
        error = RuntimeError(
            f"the ASGI app awaited {yielded!r:.80}, which needs an event loop: serve it on an "
            "anyio loop (AnyioScheduler: asyncio, uvloop or trio)"
        )
