"""The pure-Python and the compiled build of dsexec side by side, in one run.

A micro-benchmark measures the build it runs on; with the compiled build at hand (``--compiled-
python PYTHON``, by default ``.venv-compiled/bin/python``, which ``make pytest-compiled`` makes)
it also runs itself on that interpreter, asking for its figures as JSON (``--rows-json``). The
two alternate, a few times, and each keeps its best figures: on a shared, noisy machine both
builds then see the same conditions, and only their ratio is worth reading.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dsexec

ROOT = Path(__file__).resolve().parent.parent
COMPILED_VENV_PYTHON = ROOT / ".venv-compiled" / "bin" / "python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compiled-python",
        metavar="PYTHON",
        help="also measure the compiled build, run by PYTHON (default: .venv-compiled/bin/python "
        "when it exists; 'none' skips it)",
    )
    parser.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)


def build_name() -> str:
    return "compiled" if dsexec.compiled else "pure"


ALTERNATIONS = 3


def side_by_side(
    measure: Callable[[], dict[str, float]],
    script: str,
    args: argparse.Namespace,
    argv: list[str],
) -> tuple[dict[str, float], dict[str, float]]:
    """This build's best figures and the compiled build's (``{}`` if none), measured in turns.

    With ``--rows-json`` (the run on the other build) it prints one measurement and exits.
    """
    if emit_rows(args, measure()):
        sys.exit(0)
    here: dict[str, float] = {}
    there: dict[str, float] = {}
    for turn in range(ALTERNATIONS):
        for name, rate in measure().items():
            here[name] = max(rate, here.get(name, 0.0))
        for name, rate in compiled_rows(script, args, argv, check=turn == 0).items():
            there[name] = max(rate, there.get(name, 0.0))
        if not there:
            break  # no compiled build: one measurement is the benchmark as it always was
    return here, there


def emit_rows(args: argparse.Namespace, rows: dict[str, float]) -> bool:
    """With ``--rows-json`` (the run on the other build): print ``rows`` as JSON, return True."""
    if args.rows_json:
        print(json.dumps(rows))
    return bool(args.rows_json)


def compiled_rows(
    script: str, args: argparse.Namespace, argv: list[str], *, check: bool = True
) -> dict[str, float]:
    """The same benchmark's figures on the compiled build, or ``{}`` (this run is the compiled
    build already, or there is none); ``argv`` are the options to pass on."""
    if dsexec.compiled or args.compiled_python == "none":
        return {}
    python = args.compiled_python or str(COMPILED_VENV_PYTHON)
    if args.compiled_python is None and not COMPILED_VENV_PYTHON.exists():
        if check:
            print("(no .venv-compiled: `make pytest-compiled` makes it; pure build only)")
        return {}
    done = subprocess.run(
        [python, script, *argv, "--rows-json", "--compiled-python", "none"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{script} on {python} failed:\n{done.stderr}")
    rows: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    probe = [python, "-c", "import dsexec, sys; sys.exit(0 if dsexec.compiled else 3)"]
    if check and subprocess.run(probe, check=False).returncode != 0:
        sys.exit(f"--compiled-python {python}: its dsexec is not the compiled build")
    return rows
