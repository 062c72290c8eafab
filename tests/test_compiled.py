"""One source, two builds: ``dsexec.compiled`` tells them apart, and ``setup.py`` decides which
one an install gets (the compiled build itself is tested by running this whole suite on it:
``make pytest-compiled``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

import pytest

import dsexec
from dsexec.net import _read
from dsexec.senders import _then

ROOT = Path(__file__).resolve().parents[1]


def test_compiled_says_whether_the_hot_modules_are_extension_modules() -> None:
    assert isinstance(dsexec.compiled, bool)
    for module in (_read, _then):
        assert module.__file__ is not None
        assert module.__file__.endswith(tuple(EXTENSION_SUFFIXES)) is dsexec.compiled


def _setup_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dsexec_setup", ROOT / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: defines, does not call setup()
    return module


def test_the_compiled_modules_exist_and_are_not_public_faces() -> None:
    setup = _setup_module()
    for path in setup.COMPILED:
        assert (ROOT / "src" / path).is_file(), path
        assert Path(path).name.startswith("_"), path


@pytest.mark.parametrize(
    ("command", "environment", "notice"),
    [
        ({"bdist_wheel"}, {"DSEXEC_PURE_PYTHON": "1"}, "pure-Python build (DSEXEC_PURE_PYTHON=1)"),
        ({"editable_wheel"}, {}, "pure-Python build (editable install; DSEXEC_COMPILE=1"),
        ({"egg_info"}, {}, None),  # metadata only: nothing to build, nothing said
    ],
)
def test_setup_builds_pure_python_when_asked_or_editable(  # noqa: PLR0917 (fixtures)
    command: set[str],
    environment: dict[str, str],
    notice: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    setup = _setup_module()
    monkeypatch.chdir(tmp_path)  # setup.py clears build/lib*: not the checkout's
    monkeypatch.delenv("DSEXEC_COMPILE", raising=False)
    monkeypatch.delenv("DSEXEC_PURE_PYTHON", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert setup.extensions(command) == []
    said = capsys.readouterr().err
    if notice is None:
        assert said == ""
    else:
        assert said.startswith(f"dsexec: {notice}")


def test_a_compile_asked_for_without_a_compiler_fails_instead_of_falling_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup = _setup_module()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSEXEC_COMPILE", "1")
    monkeypatch.delenv("DSEXEC_PURE_PYTHON", raising=False)
    monkeypatch.setattr(setup, "compiler_problem", lambda: "no working C compiler (test)")
    with pytest.raises(SystemExit, match="DSEXEC_COMPILE=1 but no working C compiler"):
        setup.extensions({"bdist_wheel"})


def test_without_a_compiler_an_install_falls_back_to_pure_python_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    setup = _setup_module()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSEXEC_COMPILE", raising=False)
    monkeypatch.delenv("DSEXEC_PURE_PYTHON", raising=False)
    monkeypatch.setattr(setup, "compiler_problem", lambda: "no working C compiler (test)")
    assert setup.extensions({"bdist_wheel"}) == []
    assert capsys.readouterr().err == "dsexec: pure-Python build (no working C compiler (test))\n"


_SUBCLASS_AND_FREE = """
import gc, sys, weakref
import dsexec as ex
from dsexec._core import BasicSender, ClosingContext, ForwardingReceiver

# What users subclass, as users do (no __slots__: instances take weak references); compiled,
# the bases with a Python base (BasicSender, ForwardingReceiver) bring the weak-reference slot
# themselves, and their deallocators clear it (setup.py).
for base in (ex.Sender, ex.RestartableOperation, ClosingContext, BasicSender, ForwardingReceiver):
    for _ in range(5):
        subclass = type("Mine", (base,), {})
        instance = subclass.__new__(subclass)
        ref = weakref.ref(instance)
        del instance
        gc.collect()
        assert ref() is None, base
        del ref
# The internal bases, as dsexec's own modules subclass them (with __slots__).
for base in (BasicSender, ForwardingReceiver):
    for _ in range(5):
        subclass = type("Mine", (base,), {"__slots__": ()})
        instance = subclass.__new__(subclass)
        del instance, subclass
        gc.collect()
# dsexec's own senders, weakly referenced and freed with the reference alive: compiled on
# Python 3.11, generic native classes, whose deallocators setup.py mends (pure, they have
# __slots__, and compiled on 3.12+ no __weakref__ slot: no weak references to take).
for _ in range(5):
    sender = ex.just(1) | ex.then(abs) | ex.let_value(ex.just)
    try:
        ref = weakref.ref(sender)
    except TypeError:
        assert not ex.compiled or sys.version_info >= (3, 12)
        break
    del sender
    gc.collect()
    assert ref() is None
    del ref
# PerfMonitor: a Python subclass of the compiled LatencyRecorder, built and freed for real.
from dsexec.perf import PerfMonitor
for _ in range(5):
    monitor = PerfMonitor(capacity=4, history=2)
    with monitor.start_operation():
        pass
    assert monitor.snapshot().operations == 1
    del monitor
    gc.collect()
print("freed")
"""


def test_python_subclasses_of_the_extension_points_are_freed_cleanly() -> None:
    # In a process of its own, where a crash is a failure, not the end of the run: mypyc 2.4.1
    # frees the weak reference along with a weakly referenced instance of a generic compiled
    # class or of its Python subclasses, unless setup.py mends its deallocators.
    done = subprocess.run(
        [sys.executable, "-c", _SUBCLASS_AND_FREE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "freed"


_MYPYC_SHAPED = """
static void
Thing_dealloc(mod___ThingObject *self)
{
    PyObject_GC_UnTrack(self);
    CPy_TRASHCAN_BEGIN(self, Thing_dealloc)
    CPyDef_Thing_clear((PyObject *)self);
    Py_TYPE(self)->tp_free((PyObject *)self);
    CPy_TRASHCAN_END(self)
    done: ;
}
        static void
        Plain_dealloc(mod___PlainObject *self)
        {
            PyObject_GC_UnTrack(self);
            Py_TYPE(self)->tp_free((PyObject *)self);
        }
static PyTypeObject CPyType_Thing_template_ = {
    .tp_dealloc = (destructor)Thing_dealloc,
    .tp_weaklistoffset = sizeof(mod___ThingObject) + sizeof(PyObject *),
};
        static PyTypeObject CPyType_Plain_template_ = {
            .tp_dealloc = (destructor)Plain_dealloc,
        };
"""


def test_setup_mends_the_deallocators_of_weakly_referenceable_compiled_classes() -> None:
    mend = _setup_module().mend_weakref_dealloc
    mended = mend(_MYPYC_SHAPED)
    untrack = "    PyObject_GC_UnTrack(self);\n"
    clearing = f"    {_setup_module().WEAKREF_CLEARING}\n"
    # Thing has a weak reference list: cleared first, as CPython's own deallocator does.
    assert untrack + clearing + "    CPy_TRASHCAN_BEGIN(self, Thing_dealloc)" in mended
    assert mended.count("PyObject_ClearWeakRefs") == 1  # Plain has none: left as it is
    assert mend(mended) == mended  # already clearing: left as it is


def test_setup_stops_the_build_when_a_deallocator_is_not_shaped_as_expected() -> None:
    mend = _setup_module().mend_weakref_dealloc
    renamed = _MYPYC_SHAPED.replace("\nThing_dealloc(", "\nThing_dealloc_v2(")
    with pytest.raises(SystemExit, match=r"Thing_dealloc is not shaped as setup\.py expects"):
        mend(renamed)
