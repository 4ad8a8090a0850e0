import Glibc
import Layers
import OCI

/// `from: {debian: {suite, variant, packages, mirror}}`: a Debian root made by mmdebstrap
/// with SOURCE_DATE_EPOCH, as the image's first layer. The suite's InRelease file is the
/// upstream pin: its sha256 is in the layer's cache key and the build record, and its Date
/// is the build time when SOURCE_DATE_EPOCH is not set. The same pin and time give the
/// same bytes.
public struct DebianBase: BaseSource, Hashable {
    public static let kind = "debian"

    public var suite: String
    public var variant: String
    public var packages: [String]
    public var mirror: String?

    public init(suite: String, variant: String = "minbase", packages: [String] = [], mirror: String? = nil) {
        self.suite = suite
        self.variant = variant
        self.packages = packages
        self.mirror = mirror
    }

    public var description: String { "debian \(suite) (\(variant))" }

    static let defaultMirror = "http://deb.debian.org/debian"

    /// The mirror packages come from.
    var mirrorURL: String { mirror ?? Self.defaultMirror }

    /// The pinned release: its file's digest and date.
    struct Release {
        let url: String
        let digest: Digest
        let date: Int64
    }

    public var upstream: String? { "debian \(suite) from \(mirrorURL)" }

    /// The release bake.lock pins, if it pins this suite of this mirror: a cached base then
    /// needs no network at all.
    public func pinned(_ pins: [String: String]?) -> BasePin? {
        Self.pinned(pins, mirror: mirrorURL, suite: suite).map { BasePin(Self.pins($0, mirror: mirrorURL, suite: suite)) }
    }

    /// The mirror's current release.
    public func current(_ context: BaseContext) throws -> BasePin {
        BasePin(Self.pins(try Self.fetchRelease(mirror: mirrorURL, suite: suite), mirror: mirrorURL, suite: suite))
    }

    public func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport {
        guard let release = Self.pinned(pin.values, mirror: mirrorURL, suite: suite) else {
            throw ProvisionersError.baseFailed("the pin of Debian \(suite) is incomplete: \(pin.values)")
        }
        // Pinned by bake.lock (not just now): building again needs it to still be the mirror's.
        let lockPinned = Self.pinned(context.pins, mirror: mirrorURL, suite: suite)?.digest == release.digest
        let epoch = context.sourceDateEpoch ?? release.date
        let spec = StepSpec(kind: "debian", arguments: [
            "suite": suite, "variant": variant, "packages": packages.joined(separator: ","),
            "mirror": mirrorURL, "release": release.digest.description,
        ])
        let summary = "debian \(suite) \(variant)" + (packages.isEmpty ? "" : " +" + packages.joined(separator: ","))
            + " from \(mirrorURL) (InRelease \(release.digest))"
        let base = self
        let image = context.image
        return .layer(BaseLayerRecipe(
            spec: spec, inputs: nil, network: true, epoch: epoch, summary: summary,
            environment: ["PATH=" + SandboxEnvironment.defaultPath]
        ) { layer in
            try base.make(release: release, checkPin: lockPinned, epoch: epoch, image: image, layer)
        })
    }

    /// Runs mmdebstrap and writes the root it made as the layer.
    func make(release: Release, checkPin: Bool, epoch: Int64, image: String, _ context: BaseLayerContext) throws {
        if checkPin {
            let current = try Self.fetchRelease(mirror: mirrorURL, suite: suite)
            guard current.digest == release.digest else {
                throw ProvisionersError.baseFailed(
                    "bake.lock pins Debian \(suite) at InRelease \(release.digest) (\(Timestamp.rfc3339(release.date))), "
                        + "but \(mirrorURL) now serves \(current.digest) (\(Timestamp.rfc3339(current.date))) and the pinned release cannot be fetched again; "
                        + "run 'bake update \(image)' to move the pin (\(image) and the images built on it are rebuilt)")
            }
        }
        guard let mmdebstrap = HostTool.path("mmdebstrap") else {
            throw ProvisionersError.missingTool(tool: "mmdebstrap (needed for 'from: {debian: ...}')", package: "mmdebstrap")
        }
        let work = try context.workFolder("debian")
        defer { try? FileSystem.removeTree(work) }
        let root = work + "/root"
        let lists = work + "/lists"
        var arguments = [mmdebstrap, "--mode=root", "--format=directory", "--variant=\(variant)",
                         // The lists apt used, to check they are the release that was pinned.
                         "--customize-hook=sync-out /var/lib/apt/lists \(lists)"]
        if !packages.isEmpty { arguments.append("--include=" + packages.joined(separator: ",")) }
        arguments += [suite, root, mirrorURL]
        try FileSystem.createDirectory(lists)
        let result = try HostTool.run(arguments, environment: ["SOURCE_DATE_EPOCH": String(epoch), "LC_ALL": "C.UTF-8", "TZ": "UTC"],
                                      line: context.output)
        guard result.status == 0 else {
            throw ProvisionersError.toolFailed(tool: "mmdebstrap", status: result.status, output: String(decoding: result.output, as: UTF8.self))
        }
        let used = try FileSystem.directoryEntries(Array(lists.utf8)).map(FileSystem.text).filter { $0.hasSuffix("_InRelease") }
        let usedDigests = try used.map { Digest.sha256(try FileSystem.readFile(lists + "/" + $0, limit: 64 << 20)) }
        guard usedDigests.contains(release.digest) else {
            throw ProvisionersError.baseFailed("the Debian mirror published a new release of \(suite) during the build; build again")
        }
        try Self.removeHostFiles(root: root)
        try Normaliser.apply(toUpper: root, epoch: epoch)
        try context.capture(root, epoch: epoch)
    }

    /// Files mmdebstrap copies from the host into the root, as debootstrap does (its manual,
    /// "SOURCE_DATE_EPOCH"): the name and the name servers of the machine that built the base.
    /// Kept, they make the base differ from one build machine to the next and tell every image
    /// where it was built; a runtime gives a container its own (bake's sandbox binds the host's
    /// resolv.conf for a step with network, Docker and podman bind all three of /etc/hosts,
    /// hostname and resolv.conf).
    static let hostFiles = ["etc/hostname", "etc/resolv.conf"]

    /// Removes `hostFiles` from a root mmdebstrap made.
    static func removeHostFiles(root: String) throws {
        for path in hostFiles { try FileSystem.removeTree(root + "/" + path) }
    }

    /// The lock's pins of a release.
    static func pins(_ release: Release, mirror: String, suite: String) -> [String: String] {
        ["debian.suite": suite, "debian.mirror": mirror, "debian.release": release.digest.description,
         "debian.date": Timestamp.rfc3339(release.date)]
    }

    /// The release `pins` hold for this mirror and suite, if any.
    static func pinned(_ pins: [String: String]?, mirror: String, suite: String) -> Release? {
        guard let pins, pins["debian.mirror"] == mirror, pins["debian.suite"] == suite,
              let digest = pins["debian.release"].flatMap({ try? Digest(parsing: $0) }),
              let date = pins["debian.date"].flatMap(Timestamp.parseRFC3339) else { return nil }
        return Release(url: releaseURL(mirror: mirror, suite: suite), digest: digest, date: date)
    }

    static func releaseURL(mirror: String, suite: String) -> String {
        mirror.hasSuffix("/") ? "\(mirror)dists/\(suite)/InRelease" : "\(mirror)/dists/\(suite)/InRelease"
    }

    /// Downloads `MIRROR/dists/SUITE/InRelease`.
    static func fetchRelease(mirror: String, suite: String) throws -> Release {
        let url = releaseURL(mirror: mirror, suite: suite)
        guard let curl = HostTool.path("curl") else {
            throw ProvisionersError.missingTool(tool: "curl (needed to read the Debian release file)", package: "curl")
        }
        let result = try HostTool.run([curl, "-fsSL", "--retry", "3", "--max-time", "120", url])
        guard result.status == 0 else {
            throw ProvisionersError.baseFailed("cannot read the Debian release file \(url): \(result.text)")
        }
        guard let date = parseDate(result.output) else {
            throw ProvisionersError.baseFailed("the Debian release file \(url) has no Date field bake understands")
        }
        return Release(url: url, digest: Digest.sha256(result.output), date: date)
    }

    /// The `Date:` field of a Release file (RFC 2822, e.g. "Sat, 10 Jun 2023 08:52:55 UTC").
    static func parseDate(_ release: [UInt8]) -> Int64? {
        let text = String(decoding: release.prefix(8192), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Date:") }) else { return nil }
        let fields = line.dropFirst(5).split(separator: " ").map(String.init)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count >= 5, let day = Int(fields[1]), let month = months.firstIndex(of: fields[2]), let year = Int(fields[3]) else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return Timestamp.parseRFC3339("\(pad(year, 4))-\(pad(month + 1, 2))-\(pad(day, 2))T\(pad(clock[0], 2)):\(pad(clock[1], 2)):\(pad(clock[2], 2))Z")
    }
}
