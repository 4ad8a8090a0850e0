import Foundation
import OCI
import Registry
import RegistryTestSupport
import Testing

/// A registry that lies, stalls or sends bake's credentials elsewhere, against the in-memory
/// registry: what bake believes, how long it waits, where credentials go.
@Suite struct UntrustedRegistryTests {
    static let ci = RegistryCredentials(user: "ci", password: "s3cret:pw")

    static func plainRealm() -> FakeRegistry.Layout {
        var layout = FakeRegistry.Layout()
        layout.tokenRealm = "http://\(FakeRegistry.authHost)/token"
        return layout
    }

    @Test func aPlainHTTPTokenRealmOfAVerifiedRegistryGetsNoCredentials() async throws {
        let harness = try Harness(auth: .bearer(Self.ci), layout: Self.plainRealm(), credentials: Self.ci)
        let refused = await #expect(throws: RegistryError.self) { try await harness.client.tags("team/app") }
        let text = refused?.description ?? ""
        #expect(text.contains("http://auth.test/token") && text.contains("plain HTTP") && text.contains("--insecure"), "\(text)")
        // Nothing went to the token server: neither the credentials nor a request.
        #expect(harness.registry.requests.filter(\.isToken).isEmpty)
        #expect(!harness.registry.requests.contains { $0.header("Authorization") == FakeRegistry.basic(Self.ci) })
    }

    @Test func aPlainHTTPTokenRealmServesARegistryReachedWithInsecure() async throws {
        let harness = try Harness(auth: .bearer(Self.ci), layout: Self.plainRealm(), credentials: Self.ci, insecure: true)
        let blob = try harness.blob(300)
        #expect(try await harness.push(blob) == .uploaded)
        let tokens = harness.registry.requests.filter(\.isToken)
        #expect(tokens.count == 1)
        #expect(tokens.first?.url.hasPrefix("http://auth.test/token") == true)
        #expect(tokens.first?.header("Authorization") == FakeRegistry.basic(Self.ci))
    }

    @Test func aTrickledManifestTimesOutNamingTheRequest() async throws {
        let harness = try Harness(smallAnswerDeadline: .seconds(1))
        let blob = try harness.blob(100)
        harness.registry.put(manifest: Harness.manifest(config: blob.digest, layers: [blob.digest]), in: "team/app", tag: "v1")
        // ~400 bytes at one per 200 ms: 80 s without a deadline.
        harness.registry.inject(.trickle(every: .milliseconds(200))) { $0.method == "GET" && $0.url.contains("/manifests/") }
        let stalled = await #expect(throws: RegistryError.self) { try await harness.client.manifest("team/app", reference: "v1") }
        let text = stalled?.description ?? ""
        #expect(text == "the registry reg.test did not finish the fetch of manifest reg.test/team/app:v1 within 1 s", "\(text)")
        #expect(stalled?.exitStatus.rawValue == 1)
        // The deadline is per request: the next one, not trickled, is answered.
        let fetched = try await harness.client.manifest("team/app", reference: "v1")
        #expect(fetched.mediaType == .imageManifest)
    }

    @Test func trickledTagListsAndTokensTimeOutToo() async throws {
        let lists = try Harness(smallAnswerDeadline: .seconds(1))
        lists.registry.put(manifest: Harness.manifest(config: FakeRegistry.digest([1]), layers: []), in: "team/app", tag: "v1")
        lists.registry.inject(.trickle(every: .milliseconds(300))) { $0.url.contains("/tags/list") }
        let list = await #expect(throws: RegistryError.self) { try await lists.client.tags("team/app") }
        #expect(list?.description == "the registry reg.test did not finish the tag list of reg.test/team/app within 1 s", "\(String(describing: list))")

        let tokens = try Harness(auth: .bearer(Self.ci), credentials: Self.ci, smallAnswerDeadline: .seconds(1))
        tokens.registry.inject(.trickle(every: .milliseconds(300))) { $0.isToken }
        let token = await #expect(throws: RegistryError.self) { try await tokens.client.tags("team/app") }
        #expect(token?.description.contains("did not finish the token request to https://auth.test/token within 1 s") == true, "\(String(describing: token))")
    }

    @Test func aTrickledProbeTimesOut() async throws {
        let harness = try Harness(smallAnswerDeadline: .seconds(1))
        harness.registry.inject(.trickle(every: .seconds(30))) { $0.isProbe }
        let stalled = await #expect(throws: RegistryError.self) { try await harness.client.tags("team/app") }
        #expect(stalled?.description == "the registry reg.test did not finish the probe of https://reg.test/v2/ within 1 s",
                "\(String(describing: stalled))")
    }

    @Test func aHeadThatReportsAnotherDigestIsNotBelieved() async throws {
        let harness = try Harness()
        let blob = try harness.blob(2000)
        let other = FakeRegistry.digest([9, 9, 9])
        // A registry that says it has the blob, but names another digest for it.
        harness.registry.inject(.status(200, headers: ["Docker-Content-Digest": other.description]), times: 10) {
            $0.method == "HEAD" && $0.url.contains("/blobs/")
        }
        #expect(try await harness.client.hasBlob("team/app", blob.digest) == false)
        // So a push sends the bytes, and the registry then really has them.
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
    }

    @Test func aHeadThatReportsTheSameDigestOrNoneIsBelieved() async throws {
        let harness = try Harness()
        let blob = try harness.blob(2000)
        harness.registry.put(blob: blob.bytes, in: "team/app")
        #expect(try await harness.client.hasBlob("team/app", blob.digest))
        harness.registry.inject(.status(200)) { $0.method == "HEAD" }
        #expect(try await harness.client.hasBlob("team/app", FakeRegistry.digest([7])))
    }

    @Test func aManifestPutByDigestIsNamedWithAnAt() async throws {
        let harness = try Harness()
        let bytes = Harness.manifest(config: FakeRegistry.digest([1]), layers: [])
        let digest = FakeRegistry.digest(bytes)
        harness.registry.inject(.status(400), times: 1) { $0.method == "PUT" }
        let refused = await #expect(throws: RegistryError.self) {
            try await harness.client.putManifest("team/app", reference: digest.description, bytes: bytes, mediaType: .imageManifest)
        }
        #expect(refused?.description.contains("reg.test/team/app@\(digest)") == true, "\(String(describing: refused))")
    }
}
