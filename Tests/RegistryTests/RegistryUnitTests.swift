import Foundation
import Testing
@testable import Registry

@Suite struct AuthChallengeTests {
    @Test func parsesABearerChallengeWithQuotedCommas() {
        let challenges = AuthChallenge.parse(#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#)
        #expect(challenges == [AuthChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.example.com/token", "service": "registry.example.com", "scope": "repository:a/b:pull,push",
        ])])
    }

    @Test func parsesSeveralChallengesAndUnquotedValues() {
        let challenges = AuthChallenge.parse(#"Basic realm="bake-test", Bearer realm=https://x/t, error="invalid_token""#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges[0].parameters == ["realm": "bake-test"])
        #expect(challenges[1].parameters == ["realm": "https://x/t", "error": "invalid_token"])
    }

    @Test func keepsEscapedQuotes() {
        let challenges = AuthChallenge.parse(#"Basic realm="say \"hi\"""#)
        #expect(challenges.first?.parameters["realm"] == #"say "hi""#)
    }
}

@Suite struct CredentialTests {
    @Test func passwordsMayHoldColons() throws {
        let credentials = try RegistryCredentials(parsing: "ci:a:b")
        #expect(credentials.user == "ci" && credentials.password == "a:b")
        #expect(throws: RegistryError.self) { try RegistryCredentials(parsing: "nocolon") }
        #expect(throws: RegistryError.self) { try RegistryCredentials(parsing: ":pw") }
    }

    @Test func orderIsFlagThenEnvironmentThenDockerConfig() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bake-creds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let auth = Data("dock:er".utf8).base64EncodedString()
        try Data(#"{"auths": {"https://reg.example.com/v1/": {"auth": "\#(auth)"}, "other.io": {"username": "u", "password": "p"}}}"#.utf8)
            .write(to: URL(fileURLWithPath: folder + "/config.json"))
        let docker = ["DOCKER_CONFIG": folder]
        #expect(try RegistryCredentials.resolve(host: "reg.example.com", explicit: nil, environment: docker) == RegistryCredentials(user: "dock", password: "er"))
        #expect(try RegistryCredentials.resolve(host: "other.io", explicit: nil, environment: docker) == RegistryCredentials(user: "u", password: "p"))
        #expect(try RegistryCredentials.resolve(host: "unknown.io", explicit: nil, environment: docker) == nil)
        // `docker login` writes Docker Hub as https://index.docker.io/v1/.
        try Data(#"{"auths": {"https://index.docker.io/v1/": {"auth": "\#(auth)"}}}"#.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        #expect(try RegistryCredentials.resolve(host: "docker.io", explicit: nil, environment: docker) == RegistryCredentials(user: "dock", password: "er"))
        try Data(#"{"auths": {"reg.example.com": {"auth": "\#(auth)"}, "other.io": {"username": "u", "password": "p"}}}"#.utf8)
            .write(to: URL(fileURLWithPath: folder + "/config.json"))
        let environment = docker.merging(["BAKE_REGISTRY_USER": "env", "BAKE_REGISTRY_PASSWORD": "pw"]) { $1 }
        #expect(try RegistryCredentials.resolve(host: "reg.example.com", explicit: nil, environment: environment) == RegistryCredentials(user: "env", password: "pw"))
        let flag = RegistryCredentials(user: "flag", password: "f")
        #expect(try RegistryCredentials.resolve(host: "reg.example.com", explicit: flag, environment: environment) == flag)
        #expect(throws: RegistryError.self) {
            try RegistryCredentials.resolve(host: "x.io", explicit: nil, environment: ["BAKE_REGISTRY_USER": "only"])
        }
    }
}

@Suite struct UploadProtocolTests {
    @Test func rangesAndQueries() {
        #expect(RegistryClient.uploadedLength("0-8388607") == 8_388_608)
        #expect(RegistryClient.uploadedLength("bytes=0-99") == 100)
        // distribution's answer for an empty upload: nothing is there yet.
        #expect(RegistryClient.uploadedLength("0-0") == 0)
        #expect(RegistryClient.uploadedLength(nil) == nil)
        #expect(RegistryClient.uploadedLength("garbage") == nil)
        #expect(RegistryClient.appending("/v2/a/blobs/uploads/x?_state=s", "digest=sha256:1") == "/v2/a/blobs/uploads/x?_state=s&digest=sha256:1")
        #expect(RegistryClient.appending("/v2/a/blobs/uploads/x", "digest=sha256:1") == "/v2/a/blobs/uploads/x?digest=sha256:1")
        // Locations: absolute, absolute-path, scheme-relative and relative.
        let request = "https://reg.io:5000/v2/a/blobs/uploads/"
        #expect(RegistryClient.resolve("https://s3.example.com/b?sig=1", against: request) == "https://s3.example.com/b?sig=1")
        #expect(RegistryClient.resolve("/v2/a/blobs/uploads/u?_state=s", against: request) == "https://reg.io:5000/v2/a/blobs/uploads/u?_state=s")
        #expect(RegistryClient.resolve("//cdn.example.com/x", against: request) == "https://cdn.example.com/x")
        #expect(RegistryClient.resolve("u1", against: request) == "https://reg.io:5000/v2/a/blobs/uploads/u1")
        #expect(RegistryClient.origin("https://reg.io:5000/v2/x?y=1") == "https://reg.io:5000")
    }

    @Test func backoffDoublesUpToItsBoundAndHonoursRetryAfter() {
        let policy = RetryPolicy(attempts: 6, initialDelay: 0.25, maximumDelay: 4)
        #expect((1...6).map { policy.delay(retry: $0, retryAfter: nil) } == [0.25, 0.5, 1, 2, 4, 4])
        #expect(policy.delay(retry: 1, retryAfter: "2") == 2)
        // A rate limit may ask for longer than bake's own backoff, up to a minute.
        #expect(policy.delay(retry: 1, retryAfter: "30") == 30)
        #expect(policy.delay(retry: 1, retryAfter: "600") == 60)
        #expect(policy.delay(retry: 3, retryAfter: "soon") == 1)
    }
}

/// A docker config that is a named pipe is refused, never waited on (issue 14, item 2).
@Suite struct DockerConfigInputTests {
    @Test func aNamedPipeInPlaceOfTheDockerConfigIsRefused() throws {
        let folder = NSTemporaryDirectory() + "bake-docker-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(mkfifo(folder + "/config.json", 0o600) == 0)
        #expect(throws: RegistryError.self) { _ = try RegistryCredentials.fromDockerConfig(path: folder + "/config.json", host: "example.com") }
        try FileManager.default.removeItem(atPath: folder + "/config.json")
        try Data(#"{"auths":{"example.com":{"auth":"dTpw"}}}"#.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        #expect(try RegistryCredentials.fromDockerConfig(path: folder + "/config.json", host: "example.com")?.user == "u")
    }
}
