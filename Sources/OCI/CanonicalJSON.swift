import Foundation

/// The one JSON encoder bake uses for everything it hashes (configs, manifests, indexes,
/// cache entries): keys sorted by their bytes, slashes unescaped, no insignificant
/// whitespace. Registries and digests see these exact bytes, so they must not vary with
/// the host, the locale or dictionary iteration order.
public enum CanonicalJSON {
    /// Encodes `value` canonically.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        // sortedKeys: byte order of keys, independent of dictionary order.
        // withoutEscapingSlashes: "a/b" rather than "a\/b", as other OCI tools write.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Encodes `value` for people to read (`--json` output): the canonical document,
    /// indented by two spaces, `"key": value`, empty arrays and objects kept on one line.
    public static func encodePretty<T: Encodable>(_ value: T) throws -> [UInt8] {
        indent(try encode(value))
    }

    /// Re-indents compact JSON without changing any token.
    static func indent(_ compact: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(compact.count * 2)
        var depth = 0
        var inString = false
        var escaped = false
        func newline() {
            out.append(0x0a)
            out.append(contentsOf: [UInt8](repeating: 0x20, count: depth * 2))
        }
        var index = 0
        while index < compact.count {
            let byte = compact[index]
            if inString {
                out.append(byte)
                if escaped { escaped = false } else if byte == 0x5c { escaped = true } else if byte == 0x22 { inString = false }
                index += 1
                continue
            }
            switch byte {
            case 0x22:
                inString = true
                out.append(byte)
            case 0x7b, 0x5b:  // { [
                let next = index + 1 < compact.count ? compact[index + 1] : 0
                if next == 0x7d || next == 0x5d {
                    out.append(byte)
                    out.append(next)
                    index += 1
                } else {
                    out.append(byte)
                    depth += 1
                    newline()
                }
            case 0x7d, 0x5d:  // } ]
                depth -= 1
                newline()
                out.append(byte)
            case 0x2c:  // ,
                out.append(byte)
                newline()
            case 0x3a:  // :
                out.append(contentsOf: [0x3a, 0x20])
            default:
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    /// Decodes a JSON document, naming `kind` in the error if it does not fit.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], kind: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw OCIError.invalidDocument(kind: kind, reason: describe(error))
        } catch let error as OCIError {
            throw OCIError.invalidDocument(kind: kind, reason: error.description)
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }
            return keys.isEmpty ? "the document" : keys.joined()
        }
        switch error {
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? OCIError {
                return "\(path(context)): \(underlying.description)"
            }
            return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
