import ArgumentParser
import Pipeline

extension Bake {
    struct Fsck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check everything the store holds; with --repair, move what is broken out of the way.",
            discussion: """
                Hashes every blob, and checks the layout file, the index and each image it \
                names (manifest, config and layers present, intact and of the sizes their \
                descriptors give), every build record (every blob it names intact, so a \
                rollback to it works), every step cache entry, every saved input listing and \
                every unpacked layer (against its stamp). It never follows a symlink and never \
                waits on a named pipe. Each problem is one line naming what --repair does about \
                it; exits 1 when there is one. It only reads, so it works on a read-only store.

                --repair moves what is broken to .bake/lost+found (at the same path, nothing is \
                deleted) and writes the index again from what is valid, so the next build makes \
                again exactly what was lost. 'bake gc' empties lost+found.

                EXAMPLES:
                  bake fsck
                  bake fsck --repair
                """
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Move what is broken to .bake/lost+found and rewrite the index from what is valid.")
        var repair = false

        func run() throws {
            let report = try StoreChecker.check(global.workspace(), repair: repair)
            for line in report.repaired { print("repaired: \(line)") }
            for problem in report.problems { Console.error(problem.description) }
            let summary = "\(report.blobs) blobs (\(Console.size(report.bytes))), \(report.images) images, "
                + "\(report.records) build records, \(report.cacheEntries) cache entries, \(report.unpacked) unpacked layers"
            if report.lostAndFound > 0 {
                Console.warning("\(global.workspaceStoreRoot)/lost+found holds what a repair moved out of the way; 'bake gc' removes it")
            }
            if report.problems.isEmpty {
                print("store ok: \(summary)")
            } else {
                print("store has \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"): \(summary)")
                throw ExitCode(1)
            }
        }
    }
}
