"""The package list of ``pip install .``: every package under ``src/`` (found, so a new one is
never forgotten), plus MedusaServ from ``examples/`` for the ``medusa-serv`` command: the
package ``examples/medusa`` installed as ``medusa``, and its site ``examples/www`` as the data
package ``medusa.www``. Everything else is in ``pyproject.toml``."""

from setuptools import find_packages, setup

MEDUSA = {
    "medusa": "examples/medusa",
    "medusa.www": "examples/www",
    "medusa.www.about": "examples/www/about",
}

setup(
    packages=[*find_packages("src"), *MEDUSA],
    package_dir={"": "src", **MEDUSA},
)
