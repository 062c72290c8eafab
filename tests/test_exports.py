"""The public face (trio's test_exports.py): every exported name exists, is documented, and the
private modules stay private."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import dsexec

PUBLIC_PACKAGES = [
    "dsexec",
    "dsexec.http",
    "dsexec.http.asgi",
    "dsexec.net",
    "dsexec.perf",
    "dsexec.security",
    "dsexec.testing",
]


def public_modules() -> list[ModuleType]:
    modules = []
    for name in PUBLIC_PACKAGES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError:  # pragma: no cover - a layer not built yet
            continue
    return modules


# mypyc keeps no docstrings (a compiled class's is empty, a compiled function's is None): the
# docstrings are checked in the pure-Python run of the same source.
needs_docstrings = pytest.mark.skipif(
    dsexec.compiled, reason="the compiled build has no docstrings; the pure build checks them"
)


@needs_docstrings
@pytest.mark.parametrize("module", public_modules(), ids=lambda module: module.__name__)
def test_every_name_in_all_exists_and_has_a_docstring(module: ModuleType) -> None:
    exported = getattr(module, "__all__", None)
    if exported is None:
        exported = [name for name in vars(module) if not name.startswith("_")]
    undocumented = []
    for name in exported:
        value = getattr(module, name)  # AttributeError: __all__ names something missing
        if (inspect.isclass(value) or inspect.isfunction(value)) and not inspect.getdoc(value):
            undocumented.append(name)
    assert undocumented == []


def test_top_level_all_lists_every_public_name_it_imports() -> None:
    public = {
        name
        for name, value in vars(dsexec).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(dsexec.__all__)


def test_private_modules_are_marked_private() -> None:
    offenders = []
    for info in pkgutil.walk_packages(dsexec.__path__, prefix="dsexec."):
        leaf = info.name.rsplit(".", 1)[-1]
        if not info.ispkg and not leaf.startswith("_") and leaf != "pytest_plugin":
            offenders.append(info.name)
    assert offenders == []


@needs_docstrings
def test_every_public_class_documents_its_public_methods() -> None:
    missing = []
    for module in public_modules():
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if not inspect.isclass(value):
                continue
            for attribute, member in vars(value).items():
                if attribute.startswith("_") or not callable(member):
                    continue
                if not inspect.getdoc(member):
                    missing.append(f"{module.__name__}.{name}.{attribute}")
    assert missing == []


def test_perf_thread_pool_is_the_top_level_thread_pool() -> None:
    import dsexec.perf

    assert dsexec.perf.ThreadPool is dsexec.ThreadPool
