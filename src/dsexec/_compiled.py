"""Whether the running dsexec is the mypyc-compiled build (``dsexec.compiled``).

``setup.py`` compiles this module together with the hot modules, or none of them: so this module
being an extension module is the same as the build being the compiled one.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from typing import Final

__all__ = ["compiled"]

compiled: Final[bool] = __file__.endswith(tuple(EXTENSION_SUFFIXES))
"""``True`` when dsexec's hot modules run compiled with mypyc (``pip install .`` where a C
compiler works), ``False`` for the pure-Python build (an editable install,
``DSEXEC_PURE_PYTHON=1``, or no compiler). Same source, same behaviour; only the speed differs."""
