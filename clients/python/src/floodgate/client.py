"""The sidecar's HTTP API, synchronous and asyncio, over keep-alive connections (standard library only)."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Mapping, Optional
from urllib.parse import quote, urlsplit

from .errors import SidecarUnavailable, error_from


@dataclass(frozen=True)
class Permit:
    """Permission for one call; record its outcome once with `Floodgate.record`."""

    id: str
    key: str
    probe: bool
    expires_at: int


class Floodgate:
    """A client of one sidecar (`floodgate serve`). Thread-safe: each thread keeps its own keep-alive connection.

    `url` is `http://host:port`, or `unix:///path/to.sock` for a sidecar started with `--socket`; `timeout` bounds
    every request (seconds).
    """

    def __init__(self, url: str = "http://127.0.0.1:8080", token: Optional[str] = None, timeout: float = 2.0) -> None:
        parts = urlsplit(url)
        if not ((parts.scheme == "http" and parts.hostname) or (parts.scheme == "unix" and parts.path)):
            raise ValueError(f"Floodgate URL must be http://host:port or unix:///path/to.sock, not {url!r}")
        self.url = url.rstrip("/")
        self._socket_path = parts.path if parts.scheme == "unix" else None
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 80
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    # MARK: transport

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self._socket_path is not None:
                connection = _UnixConnection(self._socket_path, self.timeout)
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def request(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None, accept: tuple = ()) -> Any:
        """One API request; the decoded JSON answer (None when empty). Raises FloodgateError (unless the status is in
        `accept`) or SidecarUnavailable."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):
            connection = self._connection()
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, socket.timeout, OSError) as error:
                self._drop_connection()
                # A kept-alive connection the server closed meanwhile: retry once on a new one.
                if attempt == 0 and isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue
                raise SidecarUnavailable(f"cannot reach the Floodgate sidecar at {self.url}: {error}") from None
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        if response.status >= 400 and response.status not in accept:
            raise error_from(response.status, decoded)
        return decoded

    # MARK: the API

    def acquire(
        self, integration: str, tenant: str, operation: Optional[str] = None, wait: float = 0, cost: int = 1
    ) -> Permit:
        """A permit for one call, counting as `cost` calls against the limits (a batch), waiting up to `wait` seconds
        for capacity; raises a `Refused` when it must not go out."""
        body: Dict[str, Any] = {"integration": integration, "tenant": tenant}
        if operation:
            body["operation"] = operation
        if wait > 0:
            body["waitMs"] = min(60_000, int(wait * 1000))
        if cost != 1:
            body["cost"] = cost
        answer = self.request("POST", "/v1/acquire", body)
        return Permit(answer["permit"], answer["key"], answer["probe"], answer["expiresAt"])

    def record(
        self,
        permit: Permit | str,
        outcome: Optional[str] = None,
        *,
        status: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[str] = None,
        duration: Optional[float] = None,
        retry_after: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Records a permit's outcome once: by name (`success`, `failure`, `slow`, `throttled`, `ignored`,
        `cancelled`), or by the provider's response (`status`, `headers`, `body`), which the sidecar classifies."""
        payload: Dict[str, Any] = {"permit": permit.id if isinstance(permit, Permit) else permit}
        if outcome is not None:
            payload["outcome"] = outcome
        if status is not None:
            payload["status"] = status
        if headers is not None:
            payload["headers"] = dict(headers)
        if body is not None:
            payload["body"] = body
        if duration is not None:
            payload["durationMs"] = max(0, int(duration * 1000))
        if retry_after is not None:
            payload["retryAfterMs"] = max(0, int(retry_after * 1000))
        return self.request("POST", "/v1/record", payload)

    def key_state(self, integration: str, tenant: str, operation: Optional[str] = None) -> Dict[str, Any]:
        path = f"/v1/keys/{quote(integration, safe='')}/{quote(tenant, safe='')}"
        if operation:
            path += f"?operation={quote(operation, safe='')}"
        return self.request("GET", path)

    def force_breaker(self, integration: str, state: str) -> Dict[str, Any]:
        """`open` or `closed` fleet-wide, or `auto` to give the breaker back to the failure counts."""
        return self.request("POST", f"/v1/breakers/{quote(integration, safe='')}", {"state": state})

    def health(self) -> Dict[str, Any]:
        """The `/api/health` report, also when it answers 503 (degraded or draining: decisions still work)."""
        return self.request("GET", "/api/health", accept=(503,))

    @contextmanager
    def guard(self, integration: str, tenant: str, operation: Optional[str] = None, wait: float = 0) -> Iterator["Guarded"]:
        """Acquire, run the block, record: success when it ends, failure when it raises, or what `report` said."""
        permit = self.acquire(integration, tenant, operation, wait)
        guarded = Guarded(self, permit)
        try:
            yield guarded
        except BaseException:
            if not guarded.recorded:
                self.record(permit, "failure", duration=guarded.elapsed)
            raise
        if not guarded.recorded:
            self.record(permit, "success", duration=guarded.elapsed)

    def close(self) -> None:
        self._drop_connection()


class Guarded:
    """The call inside `Floodgate.guard`: report the provider's response to classify it (429, Retry-After...)."""

    def __init__(self, gate: Floodgate, permit: Permit) -> None:
        self.gate = gate
        self.permit = permit
        self.recorded = False
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def report(self, status: int, headers: Optional[Mapping[str, str]] = None, body: Optional[str] = None) -> Dict[str, Any]:
        self.recorded = True
        return self.gate.record(self.permit, status=status, headers=headers or {}, body=body, duration=self.elapsed)


class AsyncFloodgate:
    """The asyncio API: the same calls, awaitable. Each runs the synchronous client in a worker thread, whose
    keep-alive connection it keeps, so the event loop never blocks on the sidecar."""

    def __init__(self, url: str = "http://127.0.0.1:8080", token: Optional[str] = None, timeout: float = 2.0) -> None:
        self.sync = Floodgate(url, token, timeout)

    async def acquire(
        self, integration: str, tenant: str, operation: Optional[str] = None, wait: float = 0, cost: int = 1
    ) -> Permit:
        return await asyncio.to_thread(self.sync.acquire, integration, tenant, operation, wait, cost)

    async def record(self, permit: Permit | str, outcome: Optional[str] = None, **response: Any) -> Dict[str, Any]:
        return await asyncio.to_thread(lambda: self.sync.record(permit, outcome, **response))

    async def key_state(self, integration: str, tenant: str, operation: Optional[str] = None) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.key_state, integration, tenant, operation)

    async def force_breaker(self, integration: str, state: str) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.force_breaker, integration, state)

    async def health(self) -> Dict[str, Any]:
        return await asyncio.to_thread(self.sync.health)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix domain socket (a sidecar started with `--socket PATH`)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock
