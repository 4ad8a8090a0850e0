import Glibc
import Layers
import OCI

/// `copy: SOURCE` with `to:`, `mode:`, `owner:`: files of the image's folder into the image.
///
/// As Dockerfile COPY, made reproducible: the source's files with the modes git would record
/// (0755 when the owner may execute, else 0644; folders 0755), owner 0:0 unless `owner:`,
/// every mtime the build time. Folders that already exist below keep their metadata;
/// missing ones on the way to `to` are created 0755, owned by root. Symlinks are copied as
/// symlinks, hard links inside the source stay hard links. A folder source copies its
/// contents; a trailing `/` on `to` copies a file into that folder.
public struct CopyStep: Provisioner, Hashable {
    public static let kind = "copy"

    /// Source path relative to the image folder, as written.
    public var source: String
    /// Absolute destination in the image, as written (a trailing `/` matters).
    public var to: String
    /// Mode for every copied file, when given.
    public var mode: UInt32?
    /// Owner of everything copied, when given (default 0:0).
    public var owner: UserSpec?

    public init(source: String, to: String, mode: UInt32? = nil, owner: UserSpec? = nil) {
        self.source = source
        self.to = to
        self.mode = mode
        self.owner = owner
    }

    public var summary: String {
        var text = "copy \(source) \(to)"
        if let mode { text += " mode=" + Octal.mode(mode) }
        if let owner { text += " owner=\(owner)" }
        return text
    }

    public var spec: StepSpec {
        let normalisedSource = (try? RelativePath(source))?.description ?? source
        let normalisedTo = (try? RelativePath(to, allowAbsolute: true))?.absoluteDescription ?? to
        var arguments = [
            "source": normalisedSource.isEmpty ? "." : normalisedSource,
            // A trailing '/' decides where a file goes, so it is part of the meaning.
            "to": normalisedTo + (to.hasSuffix("/") && normalisedTo != "/" ? "/" : ""),
        ]
        if let mode { arguments["mode"] = Octal.mode(mode) }
        if let owner {
            arguments["owner"] = owner.description
            // A lone uid takes its group from the image's passwd (ImageUsers.resolve); before
            // that rule it was the uid itself: a cached layer of the old rule must not be used.
            if owner.group == nil, case .id = owner.user { arguments["ownerGroup"] = "passwd" }
        }
        return StepSpec(kind: Self.kind, arguments: arguments)
    }

    public func inputs(_ context: InputContext) throws -> StepInputs? {
        guard let host = FileSystem.realPath(context.buildContext.path + "/" + source) else {
            throw InputError("copy source '\(source)' does not exist in \(context.buildContext.name)")
        }
        return StepInputs(listing: try context.hasher.listing(of: host, remember: context.remember), source: source)
    }

    public func apply(_ context: StepContext) throws -> StepOutcome {
        let owner = try context.users.owner(self.owner)
        return try CopyWriter(step: self, buildContext: context.buildContext, epoch: context.epoch, uid: owner.uid, gid: owner.gid)
            .write(into: context.layer, below: context.below.tree)
    }
}
