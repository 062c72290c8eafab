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
  ``set_stopped`` at once; the work still counts in the scope until it has completed.
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
The scope keeps every running spawned operation on its live list (the receiver or future state
that holds its operation state), so nothing needs the spawner to keep a reference, and counts
them in ``_count``. The list is intrusive -- each entry has ``_prev``/``_next`` slots and the
scope holds ``_head`` -- so a spawned connection costs two pointers, not a set entry: a server
keeps thousands of them. Spawned work may complete on any thread: the list, ``_count`` and
``_joiners`` change only under ``_lock``, and whoever removes the last live entry takes the
waiting joiners and completes them after releasing the lock. Completion order for one spawned
operation: its result is handed over (logged, or delivered to the future's consumer) *then* it
leaves the list, so a completed ``join`` means every result has been delivered.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final, Generic, TypeAlias, TypeVar, final

from .._core import (
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

_VALUE: Final = 0
_ERROR: Final = 1
_STOPPED: Final = 2

# An entry of a scope's live list: the receiver of a spawned operation, or a future's state.
_Live: TypeAlias = "_SpawnReceiver | _FutureState[Any]"


@final
class _SpawnReceiver:
    """Receiver of a ``spawn``ed operation; holds its operation state while it runs.

    It does not keep the sender: a long-lived spawned operation (a connection) should not keep
    its whole pipeline of senders alive.
    """

    __slots__ = ("_env", "_next", "_op", "_prev", "_scope")

    def __init__(self, scope: CountingScope, env: Env) -> None:
        self._scope = scope
        self._env = env
        self._op: OperationState | None = None
        self._prev: _Live | None = None  # the scope's live list (see the module comment)
        self._next: _Live | None = None

    def _release(self) -> None:
        self._op = None
        self._scope._disassociate(self)

    def set_value(self, value: object, /) -> None:
        self._release()

    def set_error(self, error: BaseException, /) -> None:
        _logger.error("%r: spawned work failed: %r", self._scope, error, exc_info=error)
        self._release()

    def set_stopped(self) -> None:
        self._release()

    def get_env(self) -> Env:
        return self._env


@final
class _FutureState(Generic[T]):
    """Receiver of a ``spawn_future``ed operation and rendezvous with the future's consumer.

    ``_lock`` guards ``_done``, ``_result``/``_channel`` and ``_consumer``: the work completes
    on any thread, the consumer starts and may be stopped on any other.
    """

    __slots__ = (
        "_channel",
        "_connected",
        "_consumer",
        "_consumer_callback",
        "_done",
        "_env",
        "_lock",
        "_next",
        "_op",
        "_prev",
        "_result",
        "_scope",
        "_scope_callback",
        "_source",
    )

    def __init__(self, scope: CountingScope, scheduler: Scheduler | None) -> None:
        self._scope = scope
        self._prev: _Live | None = None  # the scope's live list (see the module comment)
        self._next: _Live | None = None
        self._lock = threading.Lock()
        self._source = StopSource()
        self._env = Env(self._source.token, scheduler)
        self._op: OperationState | None = None
        self._scope_callback: StopCallback | None = None
        self._consumer: Receiver[T] | None = None
        self._consumer_callback: StopCallback | None = None
        self._connected = False
        self._done = False
        self._channel = _VALUE
        self._result: Any = None

    # -- the spawned work's receiver ------------------------------------------------------

    def _complete(self, channel: int, result: Any) -> None:
        scope_callback = self._scope_callback
        if scope_callback is not None:
            self._scope_callback = None
            scope_callback.unregister()
        self._op = None
        with self._lock:
            consumer = self._consumer
            self._consumer = None
            self._done = True
            if consumer is None:
                self._channel = channel
                self._result = result
        if consumer is not None:
            _deliver(consumer, self._take_consumer_callback(), channel, result)
        self._scope._disassociate(self)

    def set_value(self, value: T, /) -> None:
        self._complete(_VALUE, value)

    def set_error(self, error: BaseException, /) -> None:
        self._complete(_ERROR, error)

    def set_stopped(self) -> None:
        self._complete(_STOPPED, None)

    def get_env(self) -> Env:
        return self._env

    # -- the consumer's side --------------------------------------------------------------

    def _take_consumer_callback(self) -> StopCallback | None:
        callback = self._consumer_callback
        self._consumer_callback = None
        return callback

    def _consume(self, receiver: Receiver[T]) -> None:
        token = receiver.get_env().stop_token
        if token.stop_possible():
            # Registered before the consumer is published: a stop racing with this start is
            # seen either by the callback (consumer published) or by the check below.
            self._consumer_callback = token.register(self._on_consumer_stop)
        with self._lock:
            if self._done:
                channel = self._channel
                result = self._result
                self._result = None
            elif token.stop_requested():
                channel = _STOPPED
                result = None
            else:
                self._consumer = receiver
                return
        _deliver(receiver, self._take_consumer_callback(), channel, result)

    def _on_scope_stop(self) -> None:
        self._source.request_stop()

    def _on_consumer_stop(self) -> None:
        with self._lock:
            consumer = self._consumer
            self._consumer = None
        self._source.request_stop()
        if consumer is not None:
            self._consumer_callback = None  # this very callback: it is running, nothing to undo
            consumer.set_stopped()


def _deliver(
    receiver: Receiver[T], callback: StopCallback | None, channel: int, result: Any
) -> None:
    if callback is not None:
        callback.unregister()
    if channel == _VALUE:
        receiver.set_value(result)
    elif channel == _ERROR:
        receiver.set_error(result)
    else:
        receiver.set_stopped()


@final
class _FutureOp(Generic[T]):
    __slots__ = ("_receiver", "_state")

    def __init__(self, state: _FutureState[T], receiver: Receiver[T]) -> None:
        self._state = state
        self._receiver = receiver

    def start(self) -> None:
        self._state._consume(self._receiver)


@final
class _FutureSender(Sender[T], Generic[T]):
    __slots__ = ("_state",)

    def __init__(self, state: _FutureState[T]) -> None:
        self._state = state

    def connect(self, receiver: Receiver[T], /) -> OperationState:
        state = self._state
        if state._connected:
            raise RuntimeError(
                f"{state._scope!r}: a spawn_future sender can be connected only once"
            )
        state._connected = True
        return _FutureOp(state, receiver)

    def __repr__(self) -> str:
        return f"<spawn_future of {self._state._scope!r}>"


@final
class _JoinOp:
    __slots__ = ("_hop", "_receiver", "_scope", "_stop_callback")

    def __init__(self, scope: CountingScope, receiver: Receiver[None]) -> None:
        self._scope = scope
        self._receiver = receiver
        self._stop_callback: StopCallback | None = None
        self._hop: OperationState | None = None

    def start(self) -> None:
        scope = self._scope
        token = self._receiver.get_env().stop_token
        if token.stop_possible():
            self._stop_callback = token.register(self._on_stop)
        with scope._lock:
            if not scope._count:
                stopped = False
            elif token.stop_requested():
                stopped = True
            else:
                scope._joiners.append(self)
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
        scope = self._scope
        with scope._lock:
            try:
                scope._joiners.remove(self)
            except ValueError:
                return  # not waiting yet (start() sees the stop) or already being completed
        self._stop_callback = None  # this very callback: it is running, nothing to undo
        self._receiver.set_stopped()

    def _scope_empty(self) -> None:
        """Called once the scope is empty, after this op was taken out of ``_joiners``."""
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
class _JoinSender(Sender[None]):
    __slots__ = ("_scope",)

    def __init__(self, scope: CountingScope) -> None:
        self._scope = scope

    def connect(self, receiver: Receiver[None], /) -> OperationState:
        return _JoinOp(self._scope, receiver)

    def __repr__(self) -> str:
        return f"{self._scope!r}.join()"


@final
class CountingScope:
    """A scope that counts the work spawned into it, can stop it all, and can be joined.

    ``name`` only appears in ``repr`` and in log and error messages. ``scheduler``, if given,
    is the scheduler in the environment of everything spawned (unless ``spawn`` names another):
    what ``timeout``, ``join`` and other scheduler-aware algorithms inside the spawned work use.
    Thread-safe: spawn, stop and join from any thread; spawned work may complete on any thread.
    """

    __slots__ = (
        "_closed",
        "_count",
        "_env",
        "_head",
        "_joiners",
        "_lock",
        "_name",
        "_scheduler",
        "_source",
    )

    def __init__(self, name: str | None = None, *, scheduler: Scheduler | None = None) -> None:
        if scheduler is not None and not isinstance(scheduler, Scheduler):
            raise TypeError(
                f"CountingScope: scheduler must be a scheduler (with .schedule()), "
                f"got {type(scheduler).__name__}"
            )
        self._name = name
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._head: _Live | None = None  # the live list (see the module comment)
        self._count = 0
        self._joiners: list[_JoinOp] = []
        self._closed = False
        self._source = StopSource()
        self._env = Env(self._source.token, scheduler)

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler spawned work sees in its environment by default (or ``None``)."""
        return self._scheduler

    @property
    def active(self) -> int:
        """How many spawned operations have not completed yet."""
        return self._count

    def __len__(self) -> int:
        return self._count

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: ``spawn`` and ``spawn_future`` raise."""
        return self._closed

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
        receiver = _SpawnReceiver(self, self._env_with(scheduler))
        op = sender.connect(receiver)
        receiver._op = op
        self._associate(receiver, "spawn")
        op.start()

    def spawn_future(
        self, sender: Sender[T], /, *, scheduler: Scheduler | None = None
    ) -> Sender[T]:
        """Start ``sender`` now, inside the scope; return a sender of its result.

        Connect the returned sender once, any time. Stopping its consumer requests stop of the
        work and completes the consumer with ``set_stopped`` at once. Environment and errors as
        ``spawn``.
        """
        require_sender("CountingScope.spawn_future", sender)
        state: _FutureState[T] = _FutureState(self, self._env_with(scheduler).scheduler)
        op = sender.connect(state)
        state._op = op
        self._associate(state, "spawn_future")
        state._scope_callback = self._source.token.register(state._on_scope_stop)
        op.start()
        return _FutureSender(state)

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
        return _JoinSender(self)

    def request_stop(self) -> bool:
        """Request stop on all spawned work (and on work spawned later).

        Returns ``True`` for the call that made the request.
        """
        return self._source.request_stop()

    def close(self) -> None:
        """Refuse further spawns; work already spawned goes on. Idempotent."""
        with self._lock:
            self._closed = True

    def _associate(self, item: _Live, method: str) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    f"CountingScope.{method}: {self!r} is closed; it accepts no new work"
                )
            head = self._head
            item._next = head
            if head is not None:
                head._prev = item
            self._head = item
            self._count += 1

    def _disassociate(self, item: _Live) -> None:
        with self._lock:
            prev = item._prev
            after = item._next
            if prev is not None:
                prev._next = after
            elif self._head is item:
                self._head = after
            else:
                return  # not on the list (never was, or removed already)
            if after is not None:
                after._prev = prev
            item._prev = item._next = None
            self._count -= 1
            if self._count or not self._joiners:
                return
            joiners = self._joiners
            self._joiners = []
        for joiner in joiners:
            joiner._scope_empty()

    def __repr__(self) -> str:
        name = f" {self._name!r}" if self._name is not None else f" at {id(self):#x}"
        flags = (" closed" if self._closed else "") + (
            " stop-requested" if self._source.stop_requested() else ""
        )
        return f"<CountingScope{name} active={self._count}{flags}>"
