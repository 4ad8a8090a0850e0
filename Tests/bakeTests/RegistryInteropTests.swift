import Foundation
import Testing
import TestSupport

/// `bake push`, `bake retag` and `from: {image: ...}` against a real registry (Debian's
/// docker-registry on 127.0.0.1), with auth, TLS and a fault-injecting proxy.
@Suite struct RegistryInteropTests {
    static let tools = ["docker-registry", "skopeo", "python3", "htpasswd", "openssl", "curl"]

    /// A built scratch project and its digests.
    final class Project {
        let dir = TemporaryDirectory("bake-push")
        var path: String { dir.at("project") }
        var digests: [String: String] = [:]

        init(largeFile: Int = 0) throws {
            try RegistryProject.make(at: dir.at("project"), largeFile: largeFile)
            digests = try RegistryProject.build(path, ["app"])
        }

        func bake(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
            try BakeCLI.run(arguments, in: path, environment: environment)
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aPushedImageIsWhatSkopeoReadsBack() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let push = try project.bake(["push", "app", "\(registry.host)/team/app", "--tag", "latest", "--tag", "{seq}", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        let digest = try #require(project.digests["app"])
        #expect(push.stdout.split(separator: "\n") == [
            "\(registry.host)/team/app@\(digest)", "\(registry.host)/team/app:latest", "\(registry.host)/team/app:1",
        ])
        let inspected = try registry.inspect("team/app:latest")
        #expect(inspected["Digest"] as? String == digest)
        #expect(inspected["Layers"] as? [String] == (try RegistryProject.layers(project.path, "app")))
        // Copied back into an OCI layout, the manifest keeps its digest.
        let layout = project.dir.at("copy")
        let copy = try Command.run([
            "skopeo", "copy", "--preserve-digests", "--src-tls-verify=false", "docker://\(registry.host)/team/app:1", "oci:\(layout):app",
        ])
        #expect(copy.status == 0, "\(copy.stderr)")
        let index = try Self.json(try Fixture.read(layout + "/index.json"))
        let manifests = try #require(index["manifests"] as? [[String: Any]])
        #expect(manifests.first?["digest"] as? String == digest)
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aRepeatPushSendsNoBlobAndAppMountsTheLayersOfBase() throws {
        let registry = try TestRegistry()
        let proxy = try RegistryProxy(upstream: registry)
        let project = try Project()
        let base = try project.bake(["push", "base", "\(proxy.host)/team/base", "--tag", "v1", "--insecure"])
        #expect(base.status == 0, "\(base.stderr)")
        let baseLayers = Set(try RegistryProject.layers(project.path, "base"))
        let appLayers = try RegistryProject.layers(project.path, "app")

        proxy.clearLog()
        let app = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "v1", "--insecure", "--json"])
        #expect(app.status == 0, "\(app.stderr)")
        let requests = try proxy.requests()
        let mounts = requests.filter { $0.method == "POST" && $0.path.contains("mount=") && $0.status == "201" }
        // Every layer app shares with base was mounted from team/base, not sent again.
        #expect(Set(mounts.compactMap { path in baseLayers.first { path.path.contains($0) } }) == baseLayers)
        let uploads = requests.filter { ($0.method == "PUT" || $0.method == "PATCH") && $0.path.contains("/blobs/uploads/") }
        #expect(uploads.count == appLayers.count - baseLayers.count + 1, "app's own layer and its config, nothing more: \(uploads)")
        let results = try #require(try Self.json(app.stdout)["blobs"] as? [[String: Any]])
        #expect(results.filter { $0["result"] as? String == "mounted" }.count == baseLayers.count)

        proxy.clearLog()
        let again = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "v1", "--insecure", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try proxy.requests()
        #expect(second.filter { $0.method == "POST" || $0.method == "PATCH" || $0.path.contains("/blobs/uploads/") }.isEmpty, "\(second)")
        #expect(second.filter { $0.method == "HEAD" && $0.path.contains("/blobs/") }.count == appLayers.count + 1)
        let repeated = try #require(try Self.json(again.stdout)["blobs"] as? [[String: Any]])
        #expect(repeated.allSatisfy { $0["result"] as? String == "existed" })
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func basicAuthTakesTheRightCredentialsFromEverySource() throws {
        let registry = try TestRegistry(user: "ci", password: "s3cret:pw")
        let project = try Project()
        let target = "\(registry.host)/team/app"
        let right = try project.bake(["push", "app", target, "--tag", "a", "--insecure", "--creds", "ci:s3cret:pw"])
        #expect(right.status == 0, "\(right.stderr)")

        let wrong = try project.bake(["push", "app", target, "--tag", "b", "--insecure", "--creds", "ci:nope"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("unauthorized") && wrong.stderr.contains(registry.host), "\(wrong.stderr)")
        let none = try project.bake(["push", "app", target, "--tag", "b", "--insecure"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("unauthorized") && none.stderr.contains(registry.host), "\(none.stderr)")

        let environment = try project.bake(["push", "app", target, "--tag", "c", "--insecure"],
                                           environment: ["BAKE_REGISTRY_USER": "ci", "BAKE_REGISTRY_PASSWORD": "s3cret:pw"])
        #expect(environment.status == 0, "\(environment.stderr)")

        let config = project.dir.at("docker")
        try Fixture.mkdir(config)
        let auth = Data("ci:s3cret:pw".utf8).base64EncodedString()
        try Fixture.write(config + "/config.json", #"{"auths": {"http://\#(registry.host)": {"auth": "\#(auth)"}}}"#)
        let docker = try project.bake(["push", "app", target, "--tag", "d", "--insecure"], environment: ["DOCKER_CONFIG": config])
        #expect(docker.status == 0, "\(docker.stderr)")
        let tags = try Command.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", "ci:s3cret:pw", "docker://\(target)"])
        let listed = try #require(try Self.json(tags.stdout)["Tags"] as? [String])
        #expect(Set(listed) == ["a", "c", "d"])
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func bearerTokensComeFromTheRealmAndAreReused() throws {
        let registry = try TestRegistry()
        let proxy = try RegistryProxy(upstream: registry, faults: ["--bearer", "ci:token-pw"])
        let project = try Project()
        let push = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "t", "--insecure", "--creds", "ci:token-pw"])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try registry.inspect("team/app:t")["Digest"] as? String == project.digests["app"])
        let requests = try proxy.requests()
        let tokens = requests.filter { $0.path.hasPrefix("/token") }
        // (The probe of /v2/ is answered 401 too; it only tells that the registry is there.)
        let unauthorized = requests.filter { $0.status == "401" && !$0.path.hasPrefix("/token") && $0.path != "/v2/" }
        // One token for the repository's pull and push, fetched after the first 401 and sent
        // with every later request.
        #expect(tokens.count == 1, "\(tokens)")
        #expect(unauthorized.count == 1, "\(unauthorized)")
        #expect(requests.filter { $0.status != "401" && !$0.path.hasPrefix("/token") }.count >= 8)
        // A mount needs pull on its source too: pushing base next, to another repository,
        // asks for a token with both scopes, and the mount happens.
        let base = try project.bake(["push", "base", "\(proxy.host)/team/base", "--tag", "t", "--insecure", "--creds", "ci:token-pw", "--json"])
        #expect(base.status == 0, "\(base.stderr)")
        let layers = try #require(try Self.json(base.stdout)["blobs"] as? [[String: Any]])
        #expect(layers.contains { $0["result"] as? String == "mounted" }, "\(base.stdout)")

        // A retag reads with the token it writes with.
        proxy.clearLog()
        let retag = try project.bake(["retag", "\(proxy.host)/team/app:t", "r1", "r2", "--insecure", "--creds", "ci:token-pw"])
        #expect(retag.status == 0, "\(retag.stderr)")
        let retagRequests = try proxy.requests()
        #expect(retagRequests.filter { $0.path.hasPrefix("/token") }.count == 1, "\(retagRequests)")
        #expect(retagRequests.filter { $0.path == "/v2/" }.count == 1, "\(retagRequests)")

        let wrong = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "u", "--insecure", "--creds", "ci:wrong"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("unauthorized") && wrong.stderr.contains(proxy.host), "\(wrong.stderr)")
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aSelfSignedCertificateIsRefusedUnlessInsecure() throws {
        let registry = try TestRegistry(tls: true)
        let project = try Project()
        let refused = try project.bake(["push", "app", "\(registry.host)/team/app", "--tag", "x"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not trusted") && refused.stderr.contains("--insecure") && refused.stderr.contains(registry.host),
                "\(refused.stderr)")
        let accepted = try project.bake(["push", "app", "\(registry.host)/team/app", "--tag", "x", "--insecure"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(try registry.inspect("team/app:x")["Digest"] as? String == project.digests["app"])
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aPlainHTTPRegistryWithoutInsecureIsNamedAsSuch() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let refused = try project.bake(["push", "app", "\(registry.host)/team/app", "--tag", "x"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(
            "the registry \(registry.host) answered in plain HTTP; pass --insecure (or --insecure-registry \(registry.host)) to use it"),
            "\(refused.stderr)")
        // Words, not the HTTP stack's types or the paths of bake's own build.
        for leak in ["NIO", "BoringSSL", "handshakeFailed", ".build", "swift-nio", "Error("] {
            #expect(!refused.stderr.contains(leak), "\(leak) in \(refused.stderr)")
        }
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aResetMidUploadAnd503sAreSurvivedAndTheImageIsIntact() throws {
        let registry = try TestRegistry()
        // 20 MiB of random bytes: a layer pushed in three chunks.
        let project = try Project(largeFile: 20 << 20)
        let proxy = try RegistryProxy(
            upstream: registry, faults: ["--fail-patch", "1", "--reset-patch", "2", "--fail-status", "503", "--fail-every", "4"])
        let push = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "v1", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        let requests = try proxy.requests()
        #expect(requests.first { $0.method == "PATCH" }?.status == "503", "the first chunk was refused before any byte arrived")
        #expect(requests.contains { $0.method == "PATCH" && $0.status == "reset" }, "the connection was reset mid-upload")
        #expect(requests.contains { $0.status == "503" && $0.method != "PATCH" }, "503s were answered to other requests too")
        #expect(requests.filter { $0.method == "PATCH" && $0.status == "202" }.count >= 3, "the large layer went in chunks")
        // Read back from the registry itself: skopeo checks every blob against its digest.
        let layout = project.dir.at("copy")
        let copy = try Command.run([
            "skopeo", "copy", "--preserve-digests", "--src-tls-verify=false", "docker://\(registry.host)/team/app:v1", "oci:\(layout):app",
        ])
        #expect(copy.status == 0, "\(copy.stderr)")
        let index = try Self.json(try Fixture.read(layout + "/index.json"))
        #expect((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String == project.digests["app"])
        let large = try #require(try RegistryProject.layers(project.path, "base").last)
        let copied = try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + large.dropFirst(7)))
        let original = try Data(contentsOf: URL(fileURLWithPath: project.path + "/.bake/oci/blobs/sha256/" + large.dropFirst(7)))
        #expect(copied == original)
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aRefusedFirstChunkIsSentAgainFromByteZeroWithoutStartingOver() throws {
        let registry = try TestRegistry()
        let project = try Project(largeFile: 20 << 20)
        let proxy = try RegistryProxy(upstream: registry, faults: ["--fail-patch", "1"])
        let push = try project.bake(["push", "base", "\(proxy.host)/team/base", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        let requests = try proxy.requests()
        // The registry answers "Range: 0-0" for an empty upload: bake resumes at byte 0 and
        // each of the three chunks is accepted once, in one upload session.
        #expect(requests.filter { $0.method == "PATCH" }.map(\.status) == ["503", "202", "202", "202"], "\(requests)")
        #expect(requests.filter { $0.method == "GET" && $0.path.contains("/blobs/uploads/") }.count == 1)
        let copy = try Command.run(["skopeo", "copy", "--src-tls-verify=false",
                                    "docker://\(registry.host)/team/base@\(try #require(project.digests["base"]))", "oci:\(project.dir.at("copy")):base"])
        #expect(copy.status == 0, "\(copy.stderr)")
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func anImageWithTwoEqualLayersPushesThatBlobOnce() throws {
        let registry = try TestRegistry()
        let dir = TemporaryDirectory("bake-push-twice")
        try Fixture.mkdir(dir.at("images/a"))
        try Fixture.write(dir.at("images/a/f"), "same\n")
        try Fixture.write(dir.at("images/a/stage.yaml"), "from: scratch\nsteps:\n  - copy: f\n    to: /f\n  - copy: f\n    to: /f\n")
        let digest = try #require(try RegistryProject.build(dir.path, ["a"])["a"])
        let layers = try RegistryProject.layers(dir.path, "a")
        #expect(layers.count == 2 && layers[0] == layers[1])
        let push = try BakeCLI.run(["push", "a", "\(registry.host)/team/a", "--tag", "t", "--insecure", "--json"], in: dir.path)
        #expect(push.status == 0, "\(push.stderr)")
        #expect((try Self.json(push.stdout)["blobs"] as? [[String: Any]])?.count == 2, "the config and the one layer")
        #expect(try registry.inspect("team/a:t")["Digest"] as? String == digest)
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aDamagedBlobInTheStoreIsNotSent() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let layer = try #require(try RegistryProject.layers(project.path, "app").last)
        let path = project.path + "/.bake/oci/blobs/sha256/" + layer.dropFirst(7)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let push = try project.bake(["push", "app", "\(registry.host)/team/app", "--tag", "v1", "--insecure"])
        #expect(push.status == 1)
        #expect(push.stderr.contains(layer) && push.stderr.contains("bake fsck"), "\(push.stderr)")
        #expect(throws: (any Error).self) { try registry.inspect("team/app:v1") }
    }

    @Test(.enabled(if: Host.canRun(tools: tools)), arguments: ["blobs", "manifests"])
    func aRegistryReportingAnotherDigestFailsThePush(_ what: String) throws {
        let registry = try TestRegistry()
        let proxy = try RegistryProxy(upstream: registry, faults: ["--wrong-digest", what])
        let project = try Project()
        let push = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "v1", "--insecure"])
        #expect(push.status == 1)
        #expect(push.stderr.contains(proxy.host) && push.stderr.contains("sha256:" + String(repeating: "0", count: 64))
                && push.stderr.contains("refusing") && push.stderr.contains(what == "blobs" ? "blob" : "manifest"), "\(push.stderr)")
        // Nothing was tagged.
        #expect(throws: (any Error).self) { try registry.inspect("team/app:v1") }
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func sequenceTagsCountUpAndRetagRollsLatestBack() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let target = "\(registry.host)/team/app"
        var pushed: [String] = []
        for round in 1...3 {
            if round > 1 {
                try Fixture.write(project.path + "/images/app/app.txt", "release \(round)\n")
                project.digests = try RegistryProject.build(project.path)
            }
            let push = try project.bake(["push", "app", target, "--tag", "{seq}", "--tag", "latest", "--insecure"])
            #expect(push.status == 0, "\(push.stderr)")
            #expect(push.stdout.contains("\(target):\(round)\n"), "\(push.stdout)")
            pushed.append(try #require(project.digests["app"]))
        }
        #expect(Set(pushed).count == 3)
        #expect(try registry.inspect("team/app:latest")["Digest"] as? String == pushed[2])
        for (index, digest) in pushed.enumerated() {
            #expect(try registry.inspect("team/app:\(index + 1)")["Digest"] as? String == digest)
        }
        // Each template counts its own tags.
        for expected in ["build-1", "build-2"] {
            let build = try project.bake(["push", "app", target, "--tag", "build-{seq}", "--insecure"])
            #expect(build.stdout.contains("\(target):\(expected)\n"), "\(build.stdout) \(build.stderr)")
        }
        let retag = try project.bake(["retag", "\(target):1", "latest", "--insecure"])
        #expect(retag.status == 0, "\(retag.stderr)")
        #expect(retag.stdout == "\(target):latest -> \(pushed[0])\n")
        #expect(try registry.inspect("team/app:latest")["Digest"] as? String == pushed[0])

        let missing = try project.bake(["retag", "\(target):99", "latest", "--insecure"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(target):99 does not exist"), "\(missing.stderr)")
        let noRepository = try project.bake(["retag", "\(registry.host)/team/nothing:1", "latest", "--insecure"])
        #expect(noRepository.status == 1)
        #expect(noRepository.stderr.contains("the registry \(registry.host) has no repository team/nothing"), "\(noRepository.stderr)")
        let unreachable = try project.bake(["push", "app", "127.0.0.1:1/team/app", "--tag", "x", "--insecure"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("the registry 127.0.0.1:1 is not reachable: connection refused"), "\(unreachable.stderr)")
        let badTemplate = try project.bake(["push", "app", target, "--tag", "{build}", "--insecure"])
        #expect(badTemplate.status == 2)
        #expect(badTemplate.stderr.contains("{build}"), "\(badTemplate.stderr)")
        let noHost = try project.bake(["push", "app", "team/app", "--tag", "x"])
        #expect(noHost.status == 2)
        #expect(noHost.stderr.contains("'team/app'"), "\(noHost.stderr)")
        // No revision label (not a git checkout): {git.sha} stops the push before any request.
        let noRevision = try project.bake(["push", "app", target, "--tag", "{git.sha}", "--insecure"])
        #expect(noRevision.status == 2)
        #expect(noRevision.stderr.contains("BAKE_REVISION"), "\(noRevision.stderr)")
        let revision = "0123456789abcdef0123456789abcdef01234567"
        _ = try RegistryProject.build(project.path, environment: ["BAKE_REVISION": revision])
        let git = try project.bake(["push", "app", target, "--tag", "{git.sha}", "--tag", "v-{git.short}", "--insecure"])
        #expect(git.status == 0, "\(git.stderr)")
        #expect(git.stdout.hasSuffix("\(target):\(revision)\n\(target):v-0123456\n"), "\(git.stdout)")
    }

    /// A project whose only image is built on `reference`.
    static func consumer(at path: String, base reference: String) throws {
        try Fixture.mkdir(path + "/images/web")
        try Fixture.write(path + "/images/web/index.html", "<p>hi</p>\n")
        try Fixture.write(path + "/images/web/stage.yaml", "from: {image: \"\(reference)\"}\nsteps:\n  - copy: index.html\n    to: /srv/www/\n")
    }

    @Test(.enabled(if: Host.canRun(tools: tools, root: true)))
    func aBasePulledByDigestOrTagRoundTripsAndIsPinned() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let push = try project.bake(["push", "base", "\(registry.host)/team/base", "--tag", "v1", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        let baseDigest = try #require(project.digests["base"])
        let baseLayers = try RegistryProject.layers(project.path, "base")

        let byDigest = project.dir.at("by-digest")
        try Self.consumer(at: byDigest, base: "\(registry.host)/team/base@\(baseDigest)")
        let built = try BakeCLI.run(["build", "--insecure-registry", registry.host], in: byDigest)
        #expect(built.status == 0, "\(built.stderr)")
        let layers = try RegistryProject.layers(byDigest, "web")
        #expect(Array(layers.prefix(baseLayers.count)) == baseLayers && layers.count == baseLayers.count + 1)
        let inspect = try Self.json(try BakeCLI.run(["inspect", "web", "--json"], in: byDigest).stdout)
        #expect((inspect["parent"] as? [String: Any])?["digest"] as? String == baseDigest)
        let same = try BakeCLI.run(["build", "--no-cache", "--insecure-registry", registry.host], in: byDigest)
        #expect(BakeCLI.digests(same.stdout) == BakeCLI.digests(built.stdout))
        // verify pulls the base again into its own store and rebuilds to the same bytes.
        let verify = try BakeCLI.run(["verify", "--insecure-registry", registry.host, "web"], in: byDigest)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")

        // A tag is resolved once and pinned in bake.lock; moving the tag does not move the build.
        let byTag = project.dir.at("by-tag")
        try Self.consumer(at: byTag, base: "\(registry.host)/team/base:v1")
        let first = try BakeCLI.run(["build", "--insecure-registry", registry.host], in: byTag)
        #expect(first.status == 0, "\(first.stderr)")
        let lock = try Self.json(try Fixture.read(byTag + "/bake.lock"))
        let upstream = ((lock["images"] as? [String: Any])?["web"] as? [String: Any])?["upstream"] as? [String: String]
        #expect(upstream?["image.digest"] == baseDigest)
        #expect(upstream?["image.reference"] == "\(registry.host)/team/base:v1")
        let moved = try project.bake(["push", "app", "\(registry.host)/team/base", "--tag", "v1", "--insecure"])
        #expect(moved.status == 0, "\(moved.stderr)")
        let again = try BakeCLI.run(["build", "--no-cache", "--insecure-registry", registry.host], in: byTag)
        #expect(BakeCLI.digests(again.stdout) == BakeCLI.digests(first.stdout))
        let outdated = try BakeCLI.run(["outdated", "--json", "--insecure-registry", registry.host], in: byTag)
        #expect(outdated.stdout.contains(try #require(project.digests["app"])), "\(outdated.stdout) \(outdated.stderr)")
        let update = try BakeCLI.run(["update", "--insecure-registry", registry.host], in: byTag)
        #expect(update.status == 0, "\(update.stderr)")
        let updated = try BakeCLI.run(["build", "--insecure-registry", registry.host], in: byTag)
        let appLayers = try RegistryProject.layers(project.path, "app")
        #expect(Array(try RegistryProject.layers(byTag, "web").prefix(appLayers.count)) == appLayers, "\(updated.stderr)")

        // With the registry gone, every step rebuilt: the pulled base comes from the store.
        registry.stop()
        let offline = try BakeCLI.run(["build", "--no-cache", "--insecure-registry", registry.host], in: byDigest)
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(BakeCLI.digests(offline.stdout) == BakeCLI.digests(built.stdout))
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aRegistryBaseTakesOneProbeAndOneTokenForAllItsRequests() throws {
        let registry = try TestRegistry()
        let proxy = try RegistryProxy(upstream: registry, faults: ["--bearer", "ci:token-pw"])
        let project = try Project()
        let push = try project.bake(["push", "app", "\(proxy.host)/team/app", "--tag", "v1", "--insecure", "--creds", "ci:token-pw"])
        #expect(push.status == 0, "\(push.stderr)")
        let blobs = try RegistryProject.layers(project.path, "app").count + 1
        proxy.clearLog()
        let consumer = project.dir.at("consumer")
        try Self.consumer(at: consumer, base: "\(proxy.host)/team/app:v1")
        let built = try BakeCLI.run(["build", "--insecure-registry", proxy.host], in: consumer,
                                    environment: ["BAKE_REGISTRY_USER": "ci", "BAKE_REGISTRY_PASSWORD": "token-pw"])
        #expect(built.status == 0, "\(built.stderr)")
        let requests = try proxy.requests()
        // The tag's manifest, then every blob: one client for the command, so one probe and
        // one token (pull of team/app), whatever the number of requests.
        #expect(requests.filter { $0.path == "/v2/" }.count == 1, "\(requests)")
        #expect(requests.filter { $0.path.hasPrefix("/token") }.count == 1, "\(requests)")
        #expect(requests.filter { $0.method == "GET" && $0.path.contains("/blobs/sha256:") && $0.status == "200" }.count == blobs, "\(requests)")
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aMultiPlatformIndexGivesTheImageOfTheHost() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let push = try project.bake(["push", "base", "\(registry.host)/team/base", "--tag", "v1", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        // app stands in for another platform's image (an index may only name manifests the
        // repository has).
        let pushApp = try project.bake(["push", "app", "\(registry.host)/team/base", "--tag", "other", "--insecure"])
        #expect(pushApp.status == 0, "\(pushApp.stderr)")
        let appDigest = try #require(project.digests["app"])
        let appSize = try Data(contentsOf: URL(fileURLWithPath: project.path + "/.bake/oci/blobs/sha256/" + appDigest.dropFirst(7))).count
        let baseDigest = try #require(project.digests["base"])
        let manifest = try Data(contentsOf: URL(fileURLWithPath: project.path + "/.bake/oci/blobs/sha256/" + baseDigest.dropFirst(7)))
        let architecture = try #require(try Self.json(try BakeCLI.run(["inspect", "base", "--json"], in: project.path).stdout)["config"]
            .flatMap { $0 as? [String: Any] }?["architecture"] as? String)
        // An index with another platform first, then the host's: the host's is taken.
        let other = architecture == "arm64" ? "amd64" : "arm64"
        let index = """
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\(appDigest)","size":\(appSize),"platform":{"architecture":"\(other)","os":"linux"}},\
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\(baseDigest)","size":\(manifest.count),"platform":{"architecture":"\(architecture)","os":"linux"}}]}
            """
        try Fixture.write(project.dir.at("index.json"), index)
        let put = try Command.run([
            "curl", "-sf", "-X", "PUT", "-H", "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary", "@" + project.dir.at("index.json"), "http://\(registry.host)/v2/team/base/manifests/multi",
        ])
        #expect(put.status == 0, "\(put.stderr)")
        let consumer = project.dir.at("consumer")
        try Self.consumer(at: consumer, base: "\(registry.host)/team/base:multi")
        let built = try BakeCLI.run(["build", "--insecure-registry", registry.host], in: consumer)
        #expect(built.status == 0, "\(built.stderr)")
        let baseLayers = try RegistryProject.layers(project.path, "base")
        #expect(Array(try RegistryProject.layers(consumer, "web").prefix(baseLayers.count)) == baseLayers)
        let lock = try Self.json(try Fixture.read(consumer + "/bake.lock"))
        let upstream = ((lock["images"] as? [String: Any])?["web"] as? [String: Any])?["upstream"] as? [String: String]
        #expect(upstream?["image.digest"] == "sha256:" + (try Command.run(["sha256sum", project.dir.at("index.json")]).stdout.prefix(64)))
    }

    @Test(.enabled(if: Host.canRun(tools: tools)))
    func aTamperedBlobIsRefusedAndNothingEntersTheStore() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let push = try project.bake(["push", "base", "\(registry.host)/team/base", "--insecure"])
        #expect(push.status == 0, "\(push.stderr)")
        let proxy = try RegistryProxy(upstream: registry, faults: ["--tamper-blobs"])
        let consumer = project.dir.at("consumer")
        try Self.consumer(at: consumer, base: "\(proxy.host)/team/base@\(try #require(project.digests["base"]))")
        let built = try BakeCLI.run(["build", "--insecure-registry", proxy.host], in: consumer)
        #expect(built.status == 1)
        #expect(built.stderr.contains("refusing") && built.stderr.contains(proxy.host), "\(built.stderr)")
        let inspect = try BakeCLI.run(["inspect", "web"], in: consumer)
        #expect(inspect.status == 2)
        for layer in try RegistryProject.layers(project.path, "base") {
            #expect(!FileManager.default.fileExists(atPath: consumer + "/.bake/oci/blobs/sha256/" + layer.dropFirst(7)))
        }
    }
}
