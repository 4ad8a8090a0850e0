import Foundation
import Testing
import OCI
import TestSupport
@testable import Layers

/// Our archives read by GNU tar and bsdtar, and theirs read by us.
@Suite struct TarInteropTests {
    static let environment = ["LC_ALL": "C.UTF-8", "TZ": "UTC", "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]

    /// GNU tar's `tar -tv --numeric-owner --full-time` line for an entry.
    static func gnuListing(_ entry: TarEntry) -> String {
        var size = String(entry.contentSize)
        var suffix = ""
        switch entry.kind {
        case .characterDevice(let major, let minor), .blockDevice(let major, let minor): size = "\(major),\(minor)"
        case .symlink(let target): suffix = " -> " + String(decoding: target, as: UTF8.self)
        case .hardlink(let target): suffix = " link to \(target)"
        default: break
        }
        let time = Timestamp.rfc3339(entry.mtime).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
        let name = entry.path.description + (entry.isDirectory ? "/" : "")
        return "\(modeString(entry)) \(entry.uid)/\(entry.gid) \(size) \(time) \(name)\(suffix)"
    }

    static func modeString(_ entry: TarEntry) -> String {
        let type: Character
        switch entry.kind {
        case .regular: type = "-"
        case .directory: type = "d"
        case .symlink: type = "l"
        case .hardlink: type = "h"
        case .characterDevice: type = "c"
        case .blockDevice: type = "b"
        case .fifo: type = "p"
        }
        let m = entry.mode
        func triple(_ shift: UInt32, special: UInt32, char: Character) -> String {
            let r = m & (4 << shift) != 0 ? "r" : "-"
            let w = m & (2 << shift) != 0 ? "w" : "-"
            let executable = m & (1 << shift) != 0
            let x: String
            if m & special != 0 { x = executable ? String(char) : String(char).uppercased() } else { x = executable ? "x" : "-" }
            return r + w + x
        }
        return String(type) + triple(6, special: 0o4000, char: "s") + triple(3, special: 0o2000, char: "s") + triple(0, special: 0o1000, char: "t")
    }

    @Test(.enabled(if: Host.canRun(tools: ["tar"])))
    func gnuTarListsOurArchiveAsOurReaderDoes() throws {
        let dir = TemporaryDirectory()
        let bytes = try TarTest.archive(TarRoundTripTests.edgeCases)
        try Fixture.write(dir.at("edge.tar"), bytes)
        let result = try Command.run(["tar", "--numeric-owner", "--full-time", "-tvf", dir.at("edge.tar")], environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        // GNU tar pads columns with spaces; compare with runs of spaces collapsed.
        let theirs = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        let ours = try TarTest.read(bytes).map { Self.gnuListing($0.entry) }
        #expect(theirs == ours)
    }

    @Test(.enabled(if: Host.canRun(tools: ["bsdtar"])))
    func bsdtarReadsOurArchiveAsOurReaderDoes() throws {
        let dir = TemporaryDirectory()
        let bytes = try TarTest.archive(TarRoundTripTests.edgeCases)
        try Fixture.write(dir.at("edge.tar"), bytes)
        let result = try Command.run(["bsdtar", "--numeric-owner", "-cf", "-", "--format=mtree",
                                      "--options", "mtree:!flags,!nlink,!uname,!gname,!time", "@" + dir.at("edge.tar")],
                                     environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        var theirs: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            let path = Self.unvis(String(fields[0])).dropFirst(2)  // "./"
            theirs[String(path)] = fields.dropFirst().sorted().joined(separator: " ")
        }
        var ours: [String: String] = [:]
        for item in try TarTest.read(bytes) {
            let entry = item.entry
            var fields = ["mode=\(String(entry.mode, radix: 8))", "uid=\(entry.uid)", "gid=\(entry.gid)"]
            switch entry.kind {
            case .regular(let size): fields += ["type=file", "size=\(size)"]
            case .hardlink: fields += ["type=file", "size=0"]  // mtree has no hard-link type
            case .directory: fields += ["type=dir"]
            case .symlink(let target): fields += ["type=link", "link=" + Self.vis(target)]
            case .characterDevice(let major, let minor): fields += ["type=char", "device=native,\(major),\(minor)"]
            case .blockDevice(let major, let minor): fields += ["type=block", "device=native,\(major),\(minor)"]
            case .fifo: fields += ["type=fifo"]
            }
            ours[Self.vis(entry.path.bytes)] = fields.sorted().joined(separator: " ")
        }
        #expect(theirs.mapValues { $0 } == ours.reduce(into: [:]) { $0[Self.unvis($1.key)] = $1.value })
    }

    /// mtree's vis(3) encoding: octal escapes for bytes outside printable ASCII and for space.
    static func vis(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            (byte > 0x20 && byte < 0x7f && byte != 0x5c) ? String(UnicodeScalar(byte)) : "\\" + String(byte, radix: 8).leftPadded(3)
        }.joined()
    }

    static func unvis(_ text: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(text.utf8)
        var index = 0
        while index < input.count {
            if input[index] == 0x5c, index + 3 < input.count + 0, let value = UInt8(String(decoding: input[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A folder with the things layers carry, for the other direction.
    static func makeTree(_ root: String) throws {
        try Fixture.write(root + "/plain.txt", "hello\n")
        try Fixture.write(root + "/exec.sh", "#!/bin/sh\n", mode: 0o755)
        try Fixture.write(root + "/setuid", "s", mode: 0o4755)
        try Fixture.mkdir(root + "/empty")
        try Fixture.mkdir(root + "/sticky", mode: 0o1777)
        try Fixture.write(root + "/" + String(repeating: "long-name-", count: 15), "long")
        try Fixture.write(root + "/" + String(repeating: "d/", count: 70) + "leaf", "deep")
        try Fixture.write(root + "/ünïcödé ✓.txt", "utf8")
        try Fixture.symlink("plain.txt", at: root + "/link")
        try Fixture.symlink(String(repeating: "x/", count: 70), at: root + "/long-link")
        try Fixture.hardlink(root + "/plain.txt", at: root + "/hard")
        try FileSystem.setExtendedAttribute(Array((root + "/plain.txt").utf8), name: "user.comment", value: Array("note".utf8))
        // A fixed owner and time, so the archives can be compared with what they were made from.
        _ = try Command.run(["chown", "-R", "-h", "1234:5678", root])
        _ = try Command.shell("find '\(root)' -exec touch -h -d @1000000000 {} +")
    }

    @Test(.enabled(if: Host.canRun(tools: ["tar", "bsdtar"], root: true)),
          arguments: ["gnu-pax", "gnu-gnu", "bsdtar-pax", "bsdtar-gnutar"])
    func weReadArchivesOthersWrite(_ flavour: String) throws {
        let dir = TemporaryDirectory()
        let tree = dir.at("tree")
        try Fixture.mkdir(tree)
        try Self.makeTree(tree)
        let archive = dir.at("a.tar")
        let command: [String]
        switch flavour {
        case "gnu-pax": command = ["tar", "--format=pax", "--xattrs", "--sort=name", "-cf", archive, "-C", tree, "."]
        case "gnu-gnu": command = ["tar", "--format=gnu", "--sort=name", "-cf", archive, "-C", tree, "."]
        case "bsdtar-pax": command = ["bsdtar", "--format=pax", "-cf", archive, "-C", tree, "."]
        default: command = ["bsdtar", "--format=gnutar", "-cf", archive, "-C", tree, "."]
        }
        let made = try Command.run(command, environment: Self.environment)
        #expect(made.status == 0, "\(made.stderr)")
        var seenHardlink = false
        var count = 0
        for item in try TarTest.readFile(archive) where !item.entry.path.isRoot {
            count += 1
            let host = tree + "/" + item.entry.path.description
            let status = try FileSystem.lstatPath(host)
            #expect(item.entry.mode == status.permissions, "\(item.entry.path)")
            #expect(item.entry.uid == 1234 && item.entry.gid == 5678, "\(item.entry.path)")
            #expect(item.entry.mtime == 1_000_000_000, "\(item.entry.path)")
            switch item.entry.kind {
            case .regular:
                #expect(status.kind == .regular)
                #expect(item.content == Array(try Data(contentsOf: URL(fileURLWithPath: host))))
            case .directory: #expect(status.kind == .directory)
            case .symlink(let target): #expect(target == (try FileSystem.readSymlink(Array(host.utf8))))
            case .hardlink(let target):
                seenHardlink = true
                #expect(try FileSystem.lstatPath(tree + "/" + target.description).inode == status.inode)
            default: Issue.record("unexpected entry \(item.entry.listing)")
            }
            if flavour.hasSuffix("pax"), item.entry.path.description == "plain.txt" || item.entry.path.description == "hard" {
                if case .regular = item.entry.kind { #expect(item.entry.xattrs["user.comment"] == Array("note".utf8)) }
            }
        }
        #expect(seenHardlink)
        let expected = try Command.shell("find . -mindepth 1 | wc -l", in: tree).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(String(count) == expected)
    }

    @Test(.enabled(if: Host.canRun(tools: ["tar"], root: true)))
    func gnuTarExtractsOurArchiveFaithfully() throws {
        let dir = TemporaryDirectory()
        let source = dir.at("tree")
        try Fixture.mkdir(source)
        try Self.makeTree(source)
        // Our layer of the tree, with everything the walker and writer add.
        let sink = ArraySink()
        let writer = TarWriter(sink: sink)
        var firstPath: [UInt64: RelativePath] = [:]
        try DirectoryWalker.walk(Array(source.utf8)) { file in
            var kind: TarEntry.Kind
            switch file.status.kind {
            case .directory: kind = .directory
            case .symlink: kind = .symlink(target: try FileSystem.readSymlink(file.hostPath))
            default:
                if let first = firstPath[file.status.inode] { kind = .hardlink(target: first) } else {
                    firstPath[file.status.inode] = file.path
                    kind = .regular(size: file.status.size)
                }
            }
            let entry = TarEntry(path: file.path, kind: kind, mode: file.status.permissions, uid: file.status.uid, gid: file.status.gid,
                                 mtime: file.status.modificationSeconds,
                                 xattrs: try FileSystem.extendedAttributes(file.hostPath))
            if case .regular = kind {
                try writer.append(entry, contentOf: OpenFile(bytes: file.hostPath, flags: O_RDONLY))
            } else {
                try writer.append(entry)
            }
        }
        try writer.finish()
        try Fixture.write(dir.at("ours.tar"), sink.bytes)
        try Fixture.mkdir(dir.at("out"))
        let result = try Command.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", dir.at("ours.tar"), "-C", dir.at("out")],
                                     environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let diff = try Command.shell("cd \(source) && find . -mindepth 1 -printf '%p %M %U:%G %s %T@ %l %n\\n' | sort > ../a && cd ../out && find . -mindepth 1 -printf '%p %M %U:%G %s %T@ %l %n\\n' | sort > ../b && diff ../a ../b")
        #expect(diff.status == 0, "\(diff.stdout)")
        let xattr = try FileSystem.extendedAttributes(Array(dir.at("out/plain.txt").utf8))
        #expect(xattr["user.comment"] == Array("note".utf8))
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
