import Glibc
import Synchronization

/// What a command wrote to the store while it ran, so that it can be undone: a build that
/// stops for bad input (exit 2) leaves the store exactly as it found it (DESIGN.md: "exit 2,
/// and no change to the store"), layers of the steps before the refused one included.
///
/// The store records into it as it writes: a file about to be replaced is hard-linked into
/// the journal's folder first (its old bytes stay, at no cost), a file or folder that
/// appears is noted. Rolling back puts the old files back, removes what appeared, and the
/// folders that did not exist before. Everything happens under the store's exclusive lock,
/// so no other process wrote meanwhile. A bake killed mid-build does not roll back; its
/// journal folder is a leftover of `tmp/` like any other, and what it wrote is valid.
final class StoreJournal: Sendable {
    enum Change: Sendable {
        /// A path that did not exist: removed on rollback.
        case created(String)
        /// A file that was replaced; its old bytes are at `backup`.
        case replaced(String, backup: String)
    }

    private struct State {
        var changes: [Change] = []
        var seen: Set<String> = []
        var backups = 0
        /// Made on the first backup: a build that replaces nothing writes no journal at all.
        var folder: String?
    }

    /// Where backups go (the store's tmp, on the same file system).
    let temporaryPath: String
    /// The folders of the store when the journal began.
    let folders: Set<String>
    private let state = Mutex(State())

    init(temporaryPath: String, folders: Set<String>) {
        self.temporaryPath = temporaryPath
        self.folders = folders
    }

    /// The backup folder, if one was made.
    var folder: String? { state.withLock { $0.folder } }

    /// Notes that `path` is about to be written (created or replaced).
    func willWrite(_ path: String) {
        state.withLock { state in
            guard state.seen.insert(path).inserted else { return }
            if (try? FileSystem.lstatIfExists(path)) != nil {
                if state.folder == nil {
                    state.folder = try? FileSystem.makeTemporaryDirectory(in: temporaryPath, prefix: "journal")
                }
                guard let folder = state.folder else { return }
                state.backups += 1
                let backup = folder + "/\(state.backups)"
                if link(path, backup) == 0 {
                    state.changes.append(.replaced(path, backup: backup))
                }
            } else {
                state.changes.append(.created(path))
            }
        }
    }

    /// Notes that `path` (a file or a folder) appeared where there was nothing.
    func created(_ path: String) {
        state.withLock { state in
            guard state.seen.insert(path).inserted else { return }
            state.changes.append(.created(path))
        }
    }

    var changes: [Change] { state.withLock { $0.changes } }
}

extension ContentStore {
    /// Starts recording what is written to the store (call under the exclusive lock, after
    /// the store's own folders and layout files exist: those stay).
    public func beginJournal() throws {
        try createTemporaryFolder()
        let recording = StoreJournal(temporaryPath: temporaryPath, folders: storeFolders())
        journal.withLock { $0 = recording }
    }

    /// Stops recording and keeps what was written.
    public func endJournal() {
        let ended = journal.withLock { current -> StoreJournal? in
            defer { current = nil }
            return current
        }
        if let folder = ended?.folder { try? FileSystem.removeTree(folder) }
    }

    /// Undoes everything written since `beginJournal()`, newest first; returns one sentence
    /// per change that could not be undone (the rest still are).
    @discardableResult
    public func rollBackJournal() -> [String] {
        let ended = journal.withLock { current -> StoreJournal? in
            defer { current = nil }
            return current
        }
        guard let ended else { return [] }
        var problems: [String] = []
        for change in ended.changes.reversed() {
            do {
                switch change {
                case .created(let path):
                    try FileSystem.removeTree(path)
                case .replaced(let path, let backup):
                    try FileSystem.rename(backup, path)
                }
            } catch {
                problems.append("cannot undo a change to \(root): \(error)")
            }
        }
        // Folders made meanwhile (cache/steps, builds/NAME...), deepest first, if empty.
        for folder in storeFolders().subtracting(ended.folders).sorted(by: { $0.count > $1.count }) {
            rmdir(folder)
        }
        if let folder = ended.folder { try? FileSystem.removeTree(folder) }
        return problems
    }

    /// Notes a write to come of a file of the store, when a journal is recording.
    func journalWillWrite(_ path: String) {
        guard path.hasPrefix(root + "/"), !path.hasPrefix(temporaryPath + "/") else { return }
        journal.withLock { $0 }?.willWrite(path)
    }

    /// Notes a file or folder that appeared in the store, when a journal is recording.
    public func journalCreated(_ path: String) {
        guard path.hasPrefix(root + "/"), !path.hasPrefix(temporaryPath + "/") else { return }
        journal.withLock { $0 }?.created(path)
    }

    /// The folders of the store's own structure: every folder three levels deep at most,
    /// not into `tmp`, `runs`, `lost+found`, the blobs or an unpacked layer's tree.
    private func storeFolders() -> Set<String> {
        var found: Set<String> = []
        func visit(_ path: String, depth: Int) {
            guard depth < 4, let names = try? FileSystem.directoryEntries(Array(path.utf8)) else { return }
            for name in names.map(FileSystem.text) {
                let child = path + "/" + name
                guard (try? FileSystem.lstatIfExists(child))?.kind == .directory else { continue }
                found.insert(child)
                if [temporaryPath, root + "/runs", root + "/lost+found", blobsPath, root + "/unpacked"].contains(child) { continue }
                visit(child, depth: depth + 1)
            }
        }
        visit(root, depth: 0)
        return found
    }
}
