"""``CountingScope`` (P3149 ``counting_scope``, stdexec's ``exec::counting_scope``): structured
spawning of work that outlives the frame that started it.

* ``scope.spawn(sender)`` connects and starts ``sender`` now, inside the scope: its environment
  carries the scope's stop token and the scheduler given to ``spawn(..., scheduler=sch)`` or to
  ``CountingScope(scheduler=sch)`` (none if neither was), so spawned work can use
  ``| timeout(s)`` without naming the scheduler again. Its value is dropped; an error is logged
  to the ``dsexec`` logger (like ``start_detached``); stop is silent.
* ``scope.spawn_future(sender)`` starts ``sender`` now and returns a ``Sender[T]`` of its result,
  which may be connected and started (once) before or after the work completes. Stopping the
  future's consumer requests stop of the spawned work and completes the consumer with
  ``set_stopped`` at once; the work still counts in the scope until it has completed. Dropping
  the future without connecting it, or its operation without starting it, requests stop of the
  work too (P3149: a result nobody will consume is not worth waiting for), so ``join()`` does
  not hang on it.
* ``scope.join()`` is a ``Sender[None]`` completing once no spawned operation is left --
  including work spawned while joining. If it has to wait, it completes through the scheduler of
  its receiver's environment (as P3149 specifies), or inline where there is none. Stopping a
  ``join`` completes it with ``set_stopped`` at once and leaves the spawned work alone.
* ``scope.request_stop()`` requests stop on every spawned operation; work spawned afterwards
  starts with a stop token that is already stopped.
* ``scope.close()`` refuses further spawns (``RuntimeError`` naming the scope). The scope stays
  usable after a ``join``: ``close()`` is the only way to end spawning.

Theory of operation
-------------------
The scope's :class:`_Registry` keeps every running spawned operation on its live list (the receiver
or future state that holds its operation state), so nothing needs the spawner to keep a reference,
and counts them. The list is intrusive -- each entry has ``prev``/``next`` slots and the registry
holds ``head`` -- so a spawned connection costs two pointers, not a set entry: a server keeps
thousands of them. Spawned work may complete on any thread: the list, the count and the waiting
joiners change only under the registry's lock, and whoever removes the last live entry takes the
waiting joiners and completes them after releasing the lock. Completion order for one spawned
operation: its result is handed over (logged, or delivered to the future's consumer) *then* it
leaves the list, so a completed ``join`` means every result has been delivered.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, final

from .._core import (
    STOPPED_COMPLETION,
    BasicSender,
    Completion,
    CompletionSink,
    Env,
    OperationState,
    Receiver,
    Scheduler,
    Sender,
    StopCallback,
    StopSource,
    StopToken,
    require_sender,
)

__all__ = ["CountingScope"]

T = TypeVar("T")

_logger = logging.getLogger("dsexec")

# An entry of a scope's live list: the receiver of a spawned operation, or a future's state.
_Live: TypeAlias = "_SpawnReceiver | _FutureState[Any]"


@final
class _Registry:
    """The live list, count, waiting joiners and closed flag of one scope, under one lock.

    A private class shared by the scope's helpers: its members have plain names (an underscore
    would mean "this class only").
    """

    __slots__ = ("closed", "count", "head", "joiners", "lock", "scope")

    def __init__(self, scope: CountingScope) -> None:
        self.scope = scope  # for messages
        self.lock = threading.Lock()
        self.head: _Live | None = None
        self.count = 0
        self.joiners: list[_JoinOp] = []
        self.closed = False

    def associate(self, item: _Live, method: str) -> None:
        """Put ``item`` on the live list; ``RuntimeError`` naming ``method`` once closed."""
        with self.lock:
            if self.closed:
                raise RuntimeError(
                    f"CountingScope.{method}: {self.scope!r} is closed; it accepts no new work"
                )
            head = self.head
            item.next = head
            if head is not None:
                head.prev = item
            self.head = item
            self.count += 1

    def disassociate(self, item: _Live) -> None:
        """Take ``item`` off the live list; the last one out completes the waiting joiners."""
        with self.lock:
            prev = item.prev
            after = item.next
            if prev is not None:
                prev.next = after
            elif self.head is item:
                self.head = after
            else:
                return  # not on the list (never was, or removed already)
            if after is not None:
                after.prev = prev
            item.prev = item.next = None
            self.count -= 1
            if self.count or not self.joiners:
                return
            joiners = self.joiners
            self.joiners = []
        for joiner in joiners:
            joiner.scope_empty()


@final
class _SpawnReceiver:
    """Receiver of a ``spawn``ed operation; holds its operation state while it runs.

    It does not keep the sender: a long-lived spawned operation (a connection) should not keep
    its whole pipeline of senders alive.
    """

    __slots__ = ("_env", "_registry", "next", "op", "prev")

    def __init__(self, registry: _Registry, env: Env) -> None:
        self._registry = registry
        self._env = env
        self.op: OperationState | None = None
        self.prev: _Live | None = None  # the live list (see the module comment)
        self.next: _Live | None = None

    def _release(self) -> None:
        self.op = None
        self._registry.disassociate(self)

    def set_value(self, value: object, /) -> None:
        self._release()

    def set_error(self, error: BaseException, /) -> None:
        _logger.error("%r: spawned work failed: %r", self._registry.scope, error, exc_info=error)
        self._release()

    def set_stopped(self) -> None:
        self._release()

    def get_env(self) -> Env:
        return self._env


@final
class _FutureState(CompletionSink, Generic[T]):
    """Receiver of a ``spawn_future``ed operation and rendezvous with the future's consumer.

    ``_lock`` guards ``_done``, ``_result`` and ``_consumer``: the work completes on any
    thread, the consumer starts and may be stopped on any other. The members the future's
    sender and operation use have plain names.
    """

    __slots__ = (
        "_consumer",
        "_consumer_callback",
        "_done",
        "_env",
        "_lock",
        "_registry",
        "_result",
        "_source",
        "connected",
        "next",
        "op",
        "prev",
        "scope_callback",
    )

    def __init__(self, registry: _Registry, scheduler: Scheduler | None) -> None:
        self._registry = registry
        self.prev: _Live | None = None  # the live list (see the module comment)
        self.next: _Live | None = None
        self._lock = threading.Lock()
        self._source = StopSource()
        self._env = Env(self._source.token, scheduler)
        self.op: OperationState | None = None
        self.scope_callback: StopCallback | None = None
        self._consumer: Receiver[T] | None = None
        self._consumer_callback: StopCallback | None = None
        self.connected = False
        self._done = False
        self._result: Completion | None = None

    @property
    def scope(self) -> CountingScope:
        """The scope the work was spawned into (for messages)."""
        return self._registry.scope

    # -- the spawned work's receiver ------------------------------------------------------

    def receive(self, result: Completion, /) -> None:
        """The work completed: hand the result to the consumer, or keep it for one."""
        scope_callback = self.scope_callback
        if scope_callback is not None:
            self.scope_callback = None
            scope_callback.unregister()
        self.op = None
        with self._lock:
            consumer = self._consumer
            self._consumer = None
            self._done = True
            if consumer is None:
                self._result = result
        if consumer is not None:
            _deliver(consumer, self._take_consumer_callback(), result)
        self._registry.disassociate(self)

    def get_env(self) -> Env:
        return self._env

    # -- the consumer's side --------------------------------------------------------------

    def _take_consumer_callback(self) -> StopCallback | None:
        callback = self._consumer_callback
        self._consumer_callback = None
        return callback

    def consume(self, receiver: Receiver[T]) -> None:
        """The future's operation started: deliver the result to ``receiver`` now or later."""
        token = receiver.get_env().stop_token
        if token.stop_possible():
            # Registered before the consumer is published: a stop racing with this start is
            # seen either by the callback (consumer published) or by the check below.
            self._consumer_callback = token.register(self._on_consumer_stop)
        with self._lock:
            if self._done:
                result = self._result
                self._result = None
            elif token.stop_requested():
                result = STOPPED_COMPLETION
            else:
                self._consumer = receiver
                return
        assert result is not None
        _deliver(receiver, self._take_consumer_callback(), result)

    def on_scope_stop(self) -> None:
        """The scope requested stop: stop the work."""
        self._source.request_stop()

    def abandon(self) -> None:
        """Nobody will consume the result (the future was dropped unconnected, or connected
        and never started): stop the work (P3149), so the scope can empty and join."""
        if not self._done:
            self._source.request_stop()

    def _on_consumer_stop(self) -> None:
        with self._lock:
            consumer = self._consumer
            self._consumer = None
        self._source.request_stop()
        if consumer is not None:
            self._consumer_callback = None  # this very callback: it is running, nothing to undo
            consumer.set_stopped()


def _deliver(receiver: Receiver[Any], callback: StopCallback | None, result: Completion) -> None:
    if callback is not None:
        callback.unregister()
    result.deliver(receiver)


@final
class _FutureOp(Generic[T]):
    __slots__ = ("_receiver", "_started", "_state")

    def __init__(self, state: _FutureState[T], receiver: Receiver[T]) -> None:
        self._state = state
        self._receiver = receiver
        self._started = False

    def start(self) -> None:
        self._started = True
        self._state.consume(self._receiver)

    def __del__(self) -> None:
        if not self._started:  # connected, then dropped without starting
            self._state.abandon()


@final
class _FutureSender(BasicSender):
    """``data`` is the :class:`_FutureState`; dropping the sender unconnected abandons it."""

    __slots__ = ()
    name: ClassVar[str] = "spawn_future"

    def connect(self, receiver: Receiver[Any], /) -> OperationState:
        state: _FutureState[Any] = self.data
        if state.connected:
            raise RuntimeError(f"{state.scope!r}: a spawn_future sender can be connected only once")
        state.connected = True
        return _FutureOp(state, receiver)

    def __del__(self) -> None:
        state: _FutureState[Any] = self.data
        if not state.connected:
            state.abandon()

    def __repr__(self) -> str:
        return f"<spawn_future of {self.data.scope!r}>"


@final
class _JoinOp:
    __slots__ = ("_hop", "_receiver", "_registry", "_stop_callback")

    def __init__(self, _: None, registry: _Registry, receiver: Receiver[None]) -> None:
        self._registry = registry
        self._receiver = receiver
        self._stop_callback: StopCallback | None = None
        self._hop: OperationState | None = None

    def start(self) -> None:
        registry = self._registry
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            self._stop_callback = token.register(self._on_stop)
        with registry.lock:
            if not registry.count:
                stopped = False
            elif token.stop_requested():
                stopped = True
            else:
                registry.joiners.append(self)
                return
        self._release_stop_callback()
        if stopped:
            self._receiver.set_stopped()
        else:
            self._receiver.set_value(None)

    def _release_stop_callback(self) -> None:
        callback = self._stop_callback
        if callback is not None:
            self._stop_callback = None
            callback.unregister()

    def _on_stop(self) -> None:
        registry = self._registry
        with registry.lock:
            try:
                registry.joiners.remove(self)
            except ValueError:
                return  # not waiting yet (start() sees the stop) or already being completed
        self._stop_callback = None  # this very callback: it is running, nothing to undo
        self._receiver.set_stopped()

    def scope_empty(self) -> None:
        """Called once the scope is empty, after this op was taken off the joiners."""
        self._release_stop_callback()
        receiver = self._receiver
        scheduler = receiver.get_env().scheduler
        if scheduler is None:
            receiver.set_value(None)
            return
        try:
            hop = scheduler.schedule().connect(receiver)
        except Exception as exc:
            receiver.set_error(exc)
            return
        self._hop = hop
        hop.start()


@final
class _JoinSender(BasicSender):
    """``data`` is the scope's registry."""

    __slots__ = ()
    name: ClassVar[str] = "join"
    operation = _JoinOp

    def __repr__(self) -> str:
        return f"{self.data.scope!r}.join()"


@final
class CountingScope:
    """A scope that counts the work spawned into it, can stop it all, and can be joined.

    ``name`` only appears in ``repr`` and in log and error messages. ``scheduler``, if given,
    is the scheduler in the environment of everything spawned (unless ``spawn`` names another):
    what ``timeout``, ``join`` and other scheduler-aware algorithms inside the spawned work use.
    Thread-safe: spawn, stop and join from any thread; spawned work may complete on any thread.
    """

    __slots__ = ("_env", "_name", "_registry", "_scheduler", "_source")

    def __init__(self, name: str | None = None, *, scheduler: Scheduler | None = None) -> None:
        if scheduler is not None and not isinstance(scheduler, Scheduler):
            raise TypeError(
                f"CountingScope: scheduler must be a scheduler (with .schedule()), "
                f"got {type(scheduler).__name__}"
            )
        self._name = name
        self._scheduler = scheduler
        self._registry = _Registry(self)
        self._source = StopSource()
        self._env = Env(self._source.token, scheduler)

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler spawned work sees in its environment by default (or ``None``)."""
        return self._scheduler

    @property
    def active(self) -> int:
        """How many spawned operations have not completed yet."""
        return self._registry.count

    def __len__(self) -> int:
        return self._registry.count

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: ``spawn`` and ``spawn_future`` raise."""
        return self._registry.closed

    @property
    def stop_token(self) -> StopToken:
        """The token every spawned operation sees; stopped by ``request_stop()``."""
        return self._source.token

    def spawn(self, sender: Sender[Any], /, *, scheduler: Scheduler | None = None) -> None:
        """Start ``sender`` now, inside the scope; errors go to the ``dsexec`` logger.

        Its environment has the scope's stop token and ``scheduler`` (default: the scope's).
        ``TypeError`` if ``sender`` is not a Sender, ``RuntimeError`` if the scope is closed;
        an exception from ``connect`` propagates (nothing is started then).
        """
        require_sender("CountingScope.spawn", sender)
        receiver = _SpawnReceiver(self._registry, self._env_with(scheduler))
        op = sender.connect(receiver)
        receiver.op = op
        self._registry.associate(receiver, "spawn")
        op.start()

    def spawn_future(
        self, sender: Sender[T], /, *, scheduler: Scheduler | None = None
    ) -> Sender[T]:
        """Start ``sender`` now, inside the scope; return a sender of its result.

        Connect the returned sender once, any time. Stopping its consumer requests stop of the
        work and completes the consumer with ``set_stopped`` at once; dropping the future
        unconnected (or its operation unstarted) requests stop of the work too. Environment and
        errors as ``spawn``.
        """
        require_sender("CountingScope.spawn_future", sender)
        state: _FutureState[T] = _FutureState(self._registry, self._env_with(scheduler).scheduler)
        op = sender.connect(state)
        state.op = op
        self._registry.associate(state, "spawn_future")
        state.scope_callback = self._source.token.register(state.on_scope_stop)
        op.start()
        return _FutureSender(None, state)

    def _env_with(self, scheduler: Scheduler | None) -> Env:
        if scheduler is None or scheduler is self._scheduler:
            return self._env
        if not isinstance(scheduler, Scheduler):
            raise TypeError(
                f"CountingScope: the spawn's scheduler must be a scheduler (with .schedule()), "
                f"got {type(scheduler).__name__}"
            )
        return self._env.with_scheduler(scheduler)

    def join(self) -> Sender[None]:
        """A sender completing with ``None`` once every spawned operation has completed."""
        return _JoinSender(None, self._registry)

    def request_stop(self) -> bool:
        """Request stop on all spawned work (and on work spawned later).

        Returns ``True`` for the call that made the request.
        """
        return self._source.request_stop()

    def close(self) -> None:
        """Refuse further spawns; work already spawned goes on. Idempotent."""
        with self._registry.lock:
            self._registry.closed = True

    def __repr__(self) -> str:
        name = f" {self._name!r}" if self._name is not None else f" at {id(self):#x}"
        flags = (" closed" if self._registry.closed else "") + (
            " stop-requested" if self._source.stop_requested() else ""
        )
        return f"<CountingScope{name} active={self._registry.count}{flags}>"
