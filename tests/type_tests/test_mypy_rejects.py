"""Pipelines that must NOT type-check (attrs' test_mypy.yml pattern): mypy runs once over every
snippet and each must produce the error named beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dsexec

mypy_api = pytest.importorskip("mypy.api")
pytestmark = pytest.mark.skipif(
    dsexec.compiled, reason="types are the source's: the pure-Python run type-checks them"
)

PRELUDE = "import dsexec as ex\n\ndef int_to_str(value: int) -> str:\n    return str(value)\n\n"

# snippet name -> (code, regex the mypy error line must match)
REJECTED: dict[str, tuple[str, str]] = {
    "then_with_wrong_input_type": (
        'ex.just("text") | ex.then(int_to_str)',
        r"Unsupported operand types for \|",
    ),
    "then_function_form_with_wrong_input_type": (
        'ex.then(ex.just("text"), int_to_str)',
        r"Argument 2 to \"then\" has incompatible type",
    ),
    "sync_wait_value_used_as_wrong_type": (
        "x: int = ex.sync_wait(ex.just(1) | ex.then(int_to_str))",
        r"Incompatible types in assignment",
    ),
    "then_with_a_non_callable": (
        "ex.just(1) | ex.then(3)",
        r"No overload variant of \"then\" matches|has incompatible type",
    ),
    "piping_a_plain_function_instead_of_then": (
        "ex.just(1) | (lambda x: x + 1)",
        r"Unsupported operand types for \+|Unsupported left operand",
    ),
    "net_sender_on_a_scheduler_without_a_reactor": (
        "from dsexec.net import Socket, async_write\n"
        "def answer(pool: ex.ThreadPool, sock: Socket) -> None:\n"
        "    async_write(pool, sock, b'x')",
        r"Argument 1 to \"async_write\" has incompatible type",
    ),
}


def test_mypy_rejects_ill_typed_pipelines(tmp_path: Path) -> None:
    for name, (code, _) in REJECTED.items():
        (tmp_path / f"{name}.py").write_text(PRELUDE + code + "\n")
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(Path(__file__).parents[2] / ".mypy_cache"),
            str(tmp_path),
        ]
    )
    assert not stderr, stderr
    for name, (_, expected) in REJECTED.items():
        lines = [line for line in stdout.splitlines() if f"{name}.py:" in line]
        assert any(re.search(expected, line) for line in lines), (name, lines)
