"""The reactors: ``IoContext`` (epoll, or selectors elsewhere) and the reactors on the running
asyncio and trio loops that ``AnyioScheduler`` uses."""
