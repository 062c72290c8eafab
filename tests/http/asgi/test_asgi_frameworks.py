"""Starlette and FastAPI apps on ``serve_asgi``, with ``httpx`` as the client over the real
socket: routes, JSON, path parameters, request bodies, streaming, middleware, lifespan state --
over IPv4 and IPv6, on asyncio, uvloop and trio.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from fastapi.responses import StreamingResponse as FastAPIStreamingResponse
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from tests.http.asgi._support import serving

HOSTS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param("::1", id="ipv6", marks=pytest.mark.ipv6),
]

# -- a Starlette app ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def starlette_lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    yield {"greeting": "hello from the lifespan"}


async def homepage(request: Request) -> Response:
    return PlainTextResponse(request.state.greeting)


async def item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"], "q": request.query_params.get("q")})


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body[::-1], media_type="application/octet-stream")


async def numbers(request: Request) -> Response:
    async def count() -> AsyncIterator[bytes]:
        for number in range(5):
            await anyio.sleep(0)
            yield b"%d\n" % number

    return StreamingResponse(count(), media_type="text/plain")


async def client_info(request: Request) -> Response:
    assert request.client is not None
    return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})


class Stamp(BaseHTTPMiddleware):
    """Starlette's task-group middleware, as ``@app.middleware("http")`` makes."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-stamp"] = "stamped"
        return response


def starlette_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/", homepage),
            Route("/items/{item_id:int}", item),
            Route("/echo", echo, methods=["POST"]),
            Route("/numbers", numbers),
            Route("/client", client_info),
        ],
        lifespan=starlette_lifespan,
    )
    app.add_middleware(Stamp)
    return app


@pytest.mark.anyio
@pytest.mark.parametrize("host", HOSTS)
async def test_a_starlette_app_is_served(host: str) -> None:
    async with (
        serving(starlette_app(), host=host) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        home = await client.get("/")
        assert (home.status_code, home.text) == (200, "hello from the lifespan")
        assert home.headers["x-stamp"] == "stamped"

        found = await client.get("/items/42", params={"q": "x y"})
        assert found.json() == {"id": 42, "q": "x y"}

        assert (await client.get("/items/nope")).status_code == 404
        assert (await client.get("/echo")).status_code == 405

        echoed = await client.post("/echo", content=b"abcdef" * 1000)
        assert echoed.content == (b"abcdef" * 1000)[::-1]

        streamed = await client.get("/numbers")
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert streamed.text == "0\n1\n2\n3\n4\n"

        info = (await client.get("/client")).json()
        assert info == {"client": host, "scheme": "http"}


@pytest.mark.anyio
async def test_a_starlette_app_streams_a_request_body_in_chunks() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"one,", b"two,", b"three"):
            yield piece

    async with serving(starlette_app()) as url, httpx.AsyncClient(base_url=url) as client:
        echoed = await client.post("/echo", content=chunks())  # chunked upload
    assert echoed.content == b"one,two,three"[::-1]


# -- a FastAPI app ------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float


def fastapi_app() -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, dict[int, str]]]:
        yield {"names": {1: "one", 2: "two"}}

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int, request: FastAPIRequest, q: str | None = None
    ) -> dict[str, object]:
        return {"item_id": item_id, "name": request.state.names.get(item_id), "q": q}

    @app.post("/items")
    async def create_item(item: Item) -> dict[str, object]:
        return {"name": item.name, "price_with_tax": round(item.price * 1.2, 2)}

    @app.get("/sync")
    def sync_endpoint() -> dict[str, str]:  # runs in anyio's thread pool
        return {"ran": "in a worker thread"}

    @app.get("/stream")
    async def stream() -> FastAPIStreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for number in range(3):
                await anyio.sleep(0)
                yield f"line {number}\n"

        return FastAPIStreamingResponse(lines(), media_type="text/plain")

    return app


@pytest.mark.anyio
@pytest.mark.parametrize("host", HOSTS)
async def test_a_fastapi_app_is_served(host: str) -> None:
    async with serving(fastapi_app(), host=host) as url, httpx.AsyncClient(base_url=url) as client:
        read = await client.get("/items/2", params={"q": "query"})
        assert read.json() == {"item_id": 2, "name": "two", "q": "query"}

        created = await client.post("/items", json={"name": "pen", "price": 2.5})
        assert created.json() == {"name": "pen", "price_with_tax": 3.0}

        invalid = await client.post("/items", json={"name": "pen"})
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "price"]

        assert (await client.get("/items/not-a-number")).status_code == 422
        assert (await client.get("/nowhere")).status_code == 404

        synced = await client.get("/sync")
        assert synced.json() == {"ran": "in a worker thread"}

        streamed = await client.get("/stream")
        assert streamed.text == "line 0\nline 1\nline 2\n"

        docs = await client.get("/openapi.json")
        assert docs.json()["paths"]["/items/{item_id}"]["get"]["parameters"][0]["name"] == (
            "item_id"
        )


@pytest.mark.anyio
async def test_many_clients_at_once_all_get_their_answers() -> None:
    async with serving(fastapi_app()) as url, httpx.AsyncClient(base_url=url) as client:
        results: list[dict[str, object]] = []

        async def one(item_id: int) -> None:
            results.append((await client.get(f"/items/{item_id}")).json())

        async with anyio.create_task_group() as tasks:
            for item_id in range(30):
                tasks.start_soon(one, item_id % 3)
    assert len(results) == 30
    assert {result["item_id"] for result in results} == {0, 1, 2}
