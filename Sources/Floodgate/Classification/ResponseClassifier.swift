import HTTPTypes

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads a third-party API's response for throttling and remaining quota.
///
/// Recognises `429` with `Retry-After` (seconds or an HTTP date), Slack's `ratelimited` error, HubSpot's
/// `X-HubSpot-RateLimit-*` headers and `policyName`, and Salesforce's `Sforce-Limit-Info` header and
/// `REQUEST_LIMIT_EXCEEDED` error. Anything else is classified by status: 2xx/3xx success, 5xx failure, other 4xx
/// client error.
public struct ResponseClassifier: Sendable {
    /// How long to back off when a throttled response says nothing about it.
    public var defaultRetryAfter: Duration
    /// The back-off for HubSpot's per-interval (`TEN_SECONDLY_ROLLING`) limit when no interval header is present.
    public var hubSpotIntervalRetryAfter: Duration

    public init(defaultRetryAfter: Duration = .seconds(30), hubSpotIntervalRetryAfter: Duration = .seconds(10)) {
        self.defaultRetryAfter = defaultRetryAfter
        self.hubSpotIntervalRetryAfter = hubSpotIntervalRetryAfter
    }

    /// Classifies a response.
    ///
    /// - Parameters:
    ///   - status: the response status.
    ///   - headers: the response header fields.
    ///   - body: the response body when the caller has it (Slack and Salesforce report throttling there).
    ///   - unixTime: the caller's wall-clock time in seconds since 1970, to turn an HTTP-date `Retry-After` into a wait.
    public func classify(
        status: HTTPResponse.Status,
        headers: HTTPFields,
        body: String? = nil,
        unixTime: Int64
    ) -> ResponseClassification {
        let errorBody = body.flatMap(ErrorBody.parse)
        var result = ResponseClassification(outcome: Self.outcome(of: status))
        result.retryAfter = headers[.retryAfter].flatMap { Self.retryAfter($0, unixTime: unixTime) }
        readHubSpot(headers, into: &result)
        readSalesforce(headers, into: &result)
        result.policyName = errorBody?.policyName ?? result.policyName

        let throttledByBody = errorBody.map { $0.isSlackRateLimited || $0.isSalesforceLimitExceeded } ?? false
        if status.code == 429 || throttledByBody {
            result.outcome = .throttled
        }
        if result.outcome == .throttled && result.retryAfter == nil {
            result.retryAfter = impliedRetryAfter(result, headers: headers, unixTime: unixTime)
        }
        return result
    }

    private static func outcome(of status: HTTPResponse.Status) -> ResponseClassification.Outcome {
        switch status.kind {
        case .successful, .redirection, .informational: return .success
        case .serverError: return .failure
        case .clientError, .invalid: return .clientError
        }
    }

    /// `Retry-After: 120` or `Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`; never negative.
    static func retryAfter(_ value: String, unixTime: Int64) -> Duration? {
        let trimmed = value.trimmingSpaces
        if let seconds = Int64(trimmed) { return seconds >= 0 ? .seconds(seconds) : nil }
        guard let date = HTTPDate.secondsSince1970(trimmed) else { return nil }
        return .seconds(max(0, date - unixTime))
    }

    private func readHubSpot(_ headers: HTTPFields, into result: inout ResponseClassification) {
        if let remaining = headers.int("X-HubSpot-RateLimit-Remaining") {
            result.remaining = remaining
            result.limit = headers.int("X-HubSpot-RateLimit-Max")
        } else if let remaining = headers.int("X-HubSpot-RateLimit-Daily-Remaining") {
            result.remaining = remaining
            result.limit = headers.int("X-HubSpot-RateLimit-Daily")
        }
    }

    private func readSalesforce(_ headers: HTTPFields, into result: inout ResponseClassification) {
        // Sforce-Limit-Info: api-usage=18/5000
        guard let name = HTTPField.Name("Sforce-Limit-Info"), let info = headers[name],
            let usage = info.split(separator: ",").first(where: { $0.trimmingSpaces.hasPrefix("api-usage=") })
        else { return }
        let numbers = usage.trimmingSpaces.dropFirst("api-usage=".count).split(separator: "/")
        guard numbers.count == 2, let used = Int(numbers[0]), let limit = Int(numbers[1]) else { return }
        result.limit = limit
        result.remaining = max(0, limit - used)
    }

    private func impliedRetryAfter(
        _ result: ResponseClassification,
        headers: HTTPFields,
        unixTime: Int64
    ) -> Duration {
        switch result.policyName {
        case "DAILY"?:
            // HubSpot's daily limit resets at midnight in the account's time zone; UTC midnight is the estimate.
            return .seconds(86_400 - (unixTime % 86_400))
        case let name? where name.contains("SECONDLY"):
            return headers.int("X-HubSpot-RateLimit-Interval-Milliseconds").map { .milliseconds($0) }
                ?? hubSpotIntervalRetryAfter
        default:
            return defaultRetryAfter
        }
    }
}

/// The parts of a provider's JSON error body that speak of throttling.
private struct ErrorBody: Decodable {
    var ok: Bool?
    var error: String?
    var policyName: String?
    var errorCode: String?

    var isSlackRateLimited: Bool { ok == false && (error == "ratelimited" || error == "rate_limited") }
    var isSalesforceLimitExceeded: Bool { errorCode == "REQUEST_LIMIT_EXCEEDED" }

    /// An object, or Salesforce's array of error objects (the first one that says anything).
    static func parse(_ text: String) -> ErrorBody? {
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        if let object = try? decoder.decode(ErrorBody.self, from: data) { return object }
        if let list = try? decoder.decode([ErrorBody].self, from: data) {
            return list.first { $0.errorCode != nil } ?? list.first
        }
        return nil
    }
}

extension HTTPFields {
    fileprivate func int(_ name: String) -> Int? {
        HTTPField.Name(name).flatMap { self[$0] }.flatMap { Int($0.trimmingSpaces) }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
