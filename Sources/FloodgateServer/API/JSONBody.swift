import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// The body decoded as `T`, or an ``APIError``: too large (413), not JSON or missing fields (400).
    mutating func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.bodyTooLarge(limit)
        }
        do {
            return try requestDecoder.decode(T.self, from: Data(buffer.readableBytesView))
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError.badJSON("missing field \(key.stringValue)")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badJSON("field \(path) has the wrong type")
        } catch {
            throw APIError.badJSON("the body is not a JSON object of the expected shape")
        }
    }
}

/// One decoder for every request body (it keeps no state between calls).
let requestDecoder = JSONDecoder()
