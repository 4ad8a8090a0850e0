import Foundation
import OCI
import Registry
import RegistryTestSupport
import Testing

/// 429s, 5xx and dropped connections, against the in-memory registry. The client's waits are
/// recorded, not slept.
@Suite struct RegistryRetryTests {
    static func manifestRequest(_ request: FakeRegistry.Request) -> Bool { request.path.contains("/manifests/") }

    @Test func rateLimitsAndServerErrorsAreRetriedWithRetryAfterBounded() async throws {
        let harness = try Harness()
        let manifest = Harness.manifest(config: FakeRegistry.digest([1]), layers: [])
        let digest = harness.registry.put(manifest: manifest, in: "team/app", tag: "v1")
        harness.registry.inject(.status(429, headers: ["Retry-After": "2"]), when: Self.manifestRequest)
        // A registry asking for ten minutes gets one (the longest bake waits).
        harness.registry.inject(.status(503, headers: ["Retry-After": "600"]), when: Self.manifestRequest)
        harness.registry.inject(.status(502), when: Self.manifestRequest)
        let fetched = try await harness.client.manifest("team/app", reference: "v1")
        #expect(fetched.digest == digest && fetched.bytes == manifest)
        #expect(harness.registry.registryRequests.count == 4)
        // Retry-After when given (bounded by 60 s), else the backoff of the third retry.
        #expect(harness.pauses == [2, 60, 1])
    }

    @Test func aRegistryThatKeepsFailingIsReportedAfterEveryRetry() async throws {
        let harness = try Harness()
        harness.registry.put(manifest: Harness.manifest(config: FakeRegistry.digest([1]), layers: []), in: "team/app", tag: "v1")
        harness.registry.inject(.status(503), times: 100, when: Self.manifestRequest)
        let error = await #expect(throws: RegistryError.self) { try await harness.client.manifest("team/app", reference: "v1") }
        #expect(error?.description == "the registry reg.test kept answering 503 to fetch of manifest reg.test/team/app:v1, through every retry (INJECTED: injected fault)")
        #expect(harness.registry.registryRequests.count == RetryPolicy.standard.attempts)
        #expect(harness.pauses == [0.25, 0.5, 1, 2, 4])
    }

    @Test func aDroppedConnectionIsRetried() async throws {
        let harness = try Harness()
        let manifest = Harness.manifest(config: FakeRegistry.digest([1]), layers: [])
        harness.registry.put(manifest: manifest, in: "team/app", tag: "v1")
        harness.registry.inject(.drop, times: 2, when: Self.manifestRequest)
        #expect(try await harness.client.manifest("team/app", reference: "v1").bytes == manifest)
        #expect(harness.registry.registryRequests.count == 3)

        // A download that breaks off half way starts again, and the file is whole.
        let blob = try harness.blob(5000)
        harness.registry.put(blob: blob.bytes, in: "team/app")
        harness.registry.inject(.truncateResponse(afterBytes: 2500)) { $0.method == "GET" && $0.path.contains("/blobs/") }
        let target = harness.folder + "/pulled"
        try await harness.client.pullBlob("team/app", digest: blob.digest, size: blob.size, to: target)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: target))) == blob.bytes)
        #expect(harness.registry.registryRequests.filter { $0.path.contains("/blobs/") }.count == 2)
    }

    @Test func aRegistryThatNeverAnswersSaysWhatWasBeingDoneAndKeepsTheCause() async throws {
        let harness = try Harness()
        harness.registry.inject(.drop, times: 100) { $0.path.contains("/tags/") }
        let error = await #expect(throws: RegistryError.self) { try await harness.client.tags("team/app") }
        #expect(error?.description == "the registry reg.test is not reachable: tag list of reg.test/team/app: connection reset by peer")
        guard case .unreachable(_, _, let cause)? = error else {
            Issue.record("not unreachable: \(String(describing: error))")
            return
        }
        #expect((cause as? TransportError)?.kind == .connectionLost)

        // The probe itself: fewer tries, and the cause kept.
        let down = try Harness()
        down.registry.inject(.drop, times: 100) { $0.isProbe }
        let probe = await #expect(throws: RegistryError.self) { try await down.client.tags("team/app") }
        #expect(probe?.description == "the registry reg.test is not reachable: connection reset by peer")
        #expect(down.registry.requests.count == 3)
    }
}
