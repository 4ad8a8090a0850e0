import Foundation

/// A user name and password (or token) for HTTP basic auth and for token servers.
public struct RegistryCredentials: Sendable, Hashable {
    /// The user name.
    public var user: String
    /// The password or access token.
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses `USER:PASS` (the password may contain ':').
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw RegistryError.invalidCredentials("--creds must be USER:PASSWORD")
        }
        self.init(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    /// `Basic base64(user:password)`.
    var basicAuthorization: String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// The credentials to use for `host`, first found of: `explicit` (`--creds`),
    /// `BAKE_REGISTRY_USER`/`BAKE_REGISTRY_PASSWORD`, the `auths` entry for the host in
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. Nil: anonymous.
    public static func resolve(
        host: String, explicit: RegistryCredentials?, environment: [String: String]
    ) throws -> RegistryCredentials? {
        if let explicit { return explicit }
        if let user = environment["BAKE_REGISTRY_USER"], !user.isEmpty {
            guard let password = environment["BAKE_REGISTRY_PASSWORD"] else {
                throw RegistryError.invalidCredentials("BAKE_REGISTRY_USER is set but BAKE_REGISTRY_PASSWORD is not")
            }
            return RegistryCredentials(user: user, password: password)
        }
        let folder = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.docker"
        return try fromDockerConfig(path: folder + "/config.json", host: host)
    }

    /// The `auths` entry for `host` of a docker config file; nil if the file or entry is missing.
    static func fromDockerConfig(path: String, host: String) throws -> RegistryCredentials? {
        // Read without blocking: a named pipe (or a device) in its place is refused, not waited on.
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw RegistryError.invalidCredentials("\(path) is not a regular file")
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= 16 << 20,
              let data = try? handle.readToEnd() ?? Data() else {
            throw RegistryError.invalidCredentials("\(path) is not a regular file bake can read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RegistryError.invalidCredentials("\(path) is not valid JSON")
        }
        guard let auths = object["auths"] as? [String: Any] else { return nil }
        // Keys are written as "host", "https://host" or "https://host/v1/".
        func hostOf(_ key: String) -> String {
            var key = Substring(key)
            if let scheme = key.range(of: "://") { key = key[scheme.upperBound...] }
            if let slash = key.firstIndex(of: "/") { key = key[..<slash] }
            return String(key)
        }
        // Docker Hub is written under several names; `docker login` uses index.docker.io.
        let hub: Set<String> = ["docker.io", "index.docker.io", "registry-1.docker.io"]
        let names: Set<String> = hub.contains(host) ? hub : [host]
        guard let entry = auths.first(where: { names.contains(hostOf($0.key)) })?.value as? [String: Any] else { return nil }
        if let auth = entry["auth"] as? String, !auth.isEmpty {
            guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
                  let colon = decoded.firstIndex(of: ":")
            else {
                throw RegistryError.invalidCredentials("the 'auth' of \(host) in \(path) is not base64 of USER:PASSWORD")
            }
            return RegistryCredentials(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
        }
        if let user = entry["username"] as? String, let password = entry["password"] as? String {
            return RegistryCredentials(user: user, password: password)
        }
        return nil
    }
}
