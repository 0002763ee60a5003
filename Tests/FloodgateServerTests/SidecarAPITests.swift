import Floodgate
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// The `/v1` API on the embedded default (memory store, local-only mode), in-process.
@Suite("Sidecar API", .timeLimit(.minutes(3)))
struct SidecarAPITests {
    /// A rolling window: on the wall clock, a fixed minute's edge falling between a test's calls would reset its count.
    static let acme = ["FLOODGATE_INTEGRATIONS": "slack,acme", "FLOODGATE_LIMITS_ACME": "rolling:2/60s"]

    @Test func aPermitIsAcquiredAndRecordedOnce() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1","operation":"chat.postMessage"}"#)
            #expect(acquired.status == .ok)
            let permit = try #require(acquired.object["permit"] as? String)
            #expect(acquired.object["key"] as? String == "slack/T1/chat.postMessage")
            #expect(sidecar.permits.count == 1)
            let recorded = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success","durationMs":120}"#)
            #expect(recorded.status == .ok && recorded.object["recorded"] as? String == "success")
            #expect(sidecar.permits.count == 0)
            let again = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#)
            #expect(again.status == .notFound && again.errorCode == "unknown_permit")
        }
    }

    /// Shadow mode: a shadowed integration's calls are decided and counted as usual but never refused; the refusal
    /// each would have met is in its acquire answer, in health, on the dashboard and in metrics. Other integrations
    /// still refuse, and shadowed calls take no capacity from them.
    @Test func shadowModeNeverRefusesButCountsWhatItWouldHaveRefused() async throws {
        let sidecar = try await makeSidecar([
            "FLOODGATE_INTEGRATIONS": "slack,acme,beta", "FLOODGATE_LIMITS_ACME": "fixed:2/86400s", "FLOODGATE_LIMITS_BETA": "fixed:2/86400s",
            "FLOODGATE_SHADOW": "acme",
        ])
        try await sidecar.makeApplication().test(.router) { client in
            var refusals: [String?] = []
            for _ in 0..<5 {
                let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#)
                #expect(acquired.status == .ok)
                refusals.append(acquired.object["shadowRefusal"] as? String)
                let permit = try #require(acquired.object["permit"] as? String)
                // A shadow permit gives back nothing it did not take, even cancelled.
                let outcome = refusals.last! == nil ? "success" : "cancelled"
                #expect(try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"\#(outcome)"}"#).status == .ok)
            }
            #expect(refusals == [nil, nil, "rate_limited", "rate_limited", "rate_limited"], "the first two fit the limit")
            for _ in 0..<2 { #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"beta","tenant":"t"}"#).status == .ok) }
            #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"beta","tenant":"t"}"#).errorCode == "rate_limited")
            let shadow = try #require(try await client.send(.get, "/api/health").object["shadow"] as? [String: Any])
            #expect(shadow["integrations"] as? [String] == ["acme"])
            #expect((shadow["wouldRefuse"] as? [String: [String: Int]]) == ["acme": ["rate_limited": 3]])
            let dashboard = try await client.send(.get, "/api/dashboard").object["shadow"] as? [String: Any]
            #expect((dashboard?["wouldRefuse"] as? [String: [String: Int]]) == ["acme": ["rate_limited": 3]])
            let metrics = try await client.send(.get, "/metrics").text
            #expect(metrics.contains(#"floodgate_shadow_refusals_total{integration="acme",reason="rate_limited"} 3"#), "\(metrics)")
        }
        await #expect(throws: SidecarConfigurationError.self) { try await makeSidecar(["FLOODGATE_SHADOW": "nope"]) }
        let all = try await makeSidecar(["FLOODGATE_SHADOW": "all"])
        #expect(all.configuration.guards.isShadowed("slack") && all.configuration.guards.isShadowed("hubspot"))
    }

    @Test func theLimitRefusesWithRetryTimeAndRetryAfter() async throws {
        let sidecar = try await makeSidecar(Self.acme)
        try await sidecar.makeApplication().test(.router) { client in
            for _ in 0..<2 {
                #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#).status == .ok)
            }
            let refused = try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#)
            #expect(refused.status == .tooManyRequests && refused.errorCode == "rate_limited")
            let retryAt = try #require((refused.object["error"] as? [String: Any])?["retryAt"] as? Int64)
            #expect(retryAt > Int64(Date().timeIntervalSince1970 * 1_000))
            // Within the window, give or take the rolling counter's one-second slot, rounded up to whole seconds.
            #expect(refused.headers[.retryAfter].flatMap { Int($0) }.map { (0...61).contains($0) } == true)
            // Another tenant has its own limit.
            #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"u"}"#).status == .ok)
            let metrics = try await client.send(.get, "/metrics").text
            #expect(metrics.contains(#"floodgate_decisions_total{decision="rate_limited"} 1"#))
            #expect(metrics.contains(#"floodgate_decisions_total{decision="allowed"} 3"#))
        }
    }

    @Test func badInputGetsAClearErrorAndChangesNothing() async throws {
        let sidecar = try await makeSidecar(["FLOODGATE_BODY_LIMIT": "1024"])
        try await sidecar.makeApplication().test(.router) { client in
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/v1/acquire", #"{"integration":"nope","tenant":"T1"}"#, .notFound, "unknown_integration"),
                ("/v1/acquire", #"{"integration":"slack","tenant":"a/b"}"#, .badRequest, "invalid_key"),
                ("/v1/acquire", #"{"integration":"slack","tenant":"line\nbreak"}"#, .badRequest, "invalid_key"),
                ("/v1/acquire", #"{"integration":"slack","tenant":""}"#, .badRequest, "invalid_key"),
                ("/v1/acquire", #"{"integration":"slack""#, .badRequest, "bad_json"),
                ("/v1/acquire", #"{"integration":"slack"}"#, .badRequest, "bad_json"),
                ("/v1/acquire", #"{"integration":"slack","tenant":5}"#, .badRequest, "bad_json"),
                ("/v1/acquire", #"{"integration":"slack","tenant":"T1","waitMs":-1}"#, .badRequest, "invalid_field"),
                ("/v1/acquire", #"{"integration":"slack","tenant":"\#(String(repeating: "x", count: 2_000))"}"#, .contentTooLarge, "body_too_large"),
                ("/v1/record", #"{"permit":"nope","outcome":"success"}"#, .notFound, "unknown_permit"),
                ("/v1/nothing", "{}", .notFound, "not_found"),
            ]
            for (uri, body, status, code) in cases {
                let response = try await client.send(.post, uri, body)
                #expect(response.status == status && response.errorCode == code, "\(uri) \(body.prefix(60)) → \(response.status) \(response.text)")
            }
            let wrongMethod = try await client.send(.get, "/v1/acquire")
            #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.errorCode == "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "POST")
            #expect(try await client.send(.patch, "/v1/cache/k").headers[.allow] == "GET, PUT, DELETE")
            // A record with a bad outcome leaves the permit in place: it can still be recorded.
            let permit = try #require(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#).object["permit"] as? String)
            let bad = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"fine"}"#)
            #expect(bad.status == .badRequest && bad.errorCode == "invalid_field")
            let both = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success","status":200}"#)
            #expect(both.status == .badRequest)
            #expect(sidecar.permits.count == 1)
            #expect(try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#).status == .ok)
            #expect(sidecar.floodgate.keyCount == 1, "no refused request created state for its key")
        }
    }

    @Test func aProviderThrottleRecordedByStatusHoldsTheTenantBack() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            let permit = try #require(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T9"}"#).object["permit"] as? String)
            // Measured before the record: how long the rest of the test takes on a loaded machine does not matter.
            let beforeRecording = Int64(Date().timeIntervalSince1970 * 1_000)
            let recorded = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","status":429,"headers":{"Retry-After":"30"}}"#)
            #expect(recorded.object["recorded"] as? String == "throttled" && recorded.object["retryAfterMs"] as? Int == 30_000)
            let refused = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T9","operation":"chat.postMessage"}"#)
            #expect(refused.status == .tooManyRequests && refused.errorCode == "provider_backoff")
            let state = try await client.send(.get, "/v1/keys/slack/T9")
            let until = try #require(state.object["backoffUntil"] as? Int64)
            #expect(until >= beforeRecording + 30_000 - 1, "Retry-After: 30 from when it was recorded")
            let dashboard = try await client.send(.get, "/api/dashboard")
            #expect((dashboard.object["backoffs"] as? [[String: Any]])?.first?["key"] as? String == "slack/T9")
            // Other tenants are not held back.
            #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T8"}"#).status == .ok)
        }
    }

    @Test func fiveFailedCallsInARowOpenTheBreakerWithTheDefaultPolicy() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            // Successes first: the window's failure rate stays under 50% throughout; only the run opens it.
            for status in [200, 200, 200, 200, 200, 200, 500, 500, 500, 500] {
                let acquired = try await client.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T1"}"#)
                let permit = try #require(acquired.object["permit"] as? String, "closed before the fifth failure")
                #expect(try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","status":\#(status)}"#).status == .ok)
            }
            #expect(try await client.send(.get, "/v1/keys/hubspot/T1").object["breaker"] as? String == "closed")
            let permit = try #require(
                try await client.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T2"}"#).object["permit"] as? String
            )
            _ = try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","status":503}"#)
            let refused = try await client.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T3"}"#)
            #expect(refused.status == .serviceUnavailable && refused.errorCode == "breaker_open", "the integration, every tenant")
        }
    }

    @Test func aForcedBreakerRefusesUntilSetBackToAuto() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            let forced = try await client.send(.post, "/v1/breakers/hubspot", #"{"state":"open"}"#)
            #expect(forced.status == .ok && forced.object["breaker"] as? String == "forcedOpen")
            let refused = try await client.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T1"}"#)
            #expect(refused.status == .serviceUnavailable && refused.errorCode == "breaker_open")
            #expect(try await client.send(.get, "/v1/keys/hubspot/T1").object["breaker"] as? String == "forcedOpen")
            #expect(try await client.send(.post, "/v1/breakers/hubspot", #"{"state":"sideways"}"#).errorCode == "invalid_field")
            #expect(try await client.send(.post, "/v1/breakers/nope", #"{"state":"open"}"#).errorCode == "unknown_integration")
            #expect(try await client.send(.post, "/v1/breakers/hubspot", #"{"state":"auto"}"#).object["breaker"] as? String == "closed")
            #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"hubspot","tenant":"T1"}"#).status == .ok)
            let metrics = try await client.send(.get, "/metrics").text
            #expect(metrics.contains(#"floodgate_breaker_state{integration="hubspot",state="closed"} 1"#))
        }
    }

    @Test func theCacheStoresLoadsOnceAndDeletes() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            #expect(try await client.send(.get, "/v1/cache/user:42").errorCode == "cache_miss")
            let first = try await client.send(.post, "/v1/cache/user:42/load", "{}")
            #expect(first.object["load"] as? Bool == true)
            let claim = try #require(first.object["claim"] as? String)
            let second = try await client.send(.post, "/v1/cache/user:42/load", "{}")
            #expect(second.object["load"] as? Bool == false && (second.object["retryAfterMs"] as? Int ?? 0) > 0, "one loader at a time")
            #expect(try await client.send(.put, "/v1/cache/user:42", #"{"value":"{\"name\":\"Ada\"}","ttlMs":60000,"claim":"\#(claim)"}"#).status == .noContent)
            let hit = try await client.send(.post, "/v1/cache/user:42/load", "{}")
            #expect(hit.object["hit"] as? Bool == true && hit.object["value"] as? String == #"{"name":"Ada"}"#)
            #expect(try await client.send(.get, "/v1/cache/user:42").object["value"] as? String == #"{"name":"Ada"}"#)
            #expect(try await client.send(.delete, "/v1/cache/user:42").status == .noContent)
            #expect(try await client.send(.get, "/v1/cache/user:42").status == .notFound)
            #expect(try await client.send(.get, "/v1/cache/bad%20key").errorCode == "invalid_field")
            #expect(try await client.send(.put, "/v1/cache/k", #"{"value":"v","ttlMs":0}"#).errorCode == "invalid_field")
        }
    }

    @Test func withATokenRequestsWithoutItGet401AndDoNothing() async throws {
        let token = "s3cret-token-0123456789"
        let sidecar = try await makeSidecar(["FLOODGATE_TOKEN": token])
        try await sidecar.makeApplication().test(.router) { client in
            let refused = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#)
            #expect(refused.status == .unauthorized && refused.errorCode == "unauthorized")
            let wrong = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            #expect(sidecar.floodgate.keyCount == 0 && sidecar.permits.count == 0, "nothing was done")
            let allowed = try await client.send(.post, "/v1/acquire", #"{"integration":"slack","tenant":"T1"}"#, headers: [.authorization: "Bearer \(token)"])
            #expect(allowed.status == .ok)
            // Health, metrics and the dashboard stay open on loopback, and never show the token.
            for uri in ["/api/health", "/metrics", "/", "/api/dashboard"] {
                let response = try await client.send(.get, uri)
                #expect(response.status == .ok && !response.text.contains(token), "\(uri)")
            }
        }
    }

    @Test func healthMetricsAndTheDashboardDescribeTheEmbeddedDefault() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            let health = try await client.send(.get, "/api/health")
            #expect(health.status == .ok)
            #expect(health.object["mode"] as? String == "localOnly" && health.object["status"] as? String == "ok")
            #expect((health.object["redis"] as? [String: Any])?["configured"] as? Bool == false)
            #expect(try await client.send(.get, "/api/health/live").status == .ok)
            let page = try await client.send(.get, "/")
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains(#"<svg id="chart""#) && !page.text.contains("http://") && !page.text.contains("https://"), "no CDN")
            let data = try await client.send(.get, "/api/dashboard")
            #expect(data.object["mode"] as? String == "localOnly")
            #expect((data.object["points"] as? [Any])?.isEmpty == false)
            #expect((data.object["breakers"] as? [[String: Any]])?.map { $0["integration"] as? String } == ["slack", "hubspot", "salesforce"])
        }
    }

    @Test func permitsNeverRecordedAreGivenBackAfterTheirTimeout() async throws {
        // A concurrency limit of 1: a permit left unrecorded blocks the next call until it expires.
        let sidecar = try await makeSidecar(["FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "concurrency:1"])
        let key = try GuardKey(integration: "acme", tenant: "t")
        let permit = try await sidecar.floodgate.acquire(key)
        _ = sidecar.permits.insert(permit, expiresAt: 1_000)
        await #expect(throws: FloodgateError.self) { try await sidecar.floodgate.acquire(key) }
        #expect(sidecar.permits.expire(at: 999).isEmpty)
        sidecar.giveBack(sidecar.permits.expire(at: 1_000))
        #expect(sidecar.permits.count == 0)
        let next = try await sidecar.floodgate.acquire(key)
        sidecar.floodgate.record(next, .success)
    }

    /// The dashboard's fleet panel on the embedded default: this instance's decisions by integration and reason, and
    /// no Redis rate (there is no Redis) but the configured price.
    @Test func theDashboardCountsDecisionsByIntegrationAndReason() async throws {
        let sidecar = try await makeSidecar(["FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "fixed:2/86400s", "FLOODGATE_PRICE_PER100K": "0.5"])
        try await sidecar.makeApplication().test(.router) { client in
            for _ in 0..<5 { _ = try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t"}"#) }
            let fleet = try #require(try await client.send(.get, "/api/dashboard").object["fleet"] as? [String: Any])
            #expect((fleet["decisions"] as? [String: [String: Int]]) == ["acme": ["allowed": 2, "rate_limited": 3]])
            #expect(fleet["scope"] as? String == "instance" && fleet["commandsPerMinute"] == nil)
            #expect(fleet["pricePer100k"] as? Double == 0.5)
            let nearest = try #require(fleet["nearest"] as? [[String: Any]])
            #expect(nearest.count == 1 && nearest.first?["key"] as? String == "acme/t")
            #expect(nearest.first?["used"] as? Int == 2 && nearest.first?["share"] as? Int == 2)
        }
    }

    /// `cost` on acquire: a batch counts as that many calls, all or nothing; out of range is a 400 naming the field.
    @Test func anAcquireWithACostCountsAsThatManyCalls() async throws {
        let sidecar = try await makeSidecar(["FLOODGATE_INTEGRATIONS": "acme", "FLOODGATE_LIMITS_ACME": "rolling:10/60s"])
        try await sidecar.makeApplication().test(.router) { client in
            func acquire(_ cost: Int) async throws -> TestResponse {
                try await client.send(.post, "/v1/acquire", #"{"integration":"acme","tenant":"t","cost":\#(cost)}"#)
            }
            for _ in 0..<2 {
                let permit = try #require(try await acquire(4).object["permit"] as? String)
                #expect(try await client.send(.post, "/v1/record", #"{"permit":"\#(permit)","outcome":"success"}"#).status == .ok)
            }
            let refused = try await acquire(4)
            #expect(refused.status == .tooManyRequests && refused.text.contains("rate_limited"))
            #expect(try await acquire(2).status == .ok, "the refused batch took nothing")
            for cost in [0, 10_001] {
                let invalid = try await acquire(cost)
                #expect(invalid.status == .badRequest && invalid.text.contains("cost"), "\(invalid.text)")
            }
        }
    }
}
