"""Python client of the Floodgate sidecar (`floodgate serve`): fleet-wide rate limits, circuit breakers and
provider back-off for `requests` and `httpx` calls, with no change at the call site.

    from floodgate import Floodgate
    from floodgate.requests_adapter import mount
    mount(session, Floodgate("http://127.0.0.1:8080"))      # slack.com and api.hubapi.com are guarded

The core has no dependency; `floodgate.requests_adapter` needs `requests`, `floodgate.httpx_transport` needs `httpx`.
"""

from .client import AsyncFloodgate, Floodgate, Guarded, Permit
from .errors import BreakerOpen, FloodgateError, ProviderBackoff, RateLimited, Refused, SidecarUnavailable
from .guarding import DEFAULT_HOSTS, GuardPolicy, RequestInfo, default_operation, default_tenant

__all__ = [
    "AsyncFloodgate",
    "BreakerOpen",
    "DEFAULT_HOSTS",
    "Floodgate",
    "FloodgateError",
    "GuardPolicy",
    "Guarded",
    "Permit",
    "ProviderBackoff",
    "RateLimited",
    "Refused",
    "RequestInfo",
    "SidecarUnavailable",
    "default_operation",
    "default_tenant",
]
