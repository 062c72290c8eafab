"""What ``pip install .`` alone must provide: every third-party module ``dsexec`` imports when it
is imported is a declared runtime dependency (``sniffio`` was not, so a fresh install failed at
``import dsexec`` while the dev extras hid it). ``.ci/run`` proves the same on a clean venv."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "dsexec"
# Imported only by code that needs the optional package, and never by `import dsexec`.
OPTIONAL_MODULES = {
    "schedulers/_backends/_trio.py": "trio (imported when an AnyioScheduler runs on trio)",
    "testing/pytest_plugin.py": "pytest (loaded by pytest only)",
}


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not in functions, not under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["dependencies"]
    }


def test_every_module_level_third_party_import_is_a_declared_dependency() -> None:
    declared = _declared_dependencies()
    distributions = importlib.metadata.packages_distributions()
    missing: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative in OPTIONAL_MODULES:
            continue
        for module in _top_level_imports(path):
            if module in sys.stdlib_module_names or module in {"__future__", "dsexec"}:
                continue
            providers = {name.lower().replace("_", "-") for name in distributions.get(module, [])}
            if not providers & declared:
                missing[f"{relative}: import {module}"] = ", ".join(sorted(providers)) or "?"
    assert missing == {}, "declare these in [project] dependencies of pyproject.toml"


def test_the_optional_modules_are_not_imported_by_import_dsexec() -> None:
    assert all((SOURCE / relative).exists() for relative in OPTIONAL_MODULES)
    code = (
        "import sys, dsexec, dsexec.net, dsexec.perf, dsexec.testing\n"
        "print(sorted(m for m in ('trio', 'pytest') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
