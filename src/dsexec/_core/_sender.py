"""The sender/receiver protocol of P2300 [exec.snd], [exec.recv], [exec.opstate].

A :class:`Sender` describes work; ``connect(sender, receiver)`` binds it to a receiver and
returns an operation state; ``op.start()`` begins it. The receiver then gets exactly one of
``set_value(value)``, ``set_error(exc)`` or ``set_stopped()``, possibly inline inside
``start()``, possibly later on another thread. ``get_env()`` answers queries such as the stop
token and the scheduler the receiver would like work to run on.

Python senders complete with one value (``None`` stands for "void"), so ``Sender`` is generic in
exactly one type and ``mypy`` checks pipelines built with ``|``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, Self, TypeVar

from mypy_extensions import mypyc_attr

if TYPE_CHECKING:
    from ._env import Env

__all__ = [
    "MISSING",
    "Adaptor",
    "OperationState",
    "Receiver",
    "RestartableOperation",
    "Sender",
    "connect",
    "get_env",
    "require_callable",
    "require_sender",
]

T = TypeVar("T")
R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)


class Receiver(Protocol[T_contra]):
    """What a sender completes into: exactly one of the three ``set_*`` calls, exactly once.

    The completion functions must not raise; an algorithm that calls user code catches its
    exceptions and turns them into ``set_error``.
    """

    def set_value(self, value: T_contra, /) -> None:
        """Complete with a value."""

    def set_error(self, error: BaseException, /) -> None:
        """Complete with an error."""

    def set_stopped(self) -> None:
        """Complete with "stopped": the work was cancelled and has no result."""

    def get_env(self) -> Env:
        """The environment: stop token and scheduler the receiver offers to the sender."""
        ...


class OperationState(Protocol):
    """A connected sender: ``start()`` it once; it completes its receiver exactly once.

    The operation state must stay referenced until it completes; the reactors and algorithms
    that drive it keep it alive while it waits.
    """

    def start(self) -> None:
        """Begin the operation. Errors go to the receiver, never out of ``start()``."""


class _Missing:
    """Type of :data:`MISSING`, the "argument not given" marker of the two call forms."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Default of an algorithm's second parameter: ``then(f)`` versus ``then(sender, f)``."""


_await_sender: Callable[[Sender[Any]], Awaitable[Any]] | None = None


def _install_awaiter(awaiter: Callable[[Sender[Any]], Awaitable[Any]]) -> None:
    """Let ``await sender`` work; called by ``dsexec.schedulers`` (a layer above this one)."""
    global _await_sender
    _await_sender = awaiter


@mypyc_attr(allow_interpreted_subclasses=True)
class Sender(Generic[T_co]):
    """A description of asynchronous work that completes with a value of type ``T_co``.

    Nothing happens until the sender is connected to a receiver and the operation started.
    ``sender | adaptor`` applies an adaptor (``then(f)``, ``repeat()``, ...) and is the same as
    ``adaptor(sender)``. ``await sender`` runs it from an anyio task (asyncio or trio) via
    ``as_awaitable``.

    Three optional protocols, with defaults here, let algorithms do less work per operation (see
    ``docs/concepts.md``, "Writing your own sender"):

    * :attr:`restartable`: a promise about ``connect``'s operation states;
    * :meth:`connect_or_complete`: ``connect`` for a caller that starts at once;
    * :meth:`fuse`: one operation state for this sender and the algorithm applied to it.
    """

    __slots__ = ()

    restartable: ClassVar[bool] = False
    r"""``True`` promises that an operation state this sender connected, once it has completed,
    may be started again, and that this is the same as connecting the sender to the same
    receiver again and starting the new one; such operation states are
    :class:`RestartableOperation`\ s. Looping algorithms (``repeat*``) then connect once and
    restart, instead of connecting every round. ``False`` (the default) promises nothing."""

    @abstractmethod
    def connect(self, receiver: Receiver[T_co], /) -> OperationState:
        """Bind this sender to ``receiver``; returns the operation state to ``start()``."""

    def connect_or_complete(self, receiver: Receiver[T_co], /) -> OperationState | None:
        """``connect`` for a caller that starts the operation right away.

        Either completes ``receiver`` here, as ``connect(receiver).start()`` would have done
        inline, and returns ``None``; or returns an operation state that the caller keeps and
        starts, exactly as if it came from ``connect``. It does not raise: an exception from
        ``connect`` goes to ``receiver.set_error`` (and ``None`` is returned). The default is
        ``connect``; senders whose operation usually completes at once (``just``,
        ``async_write``) override it to skip building an operation state for that case.
        ``let_*`` use it for the sender their function returns.
        """
        try:
            return self.connect(receiver)
        except Exception as exc:
            receiver.set_error(exc)
            return None

    def fuse(self, algorithm: Sender[Any], receiver: Receiver[Any], /) -> OperationState | None:
        """Fusion, the customisation point of stdexec's ``transform_sender`` asked at connect.

        ``algorithm`` is an algorithm's sender applied to this one (``self | algorithm``),
        about to be connected to ``receiver``. This sender may return one operation state
        that does both steps -- with exactly the algorithm's semantics: its channels, its
        errors, its behaviour on stop and on restart -- or ``None`` (the default) to be
        connected the plain way. It recognises the algorithm by its class and reads its
        arguments from it; exceptions propagate as from ``connect``.

        Consulted by ``let_value`` (:class:`~dsexec._core._continuation.LetValueSender`).
        Every reactor operation's sender fuses with it (``ReactorSender.fuse``): a keep-alive
        connection's ``async_read(...) | let_value(answer)`` is then one operation state that
        reads and answers, one hop shorter per request.
        """
        return None

    def __or__(self, adaptor: Callable[[Self], R], /) -> R:
        candidate: object = adaptor
        if not isinstance(candidate, Adaptor):
            return _not_an_adaptor(candidate)  # type: ignore[no-any-return]
        return adaptor(self)

    def __await__(self) -> Generator[Any, Any, T_co]:
        if _await_sender is None:
            raise RuntimeError("awaiting a sender needs dsexec.schedulers: `import dsexec` first")
        # The coroutine's own iterator, not a generator delegating to it: one frame fewer, and
        # compiled (mypyc) a generator's `yield from` passes a task's cancellation on through
        # throw(type, exc, tb), deprecated (and warned about) on Python 3.12+.
        return _await_sender(self).__await__()


@mypyc_attr(allow_interpreted_subclasses=True)
class RestartableOperation:
    """Base of the operation states of :attr:`Sender.restartable` senders.

    Such an operation may be started again once it has completed. A loop that will do so round
    after round says it with :meth:`enter_loop` (right after connecting) and :meth:`retire`
    (when the loop ends, by any channel): in between, the operation may keep what a one-shot
    operation releases before completing (``async_read`` keeps its stop registration, so a
    keep-alive connection costs no registration per request). The defaults do nothing.
    """

    __slots__ = ()

    def start(self) -> None:
        """Begin the operation (again, after a completed round)."""
        raise NotImplementedError

    def enter_loop(self) -> None:
        """A loop will restart this operation until it calls :meth:`retire`."""

    def retire(self) -> None:
        """The loop is over: release what was kept between rounds."""


def _not_an_adaptor(obj: object) -> Any:
    """``sender | obj`` for anything but an :class:`Adaptor`: ``NotImplemented`` (so ``obj``
    may define ``__ror__``) unless ``obj`` is callable, most likely a forgotten ``then``."""
    if not callable(obj):
        return NotImplemented
    name = getattr(obj, "__name__", type(obj).__name__)
    raise TypeError(
        f"sender | {name}: {name} is not a sender adaptor. To apply a function to the value, "
        f"write `sender | then({name})`; to pipe into your own function of a sender, wrap it: "
        f"`SenderAdaptor('{name}', {name})`"
    )


def connect(sender: Sender[T], receiver: Receiver[T], /) -> OperationState:
    """Connect ``sender`` to ``receiver`` (P2300 ``connect``); ``start()`` the result."""
    if not isinstance(sender, Sender):
        raise TypeError(f"connect: expected a Sender, got {type(sender).__name__}")
    return sender.connect(receiver)


def get_env(receiver: Receiver[Any], /) -> Env:
    """The environment of ``receiver`` (P2300 ``get_env``)."""
    return receiver.get_env()


def require_sender(algorithm: str, obj: object) -> None:
    """Raise ``TypeError`` naming ``algorithm`` unless ``obj`` is a :class:`Sender`."""
    if not isinstance(obj, Sender):
        raise TypeError(f"{algorithm}: expected a Sender, got {type(obj).__name__} ({obj!r:.60})")


def require_callable(algorithm: str, obj: object) -> None:
    """Raise ``TypeError`` naming ``algorithm`` unless ``obj`` is callable."""
    if not callable(obj):
        raise TypeError(
            f"{algorithm}: expected a callable, got {type(obj).__name__} ({obj!r:.60})"
        )


@mypyc_attr(allow_interpreted_subclasses=True)
class Adaptor:
    """Base of every pipeable half of an algorithm: ``sender | adaptor`` is ``adaptor(sender)``.

    ``|`` accepts only adaptors, so ``sender | (lambda x: x + 1)`` (a forgotten ``then``) is a
    ``TypeError`` that says so, not an error from inside the lambda. Subclasses define
    ``__call__(sender) -> Sender``.
    """

    __slots__ = ()
