import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP server on the host's 127.0.0.1 answering every connection with "pong".
public final class PongServer: @unchecked Sendable {
    public let port: UInt16
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw FixtureError("cannot listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = UInt16(bigEndian: address.sin_port)
        let server = fd
        Thread.detachNewThread {
            while true {
                let client = accept(server, nil, nil)
                if client < 0 { return }
                let reply = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\npong\n"
                _ = reply.withCString { write(client, $0, strlen($0)) }
                close(client)
            }
        }
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

public enum HostState {
    /// Mount points of this process's namespace under `path`.
    public static func mounts(under path: String) -> [String] {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0.contains(path) }.map(String.init)
    }

    /// Processes whose command line contains `text`.
    public static func processes(containing text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(text) && !command.contains("bakePackageTests") && !command.contains("swift-testing") ? "\(pid): \(command)" : nil
        }
    }
}

/// A busybox-static root file system for tests that run commands.
public enum BusyboxRoot {
    /// Writes /bin/busybox (copied from the host's busybox-static), a symlink per applet, and
    /// /etc/passwd and /etc/group with root and `web` (33:33, group `www`).
    public static func write(at path: String, applets: [String]) throws {
        try Fixture.mkdir(path + "/bin")
        let copy = try Command.run(["cp", "/bin/busybox", path + "/bin/busybox"])
        guard copy.status == 0 else { throw FixtureError("cp busybox: \(copy.stderr)") }
        for applet in applets { try Fixture.symlink("busybox", at: path + "/bin/\(applet)") }
        try Fixture.write(path + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/srv:/bin/sh\n")
        try Fixture.write(path + "/etc/group", "root:x:0:\nwww:x:33:\n")
    }
}
