"""Schedulers for tests: ``VirtualTimeScheduler`` (an ``IoContext`` on a virtual clock) and
``InlineScheduler``."""
