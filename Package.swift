// swift-tools-version:6.0
//
// bake: a daemonless, reproducible image build pipeline.
// Module layout and dependency direction are described in DESIGN.md:
//   OCI <- Layers <- Provisioners <- Pipeline <- bake, and OCI <- Registry <- Pipeline
import PackageDescription

let package = Package(
    name: "bake",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bake", targets: ["bake"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        // The system zlib (Debian: zlib1g-dev). Used for gzip with a fixed header.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Linux system headers Swift's Glibc module leaves out (xattrs, flock, uname).
        .target(name: "CBakeSystem"),
        // The sandbox a step runs in: namespaces, overlayfs, pivot_root (C, because nothing of
        // the Swift runtime may run between clone() and exec()).
        .target(name: "CSandbox"),
        // Errors that keep their cause, add context and know their exit status. No imports.
        .target(name: "Diagnostics"),
        // OCI image model: Digest, Descriptor, Manifest, Index, ImageConfig, canonical JSON.
        .target(name: "OCI", dependencies: ["Diagnostics"]),
        // Bytes of layers: PAX tar, gzip, digests while streaming, trees, the content store.
        .target(
            name: "Layers",
            dependencies: [
                "Diagnostics",
                "OCI",
                "CZlib",
                "CBakeSystem",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Changing a root file system: the sandbox, unpacked layers, capture, normalisation.
        .target(
            name: "Provisioners",
            dependencies: ["Diagnostics", "OCI", "Layers", "CSandbox", "CBakeSystem"]
        ),
        // OCI distribution-spec client: auth, blobs, manifests, tags, retries. Knows only OCI.
        .target(
            name: "Registry",
            dependencies: [
                "Diagnostics",
                "OCI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Stage files -> model -> graph -> plan -> build; export, inspect, fsck, push.
        .target(
            name: "Pipeline",
            dependencies: ["Diagnostics", "OCI", "Layers", "Provisioners", "Registry", "Yams"]
        ),
        // The command line. Nothing but parsing, calling Pipeline, printing.
        .executableTarget(
            name: "bake",
            dependencies: [
                "Diagnostics",
                "Pipeline",
                "Provisioners",
                "Layers",
                "OCI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers shared by the test targets: temporary folders, subprocesses, tool checks.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics"]),
        .testTarget(name: "OCITests", dependencies: ["OCI"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "OCI", "TestSupport"]),
        .testTarget(name: "ProvisionersTests", dependencies: ["Provisioners", "Layers", "OCI", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "OCI"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Provisioners", "Layers", "OCI", "TestSupport"]),
        // End-to-end tests of the `bake` binary and interop with skopeo, umoci, podman, tar.
        .testTarget(
            name: "bakeTests", dependencies: ["bake", "Layers", "OCI", "TestSupport"],
            // Scripts the tests run by path (the registry fault proxy), not sources.
            exclude: ["Fixtures"]
        ),
    ]
)
