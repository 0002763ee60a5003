"""A `requests` transport adapter that guards calls to mapped hosts with no change at the call site:

    session = requests.Session()
    floodgate.requests_adapter.mount(session, Floodgate("http://127.0.0.1:8080"))
    session.post("https://slack.com/api/chat.postMessage", headers={"Authorization": f"Bearer {token}"}, json=...)

A refused call raises `floodgate.Refused` before anything is sent; a 429, `Retry-After` or Slack's `ratelimited`
reaches the whole fleet. Requests to other hosts pass through untouched.
"""

from __future__ import annotations

from typing import Any, Optional

import requests
from requests.adapters import HTTPAdapter

from .client import Floodgate
from .guarding import Guard, GuardPolicy, RequestInfo


class FloodgateAdapter(HTTPAdapter):
    """An `HTTPAdapter` that acquires before sending to a mapped host and records the response after."""

    def __init__(self, gate: Floodgate, policy: Optional[GuardPolicy] = None, **adapter_arguments: Any) -> None:
        super().__init__(**adapter_arguments)
        self.guard = Guard(gate, policy or GuardPolicy())

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        info = RequestInfo(request.method or "GET", request.url or "", dict(request.headers))
        guarded = self.guard.before(info)
        if guarded is None:
            return super().send(request, **kwargs)
        try:
            response = super().send(request, **kwargs)
        except Exception:
            self.guard.failed(guarded)
            raise
        body = response.content.decode("utf-8", "replace") if not kwargs.get("stream") else ""
        self.guard.after(guarded, response.status_code, response.headers, body)
        return response


def mount(session: requests.Session, gate: Floodgate, policy: Optional[GuardPolicy] = None) -> FloodgateAdapter:
    """Guards every `http://` and `https://` request of `session` (unmapped hosts pass through)."""
    adapter = FloodgateAdapter(gate, policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return adapter
