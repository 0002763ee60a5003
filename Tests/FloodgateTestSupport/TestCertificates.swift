import FloodgateLocalRedis
import Foundation

/// A throwaway CA and a server certificate for `localhost` / 127.0.0.1 signed by it, made with `openssl`.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caCertificate: String { directory.appendingPathComponent("ca.crt").path }
    public var serverCertificate: String { directory.appendingPathComponent("server.crt").path }
    public var serverKey: String { directory.appendingPathComponent("server.key").path }

    public var redisTLSFiles: LocalRedisServer.TLSFiles {
        .init(certificatePath: serverCertificate, keyPath: serverKey, caCertificatePath: caCertificate)
    }

    public static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        let extensions = directory.appendingPathComponent("san.ext")
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(to: extensions, atomically: true, encoding: .utf8)
        try await certificates.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Floodgate Test CA",
            "-keyout", "ca.key", "-out", "ca.crt",
        ])
        try await certificates.openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr",
        ])
        try await certificates.openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.crt",
        ])
        return certificates
    }

    private func openssl(_ arguments: [String]) async throws {
        let run = try await ProgramRun.run("openssl", arguments, directory: directory)
        guard run.status == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments[0]) failed: \(run.output)"])
        }
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
