"""The incident's Slack call through a real `requests.Session` and `httpx.Client` / `httpx.AsyncClient`, guarded with
no change at the call site, against a local fake Slack: 200, 429 with Retry-After, and Slack's `ratelimited`."""

import asyncio
import logging
import os

import httpx
import pytest
import requests

from conftest import body, slack_headers
from floodgate import AsyncFloodgate, Floodgate, GuardPolicy, ProviderBackoff, SidecarUnavailable
from floodgate.httpx_transport import AsyncFloodgateTransport, FloodgateTransport
from floodgate.requests_adapter import mount


def test_requests_a_429_holds_the_workspace_back_and_no_call_reaches_slack_meanwhile(gate, slack, policy, tenant):
    session = requests.Session()
    mount(session, gate, policy)
    assert session.post(slack.url("chat.postMessage"), headers=slack_headers(tenant), data=body()).json() == {"ok": True}
    slack.replies.append((429, {"Retry-After": "30"}, '{"ok": false, "error": "ratelimited"}'))
    assert session.post(slack.url("chat.postMessage"), headers=slack_headers(tenant), data=body()).status_code == 429
    with pytest.raises(ProviderBackoff) as refused:
        session.post(slack.url("conversations.history"), headers=slack_headers(tenant), data=body())
    assert refused.value.retry_after_seconds > 25
    assert len(slack.calls) == 2, "the refused call never reached Slack"
    state = gate.key_state("slack", tenant, "chat.postMessage")
    assert state["backoffUntil"] > 0


def test_requests_to_unmapped_hosts_pass_through_untouched(gate, slack, policy, tenant):
    session = requests.Session()
    mount(session, gate, policy)
    slack.replies.append((429, {"Retry-After": "600"}, "{}"))
    assert session.post(slack.url("chat.postMessage", host="localhost"), headers=slack_headers(tenant)).status_code == 429
    # Nothing was recorded for the tenant: the mapped host still lets it through.
    assert session.post(slack.url("chat.postMessage"), headers=slack_headers(tenant)).json() == {"ok": True}


def test_httpx_slacks_ratelimited_body_reaches_the_fleet(gate, slack, policy, tenant):
    with httpx.Client(transport=FloodgateTransport(gate, policy)) as client:
        slack.replies.append((200, {}, '{"ok": false, "error": "ratelimited"}'))
        response = client.post(slack.url("conversations.history"), headers=slack_headers(tenant), content=body())
        assert response.json() == {"ok": False, "error": "ratelimited"}, "the response reaches the caller unchanged"
        with pytest.raises(ProviderBackoff):
            client.post(slack.url("conversations.history"), headers=slack_headers(tenant), content=body())
    assert len(slack.calls) == 1


def test_httpx_async_a_429_with_retry_after(sidecar_url, slack, policy, tenant):
    async def calls():
        transport = AsyncFloodgateTransport(AsyncFloodgate(sidecar_url), policy)
        async with httpx.AsyncClient(transport=transport) as client:
            ok = await client.post(slack.url("conversations.history"), headers=slack_headers(tenant), content=body())
            slack.replies.append((429, {"Retry-After": "20"}, "{}"))
            throttled = await client.post(slack.url("conversations.history"), headers=slack_headers(tenant), content=body())
            with pytest.raises(ProviderBackoff):
                await client.post(slack.url("conversations.history"), headers=slack_headers(tenant), content=body())
            return ok.status_code, throttled.status_code

    assert asyncio.run(calls()) == (200, 429)
    assert len(slack.calls) == 2


def test_sidecar_down_fails_open_with_a_warning_or_closed_when_configured(slack, tenant, caplog):
    down = Floodgate("http://127.0.0.1:9", timeout=0.5)
    session = requests.Session()
    mount(session, down, GuardPolicy(hosts={"127.0.0.1": "slack"}))
    with caplog.at_level(logging.WARNING, logger="floodgate"):
        assert session.post(slack.url("chat.postMessage"), headers=slack_headers(tenant)).json() == {"ok": True}
    assert any("unavailable" in record.message for record in caplog.records), "fail open says so"
    closed = requests.Session()
    mount(closed, down, GuardPolicy(hosts={"127.0.0.1": "slack"}, on_sidecar_down="closed"))
    with pytest.raises(SidecarUnavailable):
        closed.post(slack.url("chat.postMessage"), headers=slack_headers(tenant))
    assert len(slack.calls) == 1


def test_a_failed_request_is_recorded_as_a_failure_and_raised(gate, policy, tenant):
    session = requests.Session()
    mount(session, gate, policy)
    with pytest.raises(requests.ConnectionError):
        session.post("http://127.0.0.1:9/api/conversations.history", headers=slack_headers(tenant), timeout=0.5)
    # The permit was recorded as the call ended (not left to expire): none is outstanding.
    assert gate.health()["permitsOutstanding"] == 0


@pytest.mark.skipif(not os.environ.get("FLOODGATE_URL_B"), reason="needs a second sidecar on the same Redis")
def test_a_429_seen_through_one_sidecar_holds_the_tenant_back_on_another(gate, slack, policy, tenant):
    other = Floodgate(os.environ["FLOODGATE_URL_B"])
    session = requests.Session()
    mount(session, gate, policy)
    slack.replies.append((429, {"Retry-After": "30"}, "{}"))
    session.post(slack.url("chat.postMessage"), headers=slack_headers(tenant))
    elsewhere = requests.Session()
    mount(elsewhere, other, policy)
    import time

    # The back-off travels by Redis pub/sub (about a millisecond); the deadline is for a loaded machine.
    deadline = time.monotonic() + 10
    held_back = False
    while not held_back and time.monotonic() < deadline:
        try:
            elsewhere.post(slack.url("conversations.history"), headers=slack_headers(tenant))
            time.sleep(0.02)
        except ProviderBackoff:
            held_back = True
    assert held_back, "the other sidecar never held the tenant back"
