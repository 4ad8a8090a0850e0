// WWW-Authenticate: RFC 7235 section 4.1, and the token flow registries use:
// https://distribution.github.io/distribution/spec/auth/token/

/// One challenge of a `WWW-Authenticate` header: a scheme and its parameters.
struct AuthChallenge: Sendable, Hashable {
    /// `basic` or `bearer`, lowercased.
    var scheme: String
    /// Parameters with lowercased names (`realm`, `service`, `scope`, `error`).
    var parameters: [String: String]

    /// Parses a header value, which may hold several challenges:
    /// `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"`.
    static func parse(_ header: String) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        let bytes = Array(header.utf8)
        var index = 0
        func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        func token() -> String {
            let start = index
            while index < bytes.count, !(bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x3d || bytes[index] == 0x2c) {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        while index < bytes.count {
            skipSpaces()
            while index < bytes.count, bytes[index] == 0x2c { index += 1; skipSpaces() }
            let scheme = token()
            guard !scheme.isEmpty else { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased(), parameters: [:])
            // Parameters: name=value or name="quoted", separated by commas, until a token that
            // is not followed by '=' (the next challenge's scheme).
            while true {
                skipSpaces()
                let mark = index
                let name = token()
                skipSpaces()
                guard !name.isEmpty, index < bytes.count, bytes[index] == 0x3d else {
                    index = mark
                    break
                }
                index += 1
                skipSpaces()
                var value: [UInt8] = []
                if index < bytes.count, bytes[index] == 0x22 {
                    index += 1
                    while index < bytes.count, bytes[index] != 0x22 {
                        if bytes[index] == 0x5c, index + 1 < bytes.count { index += 1 }
                        value.append(bytes[index])
                        index += 1
                    }
                    index += 1
                } else {
                    while index < bytes.count, bytes[index] != 0x2c, bytes[index] != 0x20 {
                        value.append(bytes[index])
                        index += 1
                    }
                }
                challenge.parameters[name.lowercased()] = String(decoding: value, as: UTF8.self)
                skipSpaces()
                if index < bytes.count, bytes[index] == 0x2c { index += 1 }
            }
            challenges.append(challenge)
        }
        return challenges
    }
}
