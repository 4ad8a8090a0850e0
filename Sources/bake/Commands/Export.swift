import ArgumentParser
import Pipeline

extension ExportFormat: ExpressibleByArgument {}

extension Bake {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a built image in another format.",
            discussion: """
                Formats:
                  oci             an OCI image layout folder (added to, if PATH already is one)
                  oci-archive     an OCI image layout in one tar file
                  docker-archive  a tar that 'docker load' and 'podman load' accept (tagged IMAGE:latest)
                  rootfs          the merged root file system, unpacked into the folder PATH

                Blobs are verified as they are read; PATH appears only once complete.

                IMAGE is NAME (the last build), NAME@N (build N, as 'bake history NAME' lists \
                them) or NAME@sha256:DIGEST: a past build can be exported again for a rollback.

                EXAMPLES:
                  bake export app --format docker-archive --output app.tar
                  podman load -i app.tar
                  bake export app --format oci --output /tmp/layout
                  skopeo inspect oci:/tmp/layout:app
                  sudo bake export app --format rootfs --output /tmp/app-root
                  bake export app@3 --format oci-archive --output app-build3.tar
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to export: NAME, NAME@N or NAME@sha256:DIGEST.")
        var image: String

        @Option(help: "oci, oci-archive, docker-archive or rootfs.")
        var format: ExportFormat

        @Option(help: ArgumentHelp("Where to write the export.", valueName: "PATH"))
        var output: String

        func run() throws {
            let result = try Exporter.export(image, format: format, output: output, workspace: global.workspace())
            for warning in result.warnings { Console.warning(warning) }
            print("\(image) \(result.digest) -> \(result.path) (\(format.rawValue))")
        }
    }
}
