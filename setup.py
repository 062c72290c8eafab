"""Build hook: the same source as pure Python or, for the hot modules, compiled with mypyc.

``pyproject.toml`` holds the package's metadata; this file only decides whether the modules in
:data:`COMPILED` become C extensions (``mypycify``) or stay plain Python:

* ``pip install .`` (a wheel) compiles them when a C compiler and the Python headers work,
  and installs pure Python otherwise;
* ``DSEXEC_PURE_PYTHON=1`` at build time: pure Python, compiler or not;
* an editable install (``pip install -e .``) stays pure Python, so an edit takes effect at
  once, unless ``DSEXEC_COMPILE=1`` asks for the compiled modules (built in place next to
  their source, where they shadow it until removed: ``make clean``);
* ``DSEXEC_COMPILE=1`` fails the build when it cannot compile, rather than falling back.

Either way one line on stderr says which (``pip install -v`` shows it), and at run time
``dsexec.compiled`` does.

The package list: every package under ``src/`` (found, so a new one is never forgotten), plus
MedusaServ from ``examples/`` for the ``medusa-serv`` command: the package ``examples/medusa``
installed as ``medusa``, and its site ``examples/www`` as the data package ``medusa.www``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import find_packages, setup

MEDUSA = {
    "medusa": "examples/medusa",
    "medusa.www": "examples/www",
    "medusa.www.about": "examples/www/about",
}

# The modules compiled with mypyc, relative to src/: the per-hop and per-request path, chosen
# by profile (docs/performance.md, "The compiled build"). Compiled modules call each other
# natively, so a hot path is best compiled whole; a module missing here runs as Python in both
# builds. What stays out, and why:
# * public faces that validate their arguments (IoScheduler, Socket, Acceptor, the schedule
#   functions, CountingScope, sync_wait, SenderAdaptor): a compiled function checks its
#   arguments' annotated types before its body runs, so dsexec's own TypeError naming the
#   function would turn into mypyc's generic one; they run once per pipeline or connection;
# * classes mypyc cannot compile as they are: attrs classes with fields (Env, Result,
#   Endpoint, Response), exceptions and warnings with builtin bases, runtime-checkable
#   protocols, a threading.local (_running_loop), weak-referenceable classes (ThreadPool);
# * async code and the anyio bridge (the asyncio reactor is compiled: it has none).
COMPILED = [
    "dsexec/_compiled.py",
    # _core: the sender/receiver protocol and its machinery
    # not _core/_sender.py: compiled, Sender's calls into the algorithms' senders made by
    # BasicSender.variant (Python subclasses, made at run time) go through mypyc's glue:
    # bench_core's then chain 11 % slower, the servers the same (measured 2026-12-04)
    "dsexec/_core/_algorithm.py",
    "dsexec/_core/_continuation.py",
    "dsexec/_core/_resource.py",
    "dsexec/_core/_stop_token.py",
    # senders: the algorithms of pipelines and servers
    "dsexec/senders/_bulk.py",
    "dsexec/senders/_finally.py",
    "dsexec/senders/_just.py",
    "dsexec/senders/_let.py",
    "dsexec/senders/_repeat.py",
    "dsexec/senders/_retry.py",
    "dsexec/senders/_stopped_as.py",
    "dsexec/senders/_then.py",
    "dsexec/senders/_trampoline.py",
    "dsexec/senders/_unstoppable.py",
    # schedulers: the IoContext reactor, the asyncio/uvloop one (what the ASGI server runs
    # on: every fd wake-up and timer goes through it), and the operation base every wait
    # builds on
    "dsexec/schedulers/_backends/_asyncio.py",
    "dsexec/schedulers/_backends/_io_context.py",
    "dsexec/schedulers/_reactor/_interface.py",
    "dsexec/schedulers/_reactor/_operation.py",
    "dsexec/schedulers/_reactor/_reactor_of.py",
    # net: the per-connection and per-request socket operations
    "dsexec/net/_accept.py",
    "dsexec/net/_closing.py",
    "dsexec/net/_read.py",
    "dsexec/net/_sendfile.py",
    "dsexec/net/_socket_operation.py",
    "dsexec/net/_write.py",
    # http: the connection state, the sans-IO parser (its limits are typed SupportsIndex, which
    # mypyc does not check on entry, so its own errors name the argument), reading a request,
    # writing a response, the server's per-request loop, the static handler's per-request work
    # (StaticFiles, its public face, checks its arguments and stays Python, as does the
    # serialiser; Response is an attrs class: see above)
    "dsexec/http/_connection.py",
    "dsexec/http/_date_cache.py",
    "dsexec/http/_known_heads.py",
    "dsexec/http/_parser.py",
    "dsexec/http/_request.py",
    "dsexec/http/_response_checks.py",
    "dsexec/http/_serve.py",
    "dsexec/http/_static_cache.py",
    "dsexec/http/_write_response.py",
    # perf: the monitor's per-operation counting (PerfMonitor, its checked face, stays Python)
    "dsexec/perf/_recorder.py",
]

# setuptools commands that build the package (the metadata commands need no compiling).
BUILD_COMMANDS = {"bdist_wheel", "build", "build_ext", "editable_wheel", "develop", "install"}
EDITABLE_COMMANDS = {"editable_wheel", "develop"}


def notice(message: str) -> None:
    print(f"dsexec: {message}", file=sys.stderr, flush=True)


def compiler_problem() -> str | None:
    """Why a C extension cannot be built here, or ``None`` when a test compile works."""
    try:
        from setuptools._distutils import ccompiler
        from setuptools._distutils import sysconfig as distutils_sysconfig
    except ImportError as exc:  # pragma: no cover - setuptools without its distutils
        return f"setuptools cannot drive a C compiler ({exc})"
    compiler = ccompiler.new_compiler()
    distutils_sysconfig.customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "probe.c"
        probe.write_text("#include <Python.h>\nint dsexec_probe(void) { return 0; }\n")
        try:
            compiler.compile(
                [str(probe)],
                output_dir=scratch,
                include_dirs=[sysconfig.get_paths()["include"]],
            )
        except Exception as exc:
            return f"no working C compiler with the Python headers ({exc.__class__.__name__})"
    return None


# The instance's weak reference list, looked at first: most instances never had one.
WEAKREF_CLEARING = (
    "if (*(PyObject **)((char *)self + Py_TYPE(self)->tp_weaklistoffset) != NULL) "
    "PyObject_ClearWeakRefs((PyObject *)self);"
)
TYPE_TEMPLATE = re.compile(r"static PyTypeObject \w+_template_ = \{\n(.*?)\n *\};", re.DOTALL)
DEALLOC_SLOT = re.compile(r"\.tp_dealloc = \(destructor\)(\w+),")


def mend_weakref_dealloc(c_source: str) -> str:
    """``c_source`` (mypyc's output) with deallocators that clear weak references first.

    On Python 3.11, mypyc gives a compiled class whose bases include a Python class (and
    ``Generic`` is one: every generic sender and receiver) a ``__weakref__`` slot, and its
    deallocator then ``Py_CLEAR``s that slot as if it owned the list's first weak reference:
    freeing an instance while a weak reference to it lives frees the weak reference too, and
    memory is corrupted (mypyc 2.4.1; tests/test_compiled.py). CPython's own deallocator
    calls ``PyObject_ClearWeakRefs`` first, which empties the slot; this adds that call to the
    deallocator of each type with a ``tp_weaklistoffset``, right after the instance leaves
    the collector. mypyc is itself compiled, so its code generator cannot be patched; its
    output is. A deallocator that does not look as expected stops the build rather than
    leaving the crash in; one that already clears weak references is left as it is (as is
    Python 3.12+, where mypyc leaves the slot to CPython and sets no offset).
    """
    for template in TYPE_TEMPLATE.finditer(c_source):
        fields = template.group(1)
        found = DEALLOC_SLOT.search(fields)
        if ".tp_weaklistoffset" not in fields or found is None:
            continue
        name = found.group(1)
        untrack = r"(?:(?P=indent)    PyObject_GC_UnTrack\(self\);\n)?"
        opening = rf"\n(?P<indent> *){name}\(\w+ \*self\)\n(?P=indent)\{{\n"
        head = re.search(opening + untrack, c_source)
        if head is None:
            raise SystemExit(f"dsexec: mypyc's {name} is not shaped as setup.py expects")
        indent = head.group("indent")
        body = c_source[head.end() : c_source.index(f"\n{indent}}}\n", head.end())]
        if "PyObject_ClearWeakRefs" in body:
            continue
        clearing = f"{indent}    {WEAKREF_CLEARING}\n"
        c_source = c_source[: head.end()] + clearing + c_source[head.end() :]
    return c_source


def extensions(command: set[str]) -> list[object]:
    """The C extensions to build for ``command``, after saying which build this is."""
    if not command & BUILD_COMMANDS:
        return []
    # setuptools stages the package in build/lib* and packs whatever is there: extension
    # modules of an earlier compiled build would otherwise ride along into this one.
    for staged in Path("build").glob("lib*"):
        shutil.rmtree(staged)
    asked = os.environ.get("DSEXEC_COMPILE") == "1"
    if os.environ.get("DSEXEC_PURE_PYTHON") == "1":
        notice("pure-Python build (DSEXEC_PURE_PYTHON=1)")
        return []
    if command & EDITABLE_COMMANDS and not asked:
        notice("pure-Python build (editable install; DSEXEC_COMPILE=1 compiles)")
        return []
    problem = compiler_problem()
    if problem is not None:
        if asked:
            raise SystemExit(f"dsexec: DSEXEC_COMPILE=1 but {problem}")
        notice(f"pure-Python build ({problem})")
        return []
    from mypyc.build import mypycify

    notice(f"compiled build: {len(COMPILED)} modules with mypyc")
    built = mypycify(
        ["--config-file=pyproject.toml", *(f"src/{path}" for path in COMPILED)],
        group_name="dsexec",
        target_dir="build/mypyc",
    )
    for extension in built:
        for source in extension.sources:
            if source.endswith(".c"):
                path = Path(source)
                text = path.read_text()
                mended = mend_weakref_dealloc(text)
                if mended != text:
                    path.write_text(mended)
    return list(built)


if __name__ == "__main__":
    setup(
        packages=[*find_packages("src"), *MEDUSA],
        package_dir={"": "src", **MEDUSA},
        ext_modules=extensions(set(sys.argv[1:])),
    )
