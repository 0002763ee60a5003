/// Every endpoint the sidecar serves, as `openapi.yaml` lists them (`SidecarOpenAPITests` checks the file, this list
/// and the router against each other).
public enum SidecarEndpoints {
    public static let all: [(method: String, path: String)] = [
        ("post", "/v1/acquire"),
        ("post", "/v1/record"),
        ("get", "/v1/keys/{integration}/{tenant}"),
        ("post", "/v1/breakers/{integration}"),
        ("get", "/v1/cache/{key}"),
        ("put", "/v1/cache/{key}"),
        ("delete", "/v1/cache/{key}"),
        ("post", "/v1/cache/{key}/load"),
        ("put", "/v1/admin/redis"),
        ("post", "/v1/admin/reload"),
        ("get", "/api/health"),
        ("get", "/api/health/live"),
        ("get", "/metrics"),
        ("get", "/api/dashboard"),
        ("get", "/"),
    ]

    /// The methods of the endpoints whose path template matches `path` (`{name}` matches one segment).
    static func methods(forPath path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return all.filter { endpoint in
            let template = endpoint.path.split(separator: "/", omittingEmptySubsequences: true)
            guard template.count == segments.count else { return false }
            return zip(template, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        .map(\.method)
    }
}
