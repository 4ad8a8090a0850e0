import ArgumentParser
import Foundation
import Glibc
import Layers
import Pipeline
import Provisioners

extension Bake {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build images and everything upstream of them.",
            discussion: """
                Builds each IMAGE from images/IMAGE/stage.yaml, after the images it is built on \
                (every image when none is named), and names the results in the store's OCI \
                layout (.bake/oci). A step whose cache key is unchanged is taken from the cache \
                without reading its files; a changed step runs, and so does everything after it \
                and downstream of it, unless a rebuilt image comes out byte-identical.

                Prints one line per image on stdout, NAME sha256:DIGEST (with --progress json, \
                events instead), progress on stderr, and ends with a table of every step.

                The time inside images is SOURCE_DATE_EPOCH when it is set, otherwise derived \
                from the inputs (1970-01-01 for images on scratch), never the clock.

                Every build writes the results into bake.lock (commit it). With --locked the \
                build instead fails (exit 1) when an image comes out different from bake.lock, \
                names what differs, and leaves bake.lock and the image's name as they were. \
                External pins in bake.lock (a Debian release file) are used as they are; only \
                'bake update' moves them.

                The step cache can be shared through any OCI registry: --cache-from REPO \
                (repeatable, read in order) looks up each step the local cache does not have \
                (one request per step), takes a hit without running the step, and downloads \
                its layer (checked against its digest and diffID) only for the bytes the build \
                needs; --cache-to REPO writes every step of the build there, tagged \
                bake-<key>, while the build goes on. Registries are reached as by push \
                (credentials from BAKE_REGISTRY_USER/PASSWORD or the docker config; \
                --insecure-registry HOST for plain HTTP). A cache that cannot be reached is a \
                warning and the build goes on without it, unless --cache-required.

                Images carry the OCI labels and annotations org.opencontainers.image.created, \
                .revision (the git commit, when the project folder has no uncommitted change), \
                .source (the git remote origin), .version (a git tag on that commit), \
                .base.name and .base.digest. BAKE_REVISION, BAKE_SOURCE and BAKE_VERSION \
                override the git values (empty: leave the field out).

                EXAMPLES:
                  bake build app
                  # every image, independent ones in parallel
                  bake build --jobs 4
                  bake build app --secret id=npm_token,env=NPM_TOKEN
                  # CI: fail if any image differs from bake.lock
                  bake build --locked
                  # one JSON event per line, for tools
                  bake --progress json build app
                  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) bake build app
                  # CI: the team's registry is the cache (pull requests: --cache-from only)
                  bake build app --cache-from $REG/cache --cache-to $REG/cache
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to build (default: every image in images/).")
        var images: [String] = []

        @Flag(help: "Run every step even when the cache holds its layer.")
        var noCache = false

        @Option(help: ArgumentHelp("Images to build at once (images not built on one another).", valueName: "N"))
        var jobs: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

        @Option(name: .customLong("secret"), help: ArgumentHelp(
            "A secret for steps that list it: id=NAME,env=VARIABLE or id=NAME,src=FILE. Mounted at /run/secrets/NAME; never logged or stored.",
            valueName: "SPEC"))
        var secretSpecs: [String] = []

        @Flag(help: "Fail (exit 1) when an image differs from bake.lock; bake.lock is not written.")
        var locked = false

        @Option(name: .customLong("cache-from"), help: ArgumentHelp(
            "A registry repository to read cached steps from, HOST[:PORT]/REPO (repeatable, read in order).", valueName: "REPO"))
        var cacheFrom: [String] = []

        @Option(name: .customLong("cache-to"), help: ArgumentHelp(
            "A registry repository to write every step of the build to (give it to trusted builds only, e.g. the main branch).",
            valueName: "REPO"))
        var cacheTo: String?

        @Flag(help: "Fail (exit 1) when a --cache-from or --cache-to registry cannot be used, rather than warn and build without it.")
        var cacheRequired = false

        @Option(help: ArgumentHelp("Threads compressing each layer (default: one per core); never changes the bytes.", valueName: "N"))
        var threads: Int = GzipSink.defaultThreads

        @OptionGroup var ceiling: CeilingOptions

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            guard !cacheRequired || !cacheFrom.isEmpty || cacheTo != nil else {
                throw ValidationError("--cache-required needs --cache-from or --cache-to")
            }
        }

        func run() throws {
            let started = ContinuousClock.now
            // Every failure, a stage file that does not validate included, reaches the
            // reporter: with --progress json the stream ends with an error event.
            let reporter = global.progress.reporter()
            let built: [BuiltImage]
            do {
                let workspace = try global.workspace()
                let project = try workspace.loadProject()
                let epoch = try BuildTime.sourceDateEpoch(from: ProcessInfo.processInfo.environment)
                let secrets = try SecretSpec.load(secretSpecs, environment: ProcessInfo.processInfo.environment)
                let ceiling = try ceiling.ceiling()
                let builder = Builder(project: project, store: workspace.store, reporter: reporter)
                Interrupts.installForBuilds()
                var options = BuildOptions(targets: images, sourceDateEpoch: epoch, compressionThreads: threads, noCache: noCache,
                                           jobs: jobs)
                options.secrets = secrets
                options.metadata = global.metadata(workspace)
                options.locked = locked
                options.registries = global.registryAccess()
                options.ceiling = ceiling
                options.cache = RemoteCacheOptions(from: cacheFrom, to: cacheTo, required: cacheRequired)
                built = try builder.build(options)
            } catch {
                reporter.failed(error)
                reporter.stop()
                throw error
            }
            let elapsed = (ContinuousClock.now - started).components
            reporter.finish(built, seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
    }
}
