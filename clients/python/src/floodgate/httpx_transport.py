"""`httpx` transports (sync and async) that guard calls to mapped hosts with no change at the call site:

    client = httpx.Client(transport=FloodgateTransport(Floodgate("http://127.0.0.1:8080")))
    async_client = httpx.AsyncClient(transport=AsyncFloodgateTransport(AsyncFloodgate("http://127.0.0.1:8080")))
"""

from __future__ import annotations

from typing import Optional

import httpx

from .client import AsyncFloodgate, Floodgate
from .guarding import Guard, GuardPolicy, RequestInfo


def _info(request: httpx.Request) -> RequestInfo:
    return RequestInfo(request.method, str(request.url), dict(request.headers))


class FloodgateTransport(httpx.BaseTransport):
    """Wraps `inner` (default `httpx.HTTPTransport()`): acquire before a mapped host, record its response after."""

    def __init__(self, gate: Floodgate, policy: Optional[GuardPolicy] = None, inner: Optional[httpx.BaseTransport] = None) -> None:
        self.guard = Guard(gate, policy or GuardPolicy())
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        guarded = self.guard.before(_info(request))
        if guarded is None:
            return self.inner.handle_request(request)
        try:
            response = self.inner.handle_request(request)
            body = response.read()
        except Exception:
            self.guard.failed(guarded)
            raise
        self.guard.after(guarded, response.status_code, response.headers, body.decode("utf-8", "replace"))
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncFloodgateTransport(httpx.AsyncBaseTransport):
    """The asyncio transport: wraps `inner` (default `httpx.AsyncHTTPTransport()`)."""

    def __init__(
        self, gate: AsyncFloodgate, policy: Optional[GuardPolicy] = None, inner: Optional[httpx.AsyncBaseTransport] = None
    ) -> None:
        self.gate = gate
        self.guard = Guard(gate.sync, policy or GuardPolicy())
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        guarded = await asyncio.to_thread(self.guard.before, _info(request))
        if guarded is None:
            return await self.inner.handle_async_request(request)
        try:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
        except Exception:
            await asyncio.to_thread(self.guard.failed, guarded)
            raise
        await asyncio.to_thread(self.guard.after, guarded, response.status_code, response.headers, body.decode("utf-8", "replace"))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
