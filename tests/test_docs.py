"""The code in README.md and docs/*.md runs: each file's ```python blocks execute in order in
one namespace, like a reader following along. Blocks meant only to be read are fenced as
```python-norun or ```text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dsexec

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(document: Path) -> list[str]:
    return BLOCK.findall(document.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "document", DOCUMENTS, ids=[str(path.relative_to(ROOT)) for path in DOCUMENTS]
)
def test_code_examples_in_the_docs_run(document: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs.{document.stem}"}
    for number, block in enumerate(python_blocks(document), start=1):
        code = compile(block, f"{document.name} (python block {number})", "exec")
        exec(code, namespace)


def test_every_document_with_code_has_runnable_blocks() -> None:
    assert python_blocks(ROOT / "README.md"), "README.md needs a runnable pipeline example"


@pytest.mark.skipif(
    dsexec.compiled, reason="types are the source's: the pure-Python run type-checks the docs"
)
def test_code_examples_in_the_docs_type_check_under_mypy_strict(tmp_path: Path) -> None:
    """Each document's blocks, in order, form one module that ``mypy --strict`` accepts: what a
    reader copies out of the docs passes the same checks as the project's own code."""
    mypy_api = pytest.importorskip("mypy.api")
    modules = {}
    for document in DOCUMENTS:
        blocks = python_blocks(document)
        if blocks:
            name = f"doc_{document.stem.replace('-', '_')}"
            (tmp_path / f"{name}.py").write_text("\n".join(blocks), encoding="utf-8")
            modules[name] = document.relative_to(ROOT)
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *(str(tmp_path / f"{name}.py") for name in modules),
        ]
    )
    assert not stderr, stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert errors == [], "\n".join(errors)
