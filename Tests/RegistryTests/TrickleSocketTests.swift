import Foundation
import Glibc
import Registry
import Testing

/// The small-answer deadline through the real transport and a real socket: a server that
/// trickles a manifest one byte every 300 ms (the transport's read timeout never fires) is
/// given up on when the deadline passes, and the request is cancelled, not left to finish.
@Suite struct TrickleSocketTests {
    static let server = #"""
        import socket, sys, threading, time
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        open(sys.argv[1], "w").write(str(listener.getsockname()[1]))
        def serve(connection):
            try:
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = connection.recv(4096)
                        if not chunk:
                            return
                        request += chunk
                        # Not HTTP (the TLS hello of bake's https attempt): hang up, as a
                        # plain-HTTP server does.
                        if not request[:1].isalpha():
                            connection.close()
                            return
                    path = request.split(b" ")[1]
                    if path == b"/v2/":
                        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                        continue
                    body = b"x" * 400
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 400\r\n\r\n")
                    sent = 0
                    try:
                        for byte in body:
                            connection.sendall(bytes([byte]))
                            sent += 1
                            time.sleep(0.3)
                    finally:
                        open(sys.argv[2], "w").write(str(sent))
            except OSError:
                pass
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()
        """#

    @Test func aManifestTrickledOverASocketEndsAtTheDeadline() async throws {
        let server = Self.server
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bake-trickle-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try server.write(toFile: folder + "/server.py", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", folder + "/server.py", folder + "/port", folder + "/sent"]
        try process.run()
        defer {
            // SIGKILL: the test runner may have SIGTERM blocked, and a child inherits that.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (try? String(contentsOfFile: folder + "/port", encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        let host = "127.0.0.1:\(try #require(port))"
        let client = RegistryClient(host: host, options: RegistryOptions(insecure: true, smallAnswerDeadline: .seconds(2)))
        let stalled = await #expect(throws: RegistryError.self) { try await client.manifest("team/app", reference: "v1") }
        await client.shutdown()
        #expect(stalled?.description == "the registry \(host) did not finish the fetch of manifest \(host)/team/app:v1 within 2 s",
                "\(String(describing: stalled))")
        // The request was cancelled, not read to its end: the server saw the connection close
        // before it had sent the whole manifest.
        var sent: Int?
        for _ in 0..<400 where sent == nil {
            sent = (try? String(contentsOfFile: folder + "/sent", encoding: .utf8)).flatMap { Int($0) }
            if sent == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(try #require(sent) < 400)
    }
}
