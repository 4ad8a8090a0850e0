import Foundation
import Glibc
import TestSupport
@testable import Layers
@testable import Provisioners

/// A busybox root file system to run commands on.
enum Busybox {
    static let tools = ["sh", "ls", "echo", "cat", "id", "hostname", "rm", "ps", "sleep", "wget", "mkdir", "touch",
                        "mount", "chroot", "kill", "grep", "wc", "nc", "true", "false", "env", "pwd", "ln", "chmod",
                        "mknod", "awk", "head", "od"]

    /// A lower dir with /bin/busybox and its applets, /etc/passwd and /etc/group.
    static func lower(at path: String) throws {
        try BusyboxRoot.write(at: path, applets: tools)
    }

    static func machine(_ dir: TemporaryDirectory) throws -> OverlayMachine {
        try lower(at: dir.at("lower"))
        return try OverlayMachine(lowers: [dir.at("lower")], scratch: dir.at("machine"))
    }

    /// Runs a shell script; returns status and output lines.
    static func run(_ machine: Machine, _ script: String, network: Bool = false, secrets: [Secret] = [], user: UserIdentity = .root,
                    workdir: String = "/") throws -> (Int32, [String]) {
        let lines = Lines()
        let status = try machine.run(Command(arguments: ["/bin/sh", "-c", script], environment: ["PATH=/bin"], workingDirectory: workdir,
                                             user: user, network: network, secrets: secrets), output: .lines(lines.add))
        return (status, lines.all)
    }
}

final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

