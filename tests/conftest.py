"""Project-wide test configuration: the dsexec pytest plugin checks the receiver contract."""

pytest_plugins = ["dsexec.testing.pytest_plugin"]
