"""A small client for the Floodgate sidecar (`floodgate serve`), standard library only.

    from floodgate_client import Floodgate, Refused
    gate = Floodgate("http://127.0.0.1:8080")
    with gate.guard("slack", team_id, "chat.postMessage") as call:
        response = post_to_slack(...)
        call.response(response.status, dict(response.headers))   # 429 / Retry-After reach the whole fleet

`guard` raises `Refused` (with `code` and `retry_at`) when the call must not go out: a rate limit, an open breaker,
or the provider's back-off. Leaving the block without reporting records success; an exception records a failure.
"""

import json
import time
import urllib.error
import urllib.request


class FloodgateError(Exception):
    """The sidecar answered with an error: `status`, machine-readable `code`, `message`."""

    def __init__(self, status, code, message, retry_at=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_at = retry_at


class Refused(FloodgateError):
    """The call must not go out now (rate_limited, breaker_open, provider_backoff); `retry_at` in ms since 1970."""

    @property
    def retry_after_seconds(self):
        if self.retry_at is None:
            return None
        return max(0.0, self.retry_at / 1000 - time.time())


REFUSALS = {"rate_limited", "breaker_open", "provider_backoff"}


class Floodgate:
    def __init__(self, url="http://127.0.0.1:8080", token=None, timeout=2.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read())["error"]
            except Exception:  # not the sidecar's JSON
                detail = {"code": "http_%d" % error.code, "message": str(error)}
            kind = Refused if detail.get("code") in REFUSALS else FloodgateError
            raise kind(error.code, detail.get("code"), detail.get("message"), detail.get("retryAt")) from None

    def acquire(self, integration, tenant, operation=None, wait_ms=0):
        """A permit id for one call; raises Refused when the call must not go out."""
        body = {"integration": integration, "tenant": tenant, "waitMs": wait_ms}
        if operation:
            body["operation"] = operation
        return self._request("POST", "/v1/acquire", body)["permit"]

    def record(self, permit, outcome=None, status=None, headers=None, body=None, duration_ms=None, retry_after_ms=None):
        """Records a permit's outcome once: by name, or by the provider's response (status, headers, body)."""
        payload = {"permit": permit}
        for name, value in (("outcome", outcome), ("status", status), ("headers", headers), ("body", body),
                            ("durationMs", duration_ms), ("retryAfterMs", retry_after_ms)):
            if value is not None:
                payload[name] = value
        return self._request("POST", "/v1/record", payload)

    def key_state(self, integration, tenant):
        return self._request("GET", f"/v1/keys/{integration}/{tenant}")

    def force_breaker(self, integration, state):
        return self._request("POST", f"/v1/breakers/{integration}", {"state": state})

    def guard(self, integration, tenant, operation=None, wait_ms=0):
        return _Guard(self, integration, tenant, operation, wait_ms)


class _Guard:
    def __init__(self, gate, integration, tenant, operation, wait_ms):
        self.gate = gate
        self.args = (integration, tenant, operation, wait_ms)
        self.permit = None
        self.recorded = False
        self.started = None

    def __enter__(self):
        self.permit = self.gate.acquire(*self.args)
        self.started = time.monotonic()
        return self

    def response(self, status, headers=None, body=None):
        """Reports the provider's response: Floodgate classifies it (429 and Retry-After, Slack's ratelimited...)."""
        self.gate.record(self.permit, status=status, headers=headers or {}, body=body, duration_ms=self._elapsed())
        self.recorded = True

    def _elapsed(self):
        return int((time.monotonic() - self.started) * 1000)

    def __exit__(self, kind, value, traceback):
        if not self.recorded:
            self.gate.record(self.permit, outcome="failure" if kind else "success", duration_ms=self._elapsed())
        return False
