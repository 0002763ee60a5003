extension CallOutcome {
    /// The outcome a response classification implies.
    public init(_ classification: ResponseClassification) {
        switch classification.outcome {
        case .success: self = .success
        case .failure: self = .failure
        case .throttled: self = .throttled(retryAfter: classification.retryAfter)
        case .clientError: self = .ignored
        }
    }
}
