"""anyio integration: ``AnyioScheduler`` on the running asyncio/uvloop/trio loop, ``await sender``
(``as_awaitable``) and ``from_coroutine``."""
