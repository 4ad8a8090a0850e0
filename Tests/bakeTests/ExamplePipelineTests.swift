import Foundation
import Glibc
import Testing
import TestSupport

/// The example pipeline of `images/` end to end, as a new user meets it: a hardened Debian
/// base, an nginx app-base and the app, built from nothing against the Debian mirror (once,
/// for the whole suite), then run and served, rebuilt elsewhere by `bake verify`, and
/// changed to see what rebuilds.
@Suite(.serialized, .enabled(if: Host.canRun(tools: ["mmdebstrap", "curl"], root: true), "needs root, mmdebstrap, curl and the Debian mirror"),
       ExampleBuild.Shared())
struct ExamplePipelineTests {
    /// Every step of the example, in build order (step 0 of base is its Debian layer).
    static let allSteps = ["base/0", "base/1", "base/2", "app-base/1", "app-base/2", "app-base/3", "app/1", "app/2", "app/3", "app/4"]

    static let url = "http://127.0.0.1:8080"

    @Test func builtFromNothingItRunsServesTheFingerprintedSiteAndStopsCleanly() throws {
        let example = try #require(ExampleBuild.current)
        // From nothing, every step ran (the checks of each image too: a failing one fails
        // the build), and each image has a digest.
        #expect(ExamplePipelineTests.allSteps.allSatisfy { example.steps[$0] == "built" }, "\(example.steps)")
        #expect(example.steps.count == ExamplePipelineTests.allSteps.count, "\(example.steps)")
        #expect(example.digests.keys.sorted() == ["app", "app-base", "base"])

        try #require(try HTTP.get(Self.url + "/healthz", timeout: 2) == nil, "something already serves on port 8080 of this machine; the example needs it")
        let server = try Server(["run", "app", "--env", "APP_API_URL=https://api.example.com"], in: example.project)
        defer { server.kill() }
        try server.waitUntilServing(Self.url + "/healthz")

        let health = try #require(try HTTP.get(Self.url + "/healthz"))
        #expect(health.status == 200)
        #expect(health.body == "ok\n")

        // The page refers to its assets by fingerprinted names, and each is served: the
        // bytes of images/app/site/assets, under a name with their sha256's first 16 digits.
        let page = try #require(try HTTP.get(Self.url + "/"))
        #expect(page.status == 200)
        #expect(page.header("Cache-Control") == "no-cache")
        let names = page.body.matches(of: /"(assets\/app\.([0-9a-f]{16})\.(css|js))"/).map { (path: String($0.1), hash: String($0.2), ext: String($0.3)) }
        #expect(names.map(\.ext).sorted() == ["css", "js"], "\(page.body)")
        #expect(!page.body.contains("\"assets/app.css\"") && !page.body.contains("\"assets/app.js\""))
        for name in names {
            let asset = try #require(try HTTP.get(Self.url + "/" + name.path))
            #expect(asset.status == 200, "\(name.path)")
            #expect(asset.header("Cache-Control") == "public, max-age=31536000, immutable")
            let source = example.project + "/images/app/site/assets/app." + name.ext
            #expect(asset.body == (try Fixture.read(source)))
            #expect(try Command.run(["sh", "-c", "sha256sum \"$1\" | cut -c1-16", "sh", source]).stdout == name.hash + "\n")
        }
        #expect(try HTTP.get(Self.url + "/assets/app.css")?.status == 404)

        // Version metadata: the file the app serves agrees with the image's label.
        let version = try #require(try HTTP.get(Self.url + "/version.json"))
        let built = try #require(try JSONSerialization.jsonObject(with: Data(version.body.utf8)) as? [String: Any])
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: example.project)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let labels = try #require(((report["config"] as? [String: Any])?["config"] as? [String: Any])?["Labels"] as? [String: String])
        #expect(labels["org.opencontainers.image.version"] != nil)
        #expect(built["version"] as? String == labels["org.opencontainers.image.version"])
        #expect((built["assets"] as? [String: String])?.values.sorted() == names.map(\.path).sorted())
        // The configuration boot wrote from the environment.
        let config = try #require(try HTTP.get(Self.url + "/config.json"))
        #expect(config.body == "{\"env\":\"production\",\"apiUrl\":\"https://api.example.com\"}\n")

        // Ctrl-C: the server stops, bake exits 130, nothing is left behind.
        let output = try server.interruptAndWait()
        #expect(output.status == 130, "\(output.stderr)")
        #expect(output.stderr.contains("boot: app 1.0.0, production, API https://api.example.com; serving on port 8080"), "\(output.stderr)")
        // Requests were logged to stdout (nginx as the app user, through bake's relay).
        #expect(output.stdout.contains("\"GET / HTTP/1.1\" 200"), "\(output.stdout)")
        #expect(try HTTP.get(Self.url + "/healthz", timeout: 2) == nil)
        #expect(HostState.processes(containing: "nginx: master process").isEmpty)
        #expect(HostState.mounts(under: example.project).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: example.project + "/.bake/runs").isEmpty)
    }

    @Test func bootRefusesToStartWithoutItsConfigurationNamingWhatIsMissing() throws {
        let example = try #require(ExampleBuild.current)
        let none = try BakeCLI.run(["run", "app"], in: example.project)
        #expect(none.status == 78)
        #expect(none.stderr.hasPrefix("boot: missing configuration: APP_API_URL "), "\(none.stderr)")
        let both = try BakeCLI.run(["run", "app", "--env", "APP_ENV="], in: example.project)
        #expect(both.stderr.hasPrefix("boot: missing configuration: APP_ENV APP_API_URL "), "\(both.stderr)")
        let bad = try BakeCLI.run(["run", "app", "--env", "APP_API_URL=ftp://example.com"], in: example.project)
        #expect(bad.status == 78)
        #expect(bad.stderr == "boot: APP_API_URL must be an http:// or https:// URL, not 'ftp://example.com'\n")
    }

    @Test func bakeVerifyRebuildsItElsewhereIntoTheSameBytes() throws {
        let example = try #require(ExampleBuild.current)
        let result = try BakeCLI.run(["--progress", "plain", "verify", "app"], in: example.project)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(4000))")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for name in ["base", "app-base", "app"] {
            let line = lines.first { $0.hasPrefix(name + " ") }
            #expect(line?.contains(example.digests[name] ?? "-") == true && line?.contains("reproduced") == true, "\(result.stdout)")
        }
    }

    @Test func aChangeToBaseRebuildsTheChainAndAChangeToTheSiteOnlyTheApp() throws {
        let example = try #require(ExampleBuild.current)
        // A copy of the built project and its store, so that the other tests keep theirs.
        let dir = TemporaryDirectory("bake-example-chain")
        let project = dir.at("p")
        try Fixture.copyTree(example.project, to: project)
        let statuses = { (steps: [String: String]) in
            (built: Self.allSteps.filter { steps[$0] == "built" }, cached: Self.allSteps.filter { steps[$0] == "cached" })
        }
        #expect(statuses(try BakeCLI.build(["app"], in: project)).cached == Self.allSteps)

        // A file of images/base (a new kernel default): base from that step on, then app-base
        // and app, all of them. The Debian layer itself stays cached (its pin did not move).
        try Fixture.write(project + "/images/base/rootfs/etc/sysctl.d/90-hardening.conf",
                          try Fixture.read(project + "/images/base/rootfs/etc/sysctl.d/90-hardening.conf") + "kernel.randomize_va_space = 2\n")
        let patched = try BakeCLI.run(["--progress", "json", "build", "app"], in: project)
        #expect(patched.status == 0, "\(patched.stderr.suffix(3000))")
        #expect(statuses(BakeCLI.steps(patched.stdout)).built == Array(Self.allSteps.dropFirst()))
        #expect(statuses(BakeCLI.steps(patched.stdout)).cached == ["base/0"])
        let afterPatch = BakeCLI.digests(try BakeCLI.run(["build", "app"], in: project).stdout)
        for name in ["base", "app-base", "app"] {
            #expect(afterPatch[name] != nil && afterPatch[name] != example.digests[name], "\(name)")
        }

        // A file of the site: only app's steps that copy and fingerprint it; the new asset
        // gets a new name in the page.
        let pageBefore = try BakeCLI.run(["run", "app", "--", "cat", "/srv/app/current/index.html"], in: project).stdout
        try Fixture.write(project + "/images/app/site/assets/app.css",
                          try Fixture.read(project + "/images/app/site/assets/app.css") + "footer { color: #5b6475; }\n")
        let changed = try BakeCLI.run(["--progress", "json", "build", "app"], in: project)
        #expect(changed.status == 0, "\(changed.stderr.suffix(3000))")
        #expect(statuses(BakeCLI.steps(changed.stdout)).built == ["app/3", "app/4"])
        let afterSite = BakeCLI.digests(try BakeCLI.run(["build", "app"], in: project).stdout)
        #expect(afterSite["base"] == afterPatch["base"] && afterSite["app-base"] == afterPatch["app-base"])
        #expect(afterSite["app"] != afterPatch["app"])
        let pageAfter = try BakeCLI.run(["run", "app", "--", "cat", "/srv/app/current/index.html"], in: project).stdout
        let css = /assets\/app\.[0-9a-f]{16}\.css/
        let cssBefore = try #require(pageBefore.firstMatch(of: css)).output
        let cssAfter = try #require(pageAfter.firstMatch(of: css)).output
        #expect(cssBefore != cssAfter)
        #expect(pageBefore.replacingOccurrences(of: cssBefore, with: cssAfter) == pageAfter)
    }

    @Test func aFreshCloneTakesTheWholeChainFromTheTeamsRegistryWithoutReachingTheDebianMirror() throws {
        let example = try #require(ExampleBuild.current)
        let registry = try TestRegistry()
        let cache = registry.host + "/team/cache"
        let dir = TemporaryDirectory("bake-example-remote")
        // The machine that built it (a copy, so the other tests keep theirs) writes the cache.
        let a = dir.at("a")
        try Fixture.copyTree(example.project, to: a)
        let written = try BakeCLI.run(["--progress", "json", "build", "app", "--insecure-registry", registry.host, "--cache-to", cache], in: a)
        #expect(written.status == 0, "\(written.stderr.suffix(3000))")
        #expect(BakeCLI.steps(written.stdout).values.allSatisfy { $0 == "cached" })

        // A fresh runner: a clone (images/ and the committed bake.lock), an empty store, and
        // no way to the Debian mirror (every HTTP proxy variable points at a closed port).
        let noMirror = ["http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"]
        func clone(_ name: String) throws -> String {
            let path = dir.at(name)
            try BakeCLI.exampleProject(at: path)
            try Fixture.write(path + "/bake.lock", try Fixture.read(a + "/bake.lock"))
            return path
        }
        let b = try clone("b")
        let read = try BakeCLI.run(["--progress", "json", "build", "app", "--insecure-registry", registry.host, "--cache-from", cache],
                                   in: b, environment: noMirror)
        #expect(read.status == 0, "\(read.stderr.suffix(3000))")
        let steps = BakeCLI.steps(read.stdout)
        #expect(Self.allSteps.allSatisfy { steps[$0] == "remote" }, "nothing ran: \(steps)")
        for event in BakeCLI.events(read.stdout) where event["event"] as? String == "image" {
            let name = event["image"] as? String ?? ""
            #expect(event["digest"] as? String == example.digests[name], "\(name)")
        }
        let inspected = try Command.run(["skopeo", "inspect", "oci:\(b)/.bake/oci:app"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        // Pushed to the team's registry: every layer is mounted from the cache, none sent.
        let pushed = try BakeCLI.run(["push", "app", registry.host + "/team/app", "--tag", "latest", "--insecure", "--json"], in: b)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(pushed.stdout.utf8)) as? [String: Any])
        let blobs = try #require(report["blobs"] as? [[String: Any]])
        #expect(blobs.filter { $0["result"] as? String == "uploaded" }.count == 1, "only the image config is sent: \(blobs)")

        // A change to the site on another fresh clone: app's steps from the changed one run,
        // everything else comes from the cache.
        let c = try clone("c")
        try Fixture.write(c + "/images/app/site/assets/app.css",
                          try Fixture.read(c + "/images/app/site/assets/app.css") + "footer { color: #5b6475; }\n")
        let changed = try BakeCLI.run(["--progress", "json", "build", "app", "--insecure-registry", registry.host, "--cache-from", cache],
                                      in: c, environment: noMirror)
        #expect(changed.status == 0, "\(changed.stderr.suffix(3000))")
        let changedSteps = BakeCLI.steps(changed.stdout)
        #expect(Self.allSteps.filter { changedSteps[$0] == "built" } == ["app/3", "app/4"], "\(changedSteps)")
        #expect(Self.allSteps.filter { changedSteps[$0] == "remote" } == Array(Self.allSteps.dropLast(2)), "\(changedSteps)")
    }
}

/// The example built from nothing, shared by the tests of a suite.
final class ExampleBuild: Sendable {
    let dir = TemporaryDirectory("bake-example")
    var project: String { dir.at("p") }
    /// "image/step" -> "built" or "cached".
    let steps: [String: String]
    let digests: [String: String]

    init() throws {
        try BakeCLI.exampleProject(at: dir.at("p"))
        let result = try BakeCLI.run(["--progress", "json", "build", "app"], in: dir.at("p"))
        guard result.status == 0 else { throw FixtureError("bake build app of the example failed: \(result.stderr.suffix(4000))") }
        steps = BakeCLI.steps(result.stdout)
        var digests: [String: String] = [:]
        for event in BakeCLI.events(result.stdout) where event["event"] as? String == "image" {
            if let image = event["image"] as? String, let digest = event["digest"] as? String { digests[image] = digest }
        }
        self.digests = digests
    }

    /// The build of the running suite.
    @TaskLocal static var current: ExampleBuild?

    /// Builds the example once, before the first test of the suite, and removes it after the last.
    struct Shared: SuiteTrait, TestScoping {
        func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
            let build = try ExampleBuild()
            try await ExampleBuild.$current.withValue(build) { try await function() }
        }
    }
}

/// `bake run` in the background, its output in files.
final class Server {
    let process = Process()
    let dir = TemporaryDirectory("bake-server")

    init(_ arguments: [String], in directory: String) throws {
        process.executableURL = URL(fileURLWithPath: BakeCLI.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = BakeCLI.baseEnvironment
        for name in ["out", "err"] { _ = FileManager.default.createFile(atPath: dir.at(name), contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.at("out")))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.at("err")))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Polls `url` until it answers 200 (60 s at most, and not once the server has exited).
    func waitUntilServing(_ url: String) throws {
        for _ in 0..<600 {
            if try HTTP.get(url, timeout: 1)?.status == 200 { return }
            guard process.isRunning else {
                throw FixtureError("bake run exited with \(process.terminationStatus): \((try? Fixture.read(dir.at("err"))) ?? "")")
            }
            usleep(100_000)
        }
        throw FixtureError("nothing answered \(url) within 60 s: \((try? Fixture.read(dir.at("err"))) ?? "")")
    }

    /// Sends SIGINT (Ctrl-C) and waits up to 30 s for bake to exit.
    func interruptAndWait() throws -> (status: Int32, stdout: String, stderr: String) {
        process.interrupt()
        for _ in 0..<300 where process.isRunning { usleep(100_000) }
        guard !process.isRunning else { throw FixtureError("bake run did not stop within 30 s of Ctrl-C") }
        return (process.terminationStatus, try Fixture.read(dir.at("out")), try Fixture.read(dir.at("err")))
    }

    /// Kills bake (and so its sandbox) if it still runs.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// GET with curl.
enum HTTP {
    struct Response {
        let status: Int
        let headers: [String]
        let body: String

        func header(_ name: String) -> String? {
            headers.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }.map {
                String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
    }

    /// The response, or nil when nothing answers.
    static func get(_ url: String, timeout: Int = 10) throws -> Response? {
        let result = try Command.run(["curl", "-s", "-i", "--max-time", String(timeout), url])
        guard result.status == 0, let split = result.stdout.range(of: "\r\n\r\n") else { return nil }
        let head = result.stdout[..<split.lowerBound].components(separatedBy: "\r\n")
        guard let status = head.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return Response(status: status, headers: Array(head.dropFirst()), body: String(result.stdout[split.upperBound...]))
    }
}
