"""What the drop-in guards share: which hosts are guarded, how a request names its tenant and operation, what to do
when the sidecar is down, and how a provider's response is reported."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .client import Floodgate, Permit
from .errors import Refused, SidecarUnavailable

logger = logging.getLogger("floodgate")

#: The hosts of the built-in integrations. Salesforce orgs have hosts of their own: map yours (`acme.my.salesforce.com`).
DEFAULT_HOSTS: Dict[str, str] = {"slack.com": "slack", "api.hubapi.com": "hubspot"}

#: At most this much of a response body is sent to the sidecar (Slack's `ratelimited` is at its start).
BODY_LIMIT = 8_192


@dataclass
class RequestInfo:
    """What the guard sees of an outgoing request."""

    method: str
    url: str
    headers: Mapping[str, str]
    #: The integration the request's host maps to (set by the guard before it asks for tenant and operation).
    integration: Optional[str] = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def default_tenant(request: RequestInfo) -> str:
    """The `X-Floodgate-Tenant` header when the caller sets one, else a digest of the credentials: one token is one
    workspace (Slack), account (HubSpot) or org (Salesforce), which is what providers count."""
    explicit = _header(request.headers, "X-Floodgate-Tenant")
    if explicit:
        return explicit
    credentials = _header(request.headers, "Authorization") or ""
    return "anon" if not credentials else "t-" + hashlib.sha256(credentials.encode()).hexdigest()[:16]


def default_operation(request: RequestInfo) -> Optional[str]:
    """For `slack`, the Web API method (`/api/chat.postMessage` → `chat.postMessage`), whose tier sets its limit;
    None for other integrations (their limits are per tenant connection)."""
    path = request.path
    if request.integration == "slack" and path.startswith("/api/") and len(path) > 5:
        return path[5:].split("/")[0] or None
    return None


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


@dataclass
class GuardPolicy:
    """How requests are guarded.

    - `hosts`: host → integration; a host matches itself and its subdomains. Other hosts pass through untouched.
    - `tenant` / `operation`: callables naming a request's tenant and operation.
    - `wait`: seconds to wait for capacity before raising `Refused` (0: fail fast).
    - `on_sidecar_down`: `"open"` (default: send the request, log a warning) or `"closed"` (raise
      `SidecarUnavailable`).
    """

    hosts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_HOSTS))
    tenant: Callable[[RequestInfo], str] = default_tenant
    operation: Callable[[RequestInfo], Optional[str]] = default_operation
    wait: float = 0
    on_sidecar_down: str = "open"

    def __post_init__(self) -> None:
        if self.on_sidecar_down not in ("open", "closed"):
            raise ValueError("on_sidecar_down must be 'open' or 'closed'")

    def integration(self, request: RequestInfo) -> Optional[str]:
        host = request.host
        for pattern, integration in self.hosts.items():
            pattern = pattern.lower()
            if host == pattern or host.endswith("." + pattern):
                return integration
        return None


class Guard:
    """The decision around one request: `before` acquires (or passes), `after` records the provider's answer."""

    def __init__(self, gate: Floodgate, policy: GuardPolicy) -> None:
        self.gate = gate
        self.policy = policy
        self._last_warning = 0.0

    def before(self, request: RequestInfo) -> Optional[Tuple[Permit, float]]:
        """A permit and its start time, or None when the request is not guarded (or the sidecar is down and the
        policy fails open). Raises `Refused`, or `SidecarUnavailable` when failing closed."""
        integration = self.policy.integration(request)
        if integration is None:
            return None
        request.integration = integration
        try:
            permit = self.gate.acquire(integration, self.policy.tenant(request), self.policy.operation(request), self.policy.wait)
        except SidecarUnavailable as error:
            if self.policy.on_sidecar_down == "closed":
                raise
            self._warn(f"Floodgate sidecar unavailable, sending {request.method} {request.host} unguarded: {error.message}")
            return None
        return permit, time.monotonic()

    def after(self, guarded: Tuple[Permit, float], status: int, headers: Mapping[str, str], body: str) -> None:
        permit, started = guarded
        self._record(permit, status=status, headers=dict(headers), body=body[:BODY_LIMIT], duration=time.monotonic() - started)

    def failed(self, guarded: Tuple[Permit, float]) -> None:
        """The request raised (connection refused, timeout): a failure of the provider."""
        permit, started = guarded
        self._record(permit, outcome="failure", duration=time.monotonic() - started)

    def _record(self, permit: Permit, outcome: Optional[str] = None, **response: object) -> None:
        try:
            self.gate.record(permit, outcome, **response)  # type: ignore[arg-type]
        except SidecarUnavailable as error:
            self._warn(f"Floodgate sidecar unavailable, outcome not recorded: {error.message}")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10:  # at most one warning every 10 s
            self._last_warning = now
            logger.warning(message)


__all__ = ["BODY_LIMIT", "DEFAULT_HOSTS", "Guard", "GuardPolicy", "RequestInfo", "Refused", "default_operation", "default_tenant"]
