import Foundation
import OCI
import Registry
import RegistryTestSupport
import Testing

/// Basic auth, bearer tokens and where credentials may go, against the in-memory registry.
@Suite struct RegistryAuthTests {
    static let ci = RegistryCredentials(user: "ci", password: "s3cret:pw")

    @Test func basicAuthIsAnsweredOnceThenSentWithEveryRequest() async throws {
        let harness = try Harness(auth: .basic(Self.ci), credentials: Self.ci)
        let blob = try harness.blob(1000)
        #expect(try await harness.push(blob) == .uploaded)
        try await harness.client.putManifest("team/app", reference: "v1", bytes: Harness.manifest(config: blob.digest, layers: []), mediaType: .imageManifest)
        #expect(try await harness.client.tags("team/app") == ["v1"])
        let requests = harness.registry.registryRequests
        // The first request of the repository meets the challenge; it and every later one
        // carry the credentials.
        #expect(requests.filter { $0.header("Authorization") == nil }.count == 1)
        #expect(requests.dropFirst().allSatisfy { $0.header("Authorization") == FakeRegistry.basic(Self.ci) })
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
    }

    @Test func wrongOrMissingBasicCredentialsSayWhich() async throws {
        let wrong = try Harness(auth: .basic(Self.ci), credentials: RegistryCredentials(user: "ci", password: "nope"))
        let refused = await #expect(throws: RegistryError.self) { try await wrong.client.tags("team/app") }
        #expect(refused?.description.hasPrefix("unauthorized: the registry reg.test refused access to team/app") == true)
        #expect(refused?.description.contains("check the credentials") == true, "\(String(describing: refused))")
        // Not asked again and again: one retry with the credentials, then the answer.
        #expect(wrong.registry.registryRequests.count == 2)

        let none = try Harness(auth: .basic(Self.ci))
        let missing = await #expect(throws: RegistryError.self) { try await none.client.tags("team/app") }
        #expect(missing?.description.contains("no credentials were found for reg.test") == true, "\(String(describing: missing))")
        #expect(missing?.exitStatus.rawValue == 1)
    }

    @Test func bearerTokensAreScopedCachedAndPullPushServesPull() async throws {
        let harness = try Harness(auth: .bearer(Self.ci), credentials: Self.ci)
        let blob = try harness.blob(1000)
        #expect(try await harness.push(blob) == .uploaded)
        // pull,push asked for first (the push's HEAD), so later pulls need no token of their own.
        #expect(try await harness.client.hasBlob("team/app", blob.digest))
        try await harness.client.pullBlob("team/app", digest: blob.digest, size: blob.size, to: harness.folder + "/pulled")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: harness.folder + "/pulled"))) == blob.bytes)
        var tokens = harness.registry.requests.filter(\.isToken)
        #expect(tokens.count == 1)
        // The scope bake needs, and the one the challenge named.
        #expect(tokens.first?.query("scope") == ["repository:team/app:pull,push", "repository:team/app:pull"])
        #expect(tokens.first?.query("service") == [FakeRegistry.host])
        // The token server gets the user's credentials; the registry gets only the token.
        #expect(tokens.first?.header("Authorization") == FakeRegistry.basic(Self.ci))
        #expect(harness.registry.registryRequests.allSatisfy { $0.header("Authorization")?.hasPrefix("Bearer ") ?? true })
        #expect(harness.registry.registryRequests.filter { $0.header("Authorization") == nil }.count == 1, "one 401, then the token")

        // Another repository is another scope: one more token, then cached too.
        #expect(try await harness.push(try harness.blob(500, seed: 2), to: "team/other") == .uploaded)
        #expect(try await harness.client.hasBlob("team/other", blob.digest) == false)
        tokens = harness.registry.requests.filter(\.isToken)
        #expect(tokens.map { $0.query("scope").first } == ["repository:team/app:pull,push", "repository:team/other:pull,push"])
    }

    @Test func requestsThatNeedATokenAtOnceShareOneProbeAndOneFetch() async throws {
        let harness = try Harness(auth: .bearer(nil))
        var blobs: [Harness.BlobFile] = []
        for seed in 1...6 {
            let blob = try harness.blob(2000, seed: UInt8(seed))
            harness.registry.put(blob: blob.bytes, in: "team/base")
            blobs.append(blob)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for blob in blobs {
                group.addTask {
                    try await harness.client.pullBlob("team/base", digest: blob.digest, size: blob.size, to: harness.folder + "/pull-" + blob.digest.encoded)
                }
            }
            try await group.waitForAll()
        }
        #expect(harness.registry.requests.filter(\.isProbe).count == 1)
        #expect(harness.registry.requests.filter(\.isToken).count == 1)
    }

    @Test func credentialsNeverGoToAnotherOrigin() async throws {
        var layout = FakeRegistry.Layout()
        layout.redirectBlobs = true
        layout.uploadsOnStorage = true
        layout.tagPageSize = 1
        layout.tagLinksOnStorage = true
        for auth in [FakeRegistry.Auth.basic(Self.ci), .bearer(Self.ci)] {
            let harness = try Harness(auth: auth, layout: layout, credentials: Self.ci)
            // An upload whose session Location is on another host: the bytes go there bare.
            let blob = try harness.blob(3000)
            #expect(try await harness.push(blob) == .uploaded)
            #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
            // A blob download redirected to storage.
            try await harness.client.pullBlob("team/app", digest: blob.digest, size: blob.size, to: harness.folder + "/pulled")
            // A tag list whose next page is on another host.
            let manifest = Harness.manifest(config: blob.digest, layers: [])
            for tag in ["a", "b", "c"] {
                try await harness.client.putManifest("team/app", reference: tag, bytes: manifest, mediaType: .imageManifest)
            }
            #expect(try await harness.client.tags("team/app") == ["a", "b", "c"])

            let elsewhere = harness.registry.requests.filter { $0.host == FakeRegistry.storageHost }
            #expect(Set(elsewhere.map(\.method)) == ["GET", "PUT"], "the upload, the download and the tag pages went there: \(elsewhere.map(\.url))")
            #expect(elsewhere.allSatisfy { $0.header("Authorization") == nil }, "\(elsewhere.map { ($0.url, $0.header("Authorization")) })")
            // The token server (another host the registry names) gets the user's credentials,
            // never a token; the registry's own token goes to the registry only.
            for token in harness.registry.requests.filter(\.isToken) {
                #expect(token.header("Authorization") == FakeRegistry.basic(Self.ci))
            }
            #expect(harness.registry.requests.filter { $0.header("Authorization")?.hasPrefix("Bearer ") == true }.allSatisfy { $0.host == FakeRegistry.host })
        }
    }

    @Test func aLocationOnPlainHTTPIsRefusedWithoutInsecure() async throws {
        let harness = try Harness()
        harness.registry.inject(.header("Location", "http://\(FakeRegistry.storageHost)/uploads/x")) { $0.method == "POST" }
        let blob = try harness.blob(100)
        let refused = await #expect(throws: RegistryError.self) { try await harness.push(blob) }
        #expect(refused?.description.contains("plain http (http://storage.test)") == true, "\(String(describing: refused))")
        #expect(!harness.registry.requests.contains { $0.url.hasPrefix("http://") })
    }
}
