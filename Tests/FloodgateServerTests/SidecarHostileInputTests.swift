import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// Hostile names and bodies: refused with a clear error, never mapped onto another key, never a 5xx.
@Suite("Sidecar hostile input", .timeLimit(.minutes(3)))
struct SidecarHostileInputTests {
    static let hostileNames = [
        "a/b", "a:b", "{slack}", "a}b", "a{b", "line\nbreak", "tab\there", "space here", " T1", "T1 ", "",
        String(repeating: "x", count: 10_000), "naïve", "emoji🙂", "nul\u{0}byte", "..", "a\\b", "%2F", "*",
    ]

    @Test func hostileTenantsAndOperationsAreRefusedAndCreateNoState() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            for name in Self.hostileNames {
                let json = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
                for (part, body) in [("tenant", #"{"integration":"slack","tenant":\#(json)}"#), ("operation", #"{"integration":"slack","tenant":"T1","operation":\#(json)}"#)] {
                    let response = try await client.send(.post, "/v1/acquire", body)
                    // Dots are allowed; operations may also use "/" (tenants may not, so keys stay unambiguous).
                    let valid = name == ".." || (part == "operation" && name == "a/b")
                    #expect(valid ? response.status == .ok : response.errorCode == "invalid_key",
                            "\(name.prefix(20).debugDescription) → \(response.status) \(response.text.prefix(120))")
                }
                let integration = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
                let unknown = try await client.send(.post, "/v1/acquire", #"{"integration":\#(integration),"tenant":"T1"}"#)
                #expect(unknown.status.code >= 400 && unknown.status.code < 500)
            }
            // Only the valid names made state: slack/.., slack/T1, slack/T1/.. and slack/T1/a/b.
            #expect(sidecar.floodgate.keyCount == 4)
            #expect(try await client.send(.post, "/v1/acquire", #"{"integration":"Slack","tenant":"T1"}"#).errorCode == "unknown_integration")
        }
    }

    @Test func bodiesThatAreNotJSONOrNotUTF8AreBadJSON() async throws {
        let sidecar = try await makeSidecar()
        try await sidecar.makeApplication().test(.router) { client in
            let bodies: [[UInt8]] = [
                [0xFF, 0xFE, 0x00], Array(#"{"integration":"slack","tenant":"T"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),
                Array("[]".utf8), Array("null".utf8), Array("{}".utf8), [], Array(repeating: UInt8(ascii: "["), count: 1_000),
            ]
            for bytes in bodies {
                let response = try await client.execute(uri: "/v1/acquire", method: .post, body: ByteBuffer(bytes: bytes))
                #expect(response.status == .badRequest && response.errorCode == "bad_json", "\(bytes.prefix(8)) → \(response.status)")
            }
            #expect(sidecar.floodgate.keyCount == 0)
        }
    }
}
