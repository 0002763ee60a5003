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
        ("get", "/api/health"),
        ("get", "/api/health/live"),
        ("get", "/metrics"),
        ("get", "/api/dashboard"),
        ("get", "/"),
    ]
}
