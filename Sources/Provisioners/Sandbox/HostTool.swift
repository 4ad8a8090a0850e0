import Glibc
import Layers

/// A program of the host bake runs (mmdebstrap, curl, git, diffoscope), with its output
/// captured.
public enum HostTool {
    /// What a tool did.
    public struct Result: Sendable {
        /// Its exit code (0-255, or 128 + the signal that ended it).
        public var status: Int32
        /// Its stdout and stderr, as it wrote them.
        public var output: [UInt8]

        /// The output as text, without trailing newlines and spaces.
        public var text: String {
            String(decoding: output, as: UTF8.self).droppingTrailing(" \n")
        }
    }

    /// The tool's path on bake's PATH (and the sbin folders), or nil when it is not installed.
    public static func path(_ name: String) -> String? {
        let search = (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for folder in search.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The only variables of bake's environment a host tool sees: where home and scratch
    /// space are, and how to reach the network (a proxy, a private CA). Anything else (an
    /// `LD_PRELOAD`, a `PYTHONPATH`, `DEBIAN_FRONTEND`...) could change what mmdebstrap and
    /// apt put in a base, so it never reaches them.
    public static let passedThrough = [
        "HOME", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
    ]

    /// Runs `arguments` with a clean environment (a fixed PATH, `passedThrough` from bake's,
    /// then `environment`); each output line also goes to `line`. The program runs with the
    /// default personality, as bake resets its own (`HostPersonality`).
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], line: ((String) -> Void)? = nil
    ) throws -> Result {
        let pipe = try HostProcess.pipe(for: arguments[0])
        var merged = ["PATH": SandboxEnvironment.defaultPath]
        for name in passedThrough {
            if let value = getenv(name) { merged[name] = String(cString: value) }
        }
        for (key, value) in environment { merged[key] = value }
        let pid: pid_t
        do {
            pid = try HostProcess.spawn(arguments, environment: merged.map { "\($0.key)=\($0.value)" }.sorted(), output: pipe[1])
        } catch {
            close(pipe[0])
            close(pipe[1])
            throw error
        }
        close(pipe[1])
        var output: [UInt8] = []
        var pending: [UInt8] = []
        HostProcess.readChunks(pipe[0]) { chunk in
            // The bytes exactly as written (curl's output is a release file that is hashed).
            output.append(contentsOf: chunk)
            guard let line else { return }
            pending.append(contentsOf: chunk)
            while let newline = pending.firstIndex(of: 0x0a) {
                line(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        close(pipe[0])
        let status = try HostProcess.wait(pid, what: arguments[0])
        return Result(status: status.code, output: output)
    }
}

extension String {
    /// The string without the trailing characters that are in `characters`.
    public func droppingTrailing(_ characters: String) -> String {
        var result = Substring(self)
        while let last = result.last, characters.contains(last) { result.removeLast() }
        return String(result)
    }
}
