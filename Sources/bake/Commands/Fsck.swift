import ArgumentParser
import Pipeline

extension Bake {
    struct Fsck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every blob of the store against its digest.",
            discussion: """
                Hashes every blob, and checks that each image's manifest, config and layers are \
                present and consistent. Exits 1 and names each problem when there is one.

                EXAMPLES:
                  bake fsck
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let report = try StoreChecker.check(global.workspace())
            for problem in report.problems { Console.error(problem) }
            let summary = "\(report.blobs) blobs (\(Console.size(report.bytes))), \(report.images) images"
            if report.problems.isEmpty {
                print("store ok: \(summary)")
            } else {
                print("store has \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"): \(summary)")
                throw ExitCode(1)
            }
        }
    }
}
