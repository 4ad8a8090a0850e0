import ArgumentParser
import Pipeline

extension Bake {
    struct Gc: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove blobs no image, cache entry or build record refers to.",
            discussion: """
                Frees what interrupted writes left behind and every blob that neither an image \
                of the store's index, nor the step cache, nor a build record (a past image you \
                may roll back to) refers to, and says how many bytes it freed.

                EXAMPLES:
                  bake gc
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let report = try GarbageCollector.collect(global.workspace())
            print("removed \(report.removedBlobs) blob\(report.removedBlobs == 1 ? "" : "s"), freed \(Console.size(report.freedBytes)); kept \(report.keptBlobs)")
            for warning in report.warnings { Console.warning(warning) }
            if report.removedLostAndFound { Console.standardError("bake: removed lost+found (what 'bake fsck --repair' had moved out of the way)") }
            if report.unpackedInUse {
                Console.warning("an image is running (bake run): its unpacked layers were kept")
            }
        }
    }
}
