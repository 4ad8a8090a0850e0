import Foundation
import TestSupport

/// A real registry for tests: Debian's docker-registry (distribution) on 127.0.0.1, with
/// optional htpasswd auth and TLS (a self-signed certificate), stopped when released.
final class TestRegistry: @unchecked Sendable {
    let dir = TemporaryDirectory("bake-registry")
    private var process: Process?
    private(set) var port = 0
    /// A header only this registry sends, so a probe cannot mistake another test's registry
    /// (which took the port meanwhile) for this one.
    private let marker = UUID().uuidString
    /// `127.0.0.1:PORT`.
    var host: String { "127.0.0.1:\(port)" }
    /// The self-signed certificate, when started with TLS.
    var certificate: String { dir.at("cert.pem") }

    init(user: String? = nil, password: String? = nil, tls: Bool = false) throws {
        var auth = ""
        if let user, let password {
            let made = try Command.run(["htpasswd", "-Bbc", dir.at("htpasswd"), user, password])
            guard made.status == 0 else { throw FixtureError("htpasswd failed: \(made.stderr)") }
            auth = "auth:\n  htpasswd:\n    realm: bake-test\n    path: \(dir.at("htpasswd"))\n"
        }
        var tlsConfig = ""
        if tls {
            let made = try Command.run([
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir.at("key.pem"), "-out", dir.at("cert.pem"),
            ])
            guard made.status == 0 else { throw FixtureError("openssl failed: \(made.stderr)") }
            tlsConfig = "  tls:\n    certificate: \(dir.at("cert.pem"))\n    key: \(dir.at("key.pem"))\n"
        }
        // A free port: asked of the kernel, then given to the registry (retried if taken meanwhile).
        for _ in 0..<5 {
            port = try Self.freePort()
            let config = """
                version: 0.1
                log:
                  level: error
                storage:
                  filesystem:
                    rootdirectory: \(dir.at("data"))
                  delete:
                    enabled: true
                \(auth)http:
                  addr: 127.0.0.1:\(port)
                  headers:
                    X-Bake-Test: [\(marker)]
                \(tlsConfig)
                """
            try Fixture.write(dir.at("config.yml"), config)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["docker-registry", "serve", dir.at("config.yml")]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: Self.touch(dir.at("log"))))
            process.standardError = process.standardOutput
            try process.run()
            self.process = process
            if try waitUntilServing(tls: tls) { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        throw FixtureError("docker-registry did not start: \((try? Fixture.read(dir.at("log"))) ?? "")")
    }

    deinit { stop() }

    /// Stops the registry (a test of what works without it).
    func stop() {
        if let process {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        process = nil
    }

    private func waitUntilServing(tls: Bool) throws -> Bool {
        for _ in 0..<100 {
            guard process?.isRunning == true else { return false }
            let probe = try Command.run(["curl", "-sk", "--max-time", "2", "-o", "/dev/null", "-D", "-", "\(tls ? "https" : "http")://\(host)/v2/"])
            if probe.stdout.contains(marker) { return true }
            usleep(50_000)
        }
        return false
    }

    static func touch(_ path: String) -> String {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return path
    }

    static func freePort() throws -> Int {
        let result = try Command.run(["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
        guard let port = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw FixtureError("no free port: \(result.stderr)") }
        return port
    }

    /// `skopeo inspect` of a reference on this registry (JSON).
    func inspect(_ repositoryAndTag: String) throws -> [String: Any] {
        let result = try Command.run(["skopeo", "inspect", "--tls-verify=false", "docker://\(host)/\(repositoryAndTag)"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw FixtureError("skopeo inspect \(repositoryAndTag) failed: \(result.stderr)")
        }
        return object
    }
}

/// The fault-injecting loopback proxy of Fixtures/registry_proxy.py in front of a registry.
final class RegistryProxy: @unchecked Sendable {
    let dir = TemporaryDirectory("bake-proxy")
    /// Kept alive as long as the proxy forwards to it.
    let upstream: TestRegistry
    private let process = Process()
    let port: Int
    var host: String { "127.0.0.1:\(port)" }

    init(upstream: TestRegistry, faults: [String] = []) throws {
        self.upstream = upstream
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/registry_proxy.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, dir.at("port"), dir.at("log"), String(upstream.port)] + faults
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: TestRegistry.touch(dir.at("out"))))
        process.standardError = process.standardOutput
        try process.run()
        for _ in 0..<200 {
            if let text = try? Fixture.read(dir.at("port")), let port = Int(text) {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            usleep(25_000)
        }
        throw FixtureError("the registry proxy did not start: \((try? Fixture.read(dir.at("out"))) ?? "")")
    }

    deinit {
        // SIGKILL: the test runner may have SIGTERM blocked, and a child inherits that.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Every request the proxy saw, in order: (method, path, status).
    func requests() throws -> [(method: String, path: String, status: String)] {
        guard let text = try? Fixture.read(dir.at("log")) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let method = object["method"] as? String, let path = object["path"] as? String
            else { return nil }
            return (method, path, "\(object["status"] ?? "")")
        }
    }

    /// The body bytes the proxy sent back to GETs of blobs (what a client downloaded).
    func blobBytesSent() -> Int {
        guard let text = try? Fixture.read(dir.at("log")) else { return 0 }
        return text.split(separator: "\n").reduce(0) { total, line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["method"] as? String == "GET", (object["path"] as? String)?.contains("/blobs/") == true
            else { return total }
            return total + ((object["bytes"] as? Int) ?? 0)
        }
    }

    /// Forgets the requests seen so far.
    func clearLog() { try? FileManager.default.removeItem(atPath: dir.at("log")) }
}

/// A small scratch pipeline for registry tests: base (a folder, optionally a large random
/// file) -> app (one more file). Nothing needs the network or root to build it.
enum RegistryProject {
    static func make(at path: String, largeFile: Int = 0, appText: String = "hello\n") throws {
        try Fixture.mkdir(path + "/images/base/files/etc")
        try Fixture.write(path + "/images/base/files/etc/motd", "base image\n")
        var base = "from: scratch\nsteps:\n  - copy: files/\n    to: /\n"
        if largeFile > 0 {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<largeFile).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Fixture.write(path + "/images/base/large.bin", bytes)
            base += "  - copy: large.bin\n    to: /srv/large.bin\n"
        }
        try Fixture.write(path + "/images/base/stage.yaml", base)
        try Fixture.mkdir(path + "/images/app")
        try Fixture.write(path + "/images/app/app.txt", appText)
        try Fixture.write(path + "/images/app/stage.yaml", "from: base\nsteps:\n  - copy: app.txt\n    to: /srv/app.txt\nconfig:\n  cmd: [/bin/true]\n")
    }

    /// Builds `images` and returns their manifest digests.
    static func build(_ path: String, _ images: [String] = ["app"], environment: [String: String] = [:]) throws -> [String: String] {
        let result = try BakeCLI.run(["build"] + images, in: path, environment: environment)
        guard result.status == 0 else { throw FixtureError("bake build failed: \(result.stderr)") }
        return BakeCLI.digests(result.stdout)
    }

    /// Layer digests of a built image, from `bake inspect --json`.
    static func layers(_ path: String, _ image: String) throws -> [String] {
        let result = try BakeCLI.run(["inspect", image, "--json"], in: path)
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let layers = object["layers"] as? [[String: Any]]
        else { throw FixtureError("bake inspect \(image) failed: \(result.stderr)") }
        return layers.compactMap { $0["digest"] as? String }
    }
}
