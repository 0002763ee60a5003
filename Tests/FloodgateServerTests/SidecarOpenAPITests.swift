import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// `openapi.yaml` stays true: its paths and methods are exactly the sidecar's endpoints, every one is routed, and every
/// error code the API can give is documented.
@Suite("openapi.yaml", .timeLimit(.minutes(3)))
struct SidecarOpenAPITests {
    static let specification: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)) ?? ""
    }()

    /// `(method, path)` pairs under `paths:` (two-space indented paths, four-space indented methods).
    static func documentedEndpoints(_ yaml: String) -> Set<String> {
        var endpoints: Set<String> = []
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let path {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "put", "post", "delete", "patch"].contains(String(method)) { endpoints.insert("\(method) \(path)") }
            }
        }
        return endpoints
    }

    @Test func theDocumentListsExactlyTheSidecarsEndpoints() {
        #expect(!Self.specification.isEmpty, "openapi.yaml is found")
        let documented = Self.documentedEndpoints(Self.specification)
        let served = Set(SidecarEndpoints.all.map { "\($0.method) \($0.path)" })
        #expect(documented == served, "documented but not served: \(documented.subtracting(served)); served but not documented: \(served.subtracting(documented))")
    }

    @Test func everyListedEndpointIsRouted() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            for (method, path) in SidecarEndpoints.all {
                let uri = path.replacingOccurrences(of: "{integration}", with: "slack")
                    .replacingOccurrences(of: "{tenant}", with: "T1").replacingOccurrences(of: "{key}", with: "k")
                let response = try await client.send(HTTPRequest.Method(method.uppercased())!, uri, "{}")
                let unrouted = response.errorCode == "not_found"
                #expect(!unrouted, "\(method) \(uri) is not routed")
            }
        }
    }

    @Test func everyErrorCodeIsDocumented() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/FloodgateServer")
        var codes: Set<String> = []
        let files = FileManager.default.enumerator(at: source, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        let pattern = try Regex(#"APIError\([^,]+, "([a-z_]+)""#)
        for file in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: pattern) { if let code = match.output[1].substring { codes.insert(String(code)) } }
        }
        #expect(codes.count >= 8, "found the error codes in the sources: \(codes)")
        for code in codes where !code.hasPrefix("http_") {
            #expect(Self.specification.contains(code), "\(code) is not documented in openapi.yaml")
        }
    }
}
