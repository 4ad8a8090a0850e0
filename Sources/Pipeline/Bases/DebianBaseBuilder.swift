import Glibc
import Layers
import OCI
import Provisioners

/// `from: {debian: {suite, variant, packages, mirror}}`: a Debian root made by mmdebstrap
/// with SOURCE_DATE_EPOCH, as the image's first layer. The suite's InRelease file is the
/// upstream pin: its sha256 is in the layer's cache key and the build record, and its Date
/// is the build time when SOURCE_DATE_EPOCH is not set. The same pin and time give the
/// same bytes.
struct DebianBaseBuilder {
    let store: ContentStore
    let evaluator: StepEvaluator
    let reporter: BuildReporter

    static let defaultMirror = "http://deb.debian.org/debian"

    /// The pinned release: its file's digest and date.
    struct Release {
        let url: String
        let digest: Digest
        let date: Int64
    }

    func resolve(
        _ debian: DebianBase, stage: Stage, sourceDateEpoch: Int64?, noCache: Bool, build: Bool, threads: Int,
        pins: [String: String]?
    ) throws -> (ImageBase, BaseLayer?, [String: String])? {
        let mirror = debian.mirror ?? Self.defaultMirror
        // The release bake.lock pins, if it pins this suite of this mirror: a cached base
        // then needs no network at all. Otherwise the mirror's current release.
        let pinned = Self.pinned(pins, mirror: mirror, suite: debian.suite)
        let release = try pinned ?? Self.fetchRelease(mirror: mirror, suite: debian.suite, location: stage.baseLocation)
        let epoch = sourceDateEpoch ?? release.date
        let spec = StepSpec(kind: "debian", arguments: [
            "suite": debian.suite, "variant": debian.variant, "packages": debian.packages.joined(separator: ","),
            "mirror": mirror, "release": release.digest.description,
        ])
        let key = try CacheKey(parent: CacheKey.scratch, spec: spec, inputs: nil, secrets: [], network: true, epoch: epoch)
        let summary = "debian \(debian.suite) \(debian.variant)" + (debian.packages.isEmpty ? "" : " +" + debian.packages.joined(separator: ","))
            + " from \(mirror) (InRelease \(release.digest))"
        let upstream = Self.pins(release, mirror: mirror, suite: debian.suite)
        let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if !noCache, case .success(let hit) = evaluator.cache.lookup(key.digest, repair: build) {
            let base = BaseLayer(key: key, layer: hit.layer, history: hit.history, cached: true, reason: nil)
            return (ExternalBases.oneLayer(base, epoch: epoch, environment: environment), base, upstream)
        }
        guard build else { return nil }
        if let pinned {
            // Building again needs the pinned release to still be the mirror's.
            let current = try Self.fetchRelease(mirror: mirror, suite: debian.suite, location: stage.baseLocation)
            guard current.digest == pinned.digest else {
                throw PipelineError.failed(
                    "\(stage.baseLocation): bake.lock pins Debian \(debian.suite) at InRelease \(pinned.digest) (\(Timestamp.rfc3339(pinned.date))), "
                        + "but \(mirror) now serves \(current.digest) (\(Timestamp.rfc3339(current.date))) and the pinned release cannot be fetched again; "
                        + "run 'bake update \(stage.name)' to move the pin (\(stage.name) and the images built on it are rebuilt)")
            }
        }
        guard let mmdebstrap = HostTool.path("mmdebstrap") else {
            throw ProvisionersError.missingTool(tool: "mmdebstrap (needed for 'from: {debian: ...}')", package: "mmdebstrap")
        }
        reporter.report(.stepStarted(image: stage.name, step: 0, of: stage.steps.count, summary: "from " + summary,
                                     reason: noCache ? "--no-cache" : "not in the cache"))
        let work = try ExternalBases.workFolder(store, "debian")
        defer { try? FileSystem.removeTree(work) }
        let root = work + "/root"
        let lists = work + "/lists"
        var arguments = [mmdebstrap, "--mode=root", "--format=directory", "--variant=\(debian.variant)",
                         // The lists apt used, to check they are the release that was pinned.
                         "--customize-hook=sync-out /var/lib/apt/lists \(lists)"]
        if !debian.packages.isEmpty { arguments.append("--include=" + debian.packages.joined(separator: ",")) }
        arguments += [debian.suite, root, mirror]
        try FileSystem.createDirectory(lists)
        let reporter = self.reporter
        let (status, output) = try HostTool.run(arguments, environment: ["SOURCE_DATE_EPOCH": String(epoch), "LC_ALL": "C.UTF-8", "TZ": "UTC"]) { line in
            reporter.report(.output(image: stage.name, label: "debian", line: line))
        }
        guard status == 0 else {
            throw ProvisionersError.toolFailed(tool: "mmdebstrap", status: status, output: String(decoding: output, as: UTF8.self))
        }
        let used = try FileSystem.directoryEntries(Array(lists.utf8)).map(FileSystem.text).filter { $0.hasSuffix("_InRelease") }
        let usedDigests = try used.map { Digest.sha256(try FileSystem.readFile(lists + "/" + $0, limit: 64 << 20)) }
        guard usedDigests.contains(release.digest) else {
            throw PipelineError.failed(
                "\(stage.baseLocation): the Debian mirror published a new release of \(debian.suite) during the build; build again")
        }
        try Self.removeHostFiles(root: root)
        try Normaliser.apply(toUpper: root, epoch: epoch)
        let layer = try ExternalBases.captureFolder(root, store: store, epoch: epoch, threads: threads)
        try evaluator.cache.record(key: key.digest, layer: layer, history: summary)
        let base = BaseLayer(key: key, layer: layer, history: summary, cached: false, reason: noCache ? "--no-cache" : "not in the cache")
        return (ExternalBases.oneLayer(base, epoch: epoch, environment: environment), base, upstream)
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
    static func fetchRelease(mirror: String, suite: String, location: SourceLocation) throws -> Release {
        let url = releaseURL(mirror: mirror, suite: suite)
        guard let curl = HostTool.path("curl") else {
            throw ProvisionersError.missingTool(tool: "curl (needed to read the Debian release file)", package: "curl")
        }
        let (status, output) = try HostTool.run([curl, "-fsSL", "--retry", "3", "--max-time", "120", url])
        guard status == 0 else {
            throw PipelineError.failed("\(location): cannot read the Debian release file \(url): \(String(decoding: output, as: UTF8.self).trimmingCharacters(in: "\n"))")
        }
        guard let date = parseDate(output) else {
            throw PipelineError.failed("\(location): the Debian release file \(url) has no Date field bake understands")
        }
        return Release(url: url, digest: Digest.sha256(output), date: date)
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
