import Foundation
import Glibc
import Testing
import TestSupport

/// The step cache shared through a registry (`--cache-from`, `--cache-to`), with the toy
/// pipeline (three images on scratch) and a real registry on 127.0.0.1, behind the
/// request-logging proxy where a test counts requests or injects faults. (The example on
/// Debian, from a fresh clone that cannot reach the mirror, is in ExamplePipelineTests.)
@Suite(.serialized, .enabled(if: Host.canRun(tools: ["docker-registry", "skopeo", "python3"]), "needs docker-registry, skopeo and python3"))
struct RemoteCacheTests {
    /// `bake --progress json build --insecure-registry HOST ARGS` in `project`.
    static func build(_ project: String, host: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try BakeCLI.run(["--progress", "json", "build", "--insecure-registry", host] + arguments, in: project, environment: environment)
    }

    static func toy(_ dir: TemporaryDirectory, _ name: String) throws -> String {
        let project = dir.at(name)
        try BakeCLI.toyProject(at: project)
        return project
    }

    @Test func aFreshStoreTakesEveryStepFromTheRegistryRunsNothingAndPushesWithoutSendingALayer() throws {
        let registry = try TestRegistry()
        let proxy = try RegistryProxy(upstream: registry)
        let dir = TemporaryDirectory("bake-remote")
        let cache = proxy.host + "/team/cache"

        let a = try Self.toy(dir, "a")
        let written = try Self.build(a, host: proxy.host, ["app", "--cache-to", cache])
        #expect(written.status == 0, "\(written.stderr)")
        let steps = BakeCLI.steps(written.stdout)
        #expect(!steps.isEmpty && steps.values.allSatisfy { $0 == "built" }, "\(steps)")
        let puts = try proxy.requests().filter { $0.method == "PUT" && $0.path.contains("/manifests/bake-") }
        #expect(puts.count == steps.count, "one tagged manifest per step: \(puts.map(\.path))")
        #expect(Self.warnings(written).isEmpty, "\(Self.warnings(written))")

        // A fresh runner: the same files, an empty store.
        let b = try Self.toy(dir, "b")
        proxy.clearLog()
        let read = try Self.build(b, host: proxy.host, ["app", "--cache-from", cache])
        #expect(read.status == 0, "\(read.stderr)")
        let remote = BakeCLI.steps(read.stdout)
        #expect(remote.keys.sorted() == steps.keys.sorted())
        #expect(remote.values.allSatisfy { $0 == "remote" }, "every step a remote hit: \(remote)")
        let imagesA = Self.imageDigests(written.stdout), imagesB = Self.imageDigests(read.stdout)
        #expect(!imagesA.isEmpty && imagesA == imagesB, "the same images: \(imagesA) \(imagesB)")
        // One lookup per step; every layer downloaded once at most.
        let requests = try proxy.requests()
        let lookups = requests.filter { $0.method == "GET" && $0.path.contains("/manifests/bake-") }
        #expect(lookups.count == steps.count, "\(lookups.map(\.path))")
        let blobGets = requests.filter { $0.method == "GET" && $0.path.contains("/blobs/") }.map(\.path)
        #expect(Set(blobGets).count == blobGets.count, "a blob downloaded twice: \(blobGets)")
        #expect(Self.warnings(read).isEmpty, "\(Self.warnings(read))")
        // The store is whole: skopeo reads the image; fsck finds nothing wrong.
        let inspected = try Command.run(["skopeo", "inspect", "oci:\(b)/.bake/oci:app"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        let fsck = try BakeCLI.run(["fsck"], in: b)
        #expect(fsck.status == 0, "\(fsck.stdout) \(fsck.stderr)")

        // Built again, every step is a local hit: the registry is not asked at all.
        proxy.clearLog()
        let again = try Self.build(b, host: proxy.host, ["app", "--cache-from", cache])
        #expect(BakeCLI.steps(again.stdout).values.allSatisfy { $0 == "cached" }, "\(again.stdout)")
        let asked = try proxy.requests()
        #expect(asked.isEmpty, "\(asked.map(\.path))")

        // Pushed to the same registry, the layers are mounted from the cache repository:
        // only the image's config (never in the cache) is sent.
        let pushed = try BakeCLI.run(["push", "app", proxy.host + "/team/app", "--tag", "1", "--insecure", "--json"], in: b)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(pushed.stdout.utf8)) as? [String: Any])
        let blobs = try #require(report["blobs"] as? [[String: Any]])
        let uploaded = blobs.filter { $0["result"] as? String == "uploaded" }
        #expect(uploaded.count == 1, "only the config is uploaded: \(blobs)")
        #expect(blobs.filter { $0["result"] as? String == "mounted" }.count == blobs.count - 1, "\(blobs)")
    }

    @Test func aChangedFileRunsOnlyTheStepsFromItTheRestComeFromTheCache() throws {
        let registry = try TestRegistry()
        let dir = TemporaryDirectory("bake-remote-change")
        let cache = registry.host + "/cache"
        let a = try Self.toy(dir, "a")
        let written = try Self.build(a, host: registry.host, ["app", "--cache-to", cache])
        #expect(written.status == 0, "\(written.stderr)")

        let b = try Self.toy(dir, "b")
        let changedFile = try #require(ToyProject.files.first { $0.path.hasPrefix("app/") && !$0.path.hasSuffix("stage.yaml") }).path
        try Fixture.write(b + "/images/" + changedFile, "changed on the pull request\n")
        let read = try Self.build(b, host: registry.host, ["app", "--cache-from", cache])
        #expect(read.status == 0, "\(read.stderr)")
        let steps = BakeCLI.steps(read.stdout)
        let built = steps.filter { $0.value == "built" }.keys.sorted()
        #expect(!built.isEmpty && built.allSatisfy { $0.hasPrefix("app/") }, "only app's steps run: \(steps)")
        #expect(steps.filter { !$0.key.hasPrefix("app/") }.values.allSatisfy { $0 == "remote" }, "\(steps)")
        let imagesA = Self.imageDigests(written.stdout), imagesB = Self.imageDigests(read.stdout)
        #expect(imagesB["base"] == imagesA["base"] && imagesB["app-base"] == imagesA["app-base"])
        #expect(imagesB["app"] != nil && imagesB["app"] != imagesA["app"])
    }

    @Test func aCacheThatCannotBeReachedIsAWarningUnlessRequired() throws {
        let dir = TemporaryDirectory("bake-remote-down")
        let port = try TestRegistry.freePort()
        let cache = "127.0.0.1:\(port)/cache"
        let project = try Self.toy(dir, "p")
        for flag in ["--cache-from", "--cache-to"] {
            try? FileManager.default.removeItem(atPath: project + "/.bake")
            let result = try Self.build(project, host: "127.0.0.1:\(port)", ["app", flag, cache])
            #expect(result.status == 0, "\(flag): \(result.stderr)")
            let warnings = Self.warnings(result)
            #expect(warnings.count == 1 && warnings[0].contains(cache), "\(flag): one warning naming the cache: \(warnings)")
            #expect(BakeCLI.steps(result.stdout).values.allSatisfy { $0 == "built" }, "\(result.stdout)")

            try? FileManager.default.removeItem(atPath: project + "/.bake")
            let required = try Self.build(project, host: "127.0.0.1:\(port)", ["app", flag, cache, "--cache-required"])
            #expect(required.status == 1, "\(flag): \(required.stderr)")
            #expect(required.stderr.contains(cache) && required.stderr.contains("--cache-required"), "\(required.stderr)")
        }
        let bad = try Self.build(project, host: "127.0.0.1:\(port)", ["app", "--cache-from", cache + ":latest"])
        #expect(bad.status == 2 && bad.stderr.contains("--cache-from"), "\(bad.stderr)")
        let lonely = try Self.build(project, host: "127.0.0.1:\(port)", ["app", "--cache-required"])
        #expect(lonely.status == 2, "\(lonely.stderr)")
    }

    @Test func aRegistryThatSendsOtherBytesIsCaughtAndTheStepIsBuiltHere() throws {
        let registry = try TestRegistry()
        let dir = TemporaryDirectory("bake-remote-tamper")
        let a = try Self.toy(dir, "a")
        let written = try Self.build(a, host: registry.host, ["app", "--cache-to", registry.host + "/cache"])
        #expect(written.status == 0, "\(written.stderr)")

        // Every blob it sends has a flipped byte.
        let liar = try RegistryProxy(upstream: registry, faults: ["--tamper-blobs"])
        let b = try Self.toy(dir, "b")
        let read = try Self.build(b, host: liar.host, ["app", "--cache-from", liar.host + "/cache"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(Self.warnings(read).contains { $0.contains("cannot download layer") }, "\(Self.warnings(read))")
        #expect(BakeCLI.steps(read.stdout).values.contains("built"), "\(read.stdout)")
        #expect(Self.imageDigests(read.stdout) == Self.imageDigests(written.stdout))
        let fsck = try BakeCLI.run(["fsck"], in: b)
        #expect(fsck.status == 0, "\(fsck.stdout) \(fsck.stderr)")
    }

    @Test func anEntryWhoseDiffIDLiesIsCaughtWhenItsLayerArrives() throws {
        let registry = try TestRegistry()
        let dir = TemporaryDirectory("bake-remote-diffid")
        let a = try Self.toy(dir, "a")
        let written = try Self.build(a, host: registry.host, ["app", "--cache-to", registry.host + "/cache"])
        #expect(written.status == 0, "\(written.stderr)")
        // Every entry rewritten with a record that claims another diffID for the same blob.
        let script = """
            import json, sys, urllib.request
            host = sys.argv[1]
            tags = json.load(urllib.request.urlopen("http://%s/v2/cache/tags/list" % host))["tags"]
            accept = "application/vnd.oci.image.manifest.v1+json"
            for tag in tags:
                request = urllib.request.Request("http://%s/v2/cache/manifests/%s" % (host, tag), headers={"Accept": accept})
                manifest = json.load(urllib.request.urlopen(request))
                record = json.loads(manifest["annotations"]["dev.bake.step"])
                record["layer"]["diffID"] = "sha256:" + "1" * 64
                manifest["annotations"]["dev.bake.step"] = json.dumps(record, sort_keys=True, separators=(",", ":"))
                body = json.dumps(manifest).encode()
                put = urllib.request.Request("http://%s/v2/cache/manifests/%s" % (host, tag), data=body, method="PUT",
                                             headers={"Content-Type": accept})
                urllib.request.urlopen(put)
            print(len(tags))
            """
        let rewritten = try Command.run(["python3", "-c", script, registry.host])
        #expect(rewritten.status == 0, "\(rewritten.stderr)")
        let b = try Self.toy(dir, "b")
        let read = try Self.build(b, host: registry.host, ["app", "--cache-from", registry.host + "/cache"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(Self.warnings(read).contains { $0.contains("cannot download layer") && $0.contains("uncompressed") }, "\(Self.warnings(read))")
        #expect(Self.imageDigests(read.stdout) == Self.imageDigests(written.stdout))
        let fsck = try BakeCLI.run(["fsck"], in: b)
        #expect(fsck.status == 0, "\(fsck.stdout) \(fsck.stderr)")
    }

    @Test func aRegistryThatRefusesArtifactsGetsImageManifestsThatReadBackAsHits() throws {
        let registry = try TestRegistry()
        let old = try RegistryProxy(upstream: registry, faults: ["--refuse-artifacts"])
        let dir = TemporaryDirectory("bake-remote-plain")
        let a = try Self.toy(dir, "a")
        let written = try Self.build(a, host: old.host, ["app", "--cache-to", old.host + "/cache"])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(Self.warnings(written).isEmpty, "\(Self.warnings(written))")
        // Refused (steps written at once may each be refused once), then put as image manifests.
        let puts = try old.requests().filter { $0.method == "PUT" && $0.path.contains("/manifests/bake-") }
        let refused = Set(puts.filter { $0.status == "400" }.map(\.path))
        let stored = Set(puts.filter { $0.status == "201" }.map(\.path))
        #expect(!refused.isEmpty && refused.isSubset(of: stored), "\(puts)")
        #expect(stored.count == BakeCLI.steps(written.stdout).count, "\(puts)")
        let tags = try Command.run(["skopeo", "list-tags", "--tls-verify=false", "docker://\(registry.host)/cache"])
        let tag = try #require(tags.stdout.firstMatch(of: /bake-[0-9a-f]{64}/)).output
        let raw = try Command.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/cache:\(tag)"])
        #expect(raw.stdout.contains("application/vnd.oci.image.config.v1+json") && !raw.stdout.contains("artifactType"), "\(raw.stdout)")

        let b = try Self.toy(dir, "b")
        let read = try Self.build(b, host: old.host, ["app", "--cache-from", old.host + "/cache"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(BakeCLI.steps(read.stdout).values.allSatisfy { $0 == "remote" }, "\(read.stdout)")
    }

    @Test(.enabled(if: Host.canRun(tools: ["docker-registry"], root: true), "needs root (run steps)"))
    func aPullRequestWithoutTheSecretReusesTheStepsMainBuiltWithIt() throws {
        let registry = try TestRegistry()
        let dir = TemporaryDirectory("bake-remote-secret")
        let stage = """
            from: tools
            steps:
              - run: wc -c < /run/secrets/api > /api-length
                secrets: [api]
              - run: echo done > /done

            """
        let main = dir.at("main")
        try BusyboxProject.write(at: main, images: ["app": stage])
        let written = try Self.build(main, host: registry.host, ["app", "--secret", "id=api,env=API_TOKEN", "--cache-to", registry.host + "/cache"],
                                     environment: ["API_TOKEN": "value"])
        #expect(written.status == 0, "\(written.stderr)")
        // The pull request's runner: no secret, an empty store.
        let pr = dir.at("pr")
        try BusyboxProject.write(at: pr, images: ["app": stage])
        let read = try Self.build(pr, host: registry.host, ["app", "--cache-from", registry.host + "/cache"])
        #expect(read.status == 0, "\(read.stderr)")
        let steps = BakeCLI.steps(read.stdout)
        #expect(steps["app/1"] == "remote" && steps["app/2"] == "remote", "\(steps)")
        // Without the cache, the same build demands the secret (exit 2) before building anything.
        let other = dir.at("other")
        try BusyboxProject.write(at: other, images: ["app": stage])
        let refused = try Self.build(other, host: registry.host, ["app"])
        #expect(refused.status == 2 && refused.stderr.contains("secret 'api' is not given"), "\(refused.stderr)")
    }

    /// The warnings of a `--progress json` build (events on stdout) and any on stderr.
    static func warnings(_ result: CommandResult) -> [String] {
        BakeCLI.events(result.stdout).filter { $0["event"] as? String == "warning" }.compactMap { $0["message"] as? String }
            + result.stderr.split(separator: "\n").map(String.init).filter { $0.contains("warning") }
    }

    /// image -> digest, from the image events of a `--progress json` build.
    static func imageDigests(_ output: String) -> [String: String] {
        var digests: [String: String] = [:]
        for event in BakeCLI.events(output) where event["event"] as? String == "image" {
            if let image = event["image"] as? String, let digest = event["digest"] as? String { digests[image] = digest }
        }
        return digests
    }
}
