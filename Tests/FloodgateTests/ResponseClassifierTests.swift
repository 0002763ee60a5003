@testable import Floodgate
import HTTPTypes
import Testing

@Suite("Provider response classification", .timeLimit(.minutes(3)))
struct ResponseClassifierTests {
    let classifier = ResponseClassifier()
    /// 1994-11-06 08:49:37 UTC, the RFC's example date.
    let rfcExample: Int64 = 784_111_777

    @Test func parsesTheThreeHTTPDateForms() {
        #expect(HTTPDate.secondsSince1970("Sun, 06 Nov 1994 08:49:37 GMT") == rfcExample)
        #expect(HTTPDate.secondsSince1970("Sunday, 06-Nov-94 08:49:37 GMT") == rfcExample)
        #expect(HTTPDate.secondsSince1970("Sun Nov  6 08:49:37 1994") == rfcExample)
        #expect(HTTPDate.secondsSince1970("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.secondsSince1970("Sat, 29 Feb 2020 12:00:00 GMT") == 1_582_977_600)
        #expect(HTTPDate.secondsSince1970("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(HTTPDate.secondsSince1970("yesterday") == nil)
    }

    @Test func retryAfterInSecondsOrAsADate() {
        var headers = HTTPFields()
        headers[.retryAfter] = "30"
        let seconds = classifier.classify(status: .tooManyRequests, headers: headers, unixTime: rfcExample)
        #expect(seconds.outcome == .throttled)
        #expect(seconds.retryAfter == .seconds(30))
        headers[.retryAfter] = "Sun, 06 Nov 1994 08:50:07 GMT"
        let date = classifier.classify(status: .tooManyRequests, headers: headers, unixTime: rfcExample)
        #expect(date.retryAfter == .seconds(30))
        headers[.retryAfter] = "Sun, 06 Nov 1994 08:00:00 GMT"
        #expect(classifier.classify(status: .tooManyRequests, headers: headers, unixTime: rfcExample).retryAfter == .zero)
        headers[.retryAfter] = "soon"
        let unreadable = classifier.classify(status: .tooManyRequests, headers: headers, unixTime: rfcExample)
        #expect(unreadable.retryAfter == classifier.defaultRetryAfter)
    }

    @Test func slackRateLimitedInTheBody() {
        let result = classifier.classify(
            status: .ok,
            headers: [:],
            body: #"{"ok":false,"error":"ratelimited"}"#,
            unixTime: 0
        )
        #expect(result.outcome == .throttled)
        #expect(result.retryAfter == classifier.defaultRetryAfter)
        let fine = classifier.classify(status: .ok, headers: [:], body: #"{"ok":true}"#, unixTime: 0)
        #expect(fine.outcome == .success)
    }

    @Test func hubSpotHeadersAndPolicyName() throws {
        var headers = HTTPFields()
        headers[HTTPField.Name("X-HubSpot-RateLimit-Max")!] = "100"
        headers[HTTPField.Name("X-HubSpot-RateLimit-Remaining")!] = "97"
        headers[HTTPField.Name("X-HubSpot-RateLimit-Interval-Milliseconds")!] = "10000"
        let ok = classifier.classify(status: .ok, headers: headers, unixTime: 0)
        #expect(ok.outcome == .success && ok.remaining == 97 && ok.limit == 100)
        let secondly = classifier.classify(
            status: .tooManyRequests,
            headers: headers,
            body: #"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#,
            unixTime: 0
        )
        #expect(secondly.outcome == .throttled)
        #expect(secondly.policyName == "TEN_SECONDLY_ROLLING")
        #expect(secondly.retryAfter == .milliseconds(10_000))
        var daily = HTTPFields()
        daily[HTTPField.Name("X-HubSpot-RateLimit-Daily")!] = "250000"
        daily[HTTPField.Name("X-HubSpot-RateLimit-Daily-Remaining")!] = "0"
        let exhausted = classifier.classify(
            status: .tooManyRequests,
            headers: daily,
            body: #"{"policyName":"DAILY"}"#,
            unixTime: 86_400 * 20_000 + 3_600
        )
        #expect(exhausted.remaining == 0 && exhausted.limit == 250_000)
        #expect(exhausted.retryAfter == .seconds(86_400 - 3_600), "until the next (UTC) midnight")
    }

    @Test func salesforceUsageHeaderAndLimitExceeded() {
        var headers = HTTPFields()
        headers[HTTPField.Name("Sforce-Limit-Info")!] = "api-usage=4990/5000"
        let ok = classifier.classify(status: .ok, headers: headers, unixTime: 0)
        #expect(ok.outcome == .success && ok.remaining == 10 && ok.limit == 5_000)
        let exceeded = classifier.classify(
            status: .forbidden,
            headers: headers,
            body: #"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
            unixTime: 0
        )
        #expect(exceeded.outcome == .throttled)
        let forbidden = classifier.classify(
            status: .forbidden,
            headers: [:],
            body: #"[{"message":"no","errorCode":"INSUFFICIENT_ACCESS"}]"#,
            unixTime: 0
        )
        #expect(forbidden.outcome == .clientError)
    }

    @Test func statusClasses() {
        #expect(classifier.classify(status: .ok, headers: [:], unixTime: 0).outcome == .success)
        #expect(classifier.classify(status: .notFound, headers: [:], unixTime: 0).outcome == .clientError)
        #expect(classifier.classify(status: .badGateway, headers: [:], unixTime: 0).outcome == .failure)
        var headers = HTTPFields()
        headers[.retryAfter] = "5"
        let unavailable = classifier.classify(status: .serviceUnavailable, headers: headers, unixTime: 0)
        #expect(unavailable.outcome == .failure && unavailable.retryAfter == .seconds(5))
        #expect(classifier.classify(status: .ok, headers: [:], body: "not json", unixTime: 0).outcome == .success)
    }
}
