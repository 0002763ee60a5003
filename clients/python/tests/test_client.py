"""The core client against a live sidecar: permits, outcomes, errors mirroring the API's codes, the guard block."""

import os

import pytest

from floodgate import Floodgate, FloodgateError, ProviderBackoff, Refused, SidecarUnavailable


def test_acquire_and_record_over_one_kept_alive_connection(gate, tenant):
    permit = gate.acquire("slack", tenant, "conversations.history")
    assert permit.id and permit.key == f"slack/{tenant}/conversations.history" and not permit.probe
    first = gate._connection()
    assert gate.record(permit, "success") == {"recorded": "success"}
    assert gate._connection() is first, "the same keep-alive connection"
    assert gate.health()["mode"] in ("localOnly", "shared")


def test_a_provider_429_holds_the_tenant_back_with_a_retry_time(gate, tenant):
    permit = gate.acquire("slack", tenant, "users.list")
    answer = gate.record(permit, status=429, headers={"Retry-After": "30"})
    assert answer["recorded"] == "throttled" and answer["retryAfterMs"] == 30_000
    with pytest.raises(ProviderBackoff) as refused:
        gate.acquire("slack", tenant, "conversations.history")
    assert isinstance(refused.value, Refused) and refused.value.code == "provider_backoff" and refused.value.status == 429
    assert 29 <= refused.value.retry_after_seconds <= 33


def test_a_weighted_acquire_counts_as_several_calls(gate, tenant):
    permit = gate.acquire("slack", tenant, "conversations.history", cost=3)
    assert gate.record(permit, "success") == {"recorded": "success"}
    with pytest.raises(FloodgateError) as invalid:
        gate.acquire("slack", tenant, cost=0)
    assert invalid.value.code == "invalid_field" and invalid.value.status == 400


def test_errors_carry_the_apis_code(gate, tenant):
    with pytest.raises(FloodgateError) as unknown:
        gate.acquire("no-such-integration", tenant)
    assert unknown.value.code == "unknown_integration" and unknown.value.status == 404
    with pytest.raises(FloodgateError) as invalid:
        gate.acquire("slack", "not a tenant!")
    assert invalid.value.code in ("invalid_key", "invalid_field") and invalid.value.status == 400
    with pytest.raises(FloodgateError) as unknown_permit:
        gate.record("fg-nope", "success")
    assert unknown_permit.value.code == "unknown_permit"


def test_the_guard_block_records_success_failure_and_the_providers_response(gate, tenant):
    with gate.guard("slack", tenant, "conversations.history") as call:
        pass
    assert call.recorded is False
    with pytest.raises(RuntimeError):
        with gate.guard("slack", tenant, "conversations.history"):
            raise RuntimeError("the provider call failed")
    with gate.guard("slack", tenant, "conversations.history") as call:
        assert call.report(200, {}, '{"ok": false, "error": "ratelimited"}')["recorded"] == "throttled"
    with pytest.raises(ProviderBackoff):
        gate.acquire("slack", tenant, "conversations.history")


@pytest.mark.skipif(not os.environ.get("FLOODGATE_SOCKET"), reason="needs a sidecar on a Unix socket")
def test_a_sidecar_on_a_unix_socket(tenant):
    gate = Floodgate("unix://" + os.environ["FLOODGATE_SOCKET"])
    permit = gate.acquire("slack", tenant, "conversations.history")
    assert gate.record(permit, "success") == {"recorded": "success"}
    assert gate.health()["mode"] == "localOnly"


def test_a_sidecar_that_is_not_there_is_a_clear_error():
    gate = Floodgate("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(SidecarUnavailable) as down:
        gate.acquire("slack", "T1")
    assert "127.0.0.1:9" in str(down.value)
    with pytest.raises(ValueError):
        Floodgate("ftp://127.0.0.1")


async def _async_round_trip(url, tenant):
    from floodgate import AsyncFloodgate

    gate = AsyncFloodgate(url)
    permit = await gate.acquire("slack", tenant, "conversations.history")
    return await gate.record(permit, status=429, headers={"Retry-After": "5"}), await gate.key_state("slack", tenant)


def test_the_asyncio_api(sidecar_url, tenant):
    import asyncio

    recorded, state = asyncio.run(_async_round_trip(sidecar_url, tenant))
    assert recorded["recorded"] == "throttled" and state["backoffUntil"] > 0
