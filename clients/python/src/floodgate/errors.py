"""Exceptions mirroring the sidecar's error codes (`{"error": {"code", "message", "retryAt"}}`)."""

from __future__ import annotations

import time
from typing import Optional


class FloodgateError(Exception):
    """The sidecar answered with an error: HTTP `status`, machine-readable `code`, `message`."""

    def __init__(self, status: int, code: str, message: str, retry_at: Optional[int] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        #: Refusals only: the earliest time worth retrying, in milliseconds since 1970.
        self.retry_at = retry_at


class Refused(FloodgateError):
    """The call must not go out now; `retry_at` says when it may (None: a breaker forced open)."""

    @property
    def retry_after_seconds(self) -> Optional[float]:
        if self.retry_at is None:
            return None
        return max(0.0, self.retry_at / 1000 - time.time())


class RateLimited(Refused):
    """`rate_limited`: a limit of the key is spent."""


class BreakerOpen(Refused):
    """`breaker_open`: the integration is failing (or forced open) fleet-wide."""


class ProviderBackoff(Refused):
    """`provider_backoff`: the provider said wait (a 429, `Retry-After`, Slack's `ratelimited`)."""


class SidecarUnavailable(FloodgateError):
    """The sidecar could not be reached (not running, wrong URL, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "sidecar_unavailable", message)


REFUSALS = {"rate_limited": RateLimited, "breaker_open": BreakerOpen, "provider_backoff": ProviderBackoff}


def error_from(status: int, body: object) -> FloodgateError:
    """The exception for an error response of the sidecar."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return FloodgateError(status, f"http_{status}", "not a Floodgate error response")
    code = str(detail.get("code", f"http_{status}"))
    kind = REFUSALS.get(code, FloodgateError)
    return kind(status, code, str(detail.get("message", "")), detail.get("retryAt"))
