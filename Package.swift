// swift-tools-version:6.0
//
// bake: a daemonless, reproducible image build pipeline.
// Module layout and dependency direction are described in DESIGN.md:
//   OCI <- Layers <- Pipeline <- bake
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
    ],
    targets: [
        // The system zlib (Debian: zlib1g-dev). Used for gzip with a fixed header.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Linux system headers Swift's Glibc module leaves out (xattrs, flock, uname).
        .target(name: "CSystem"),
        // The sandbox a step runs in: namespaces, overlayfs, pivot_root (C, because nothing of
        // the Swift runtime may run between clone() and exec()).
        .target(name: "CSandbox"),
        // OCI image model: Digest, Descriptor, Manifest, Index, ImageConfig, canonical JSON.
        .target(name: "OCI"),
        // Bytes of layers: PAX tar, gzip, digests while streaming, trees, the content store.
        .target(
            name: "Layers",
            dependencies: [
                "OCI",
                "CZlib",
                "CSystem",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Changing a root file system: the sandbox, unpacked layers, capture, normalisation.
        .target(
            name: "Provisioners",
            dependencies: ["OCI", "Layers", "CSandbox", "CSystem"]
        ),
        // Stage files -> model -> graph -> plan -> build; export, inspect, fsck.
        .target(
            name: "Pipeline",
            dependencies: ["OCI", "Layers", "Provisioners", "CSandbox", "Yams"]
        ),
        // The command line. Nothing but parsing, calling Pipeline, printing.
        .executableTarget(
            name: "bake",
            dependencies: [
                "Pipeline",
                "OCI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers shared by the test targets: temporary folders, subprocesses, tool checks.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "OCITests", dependencies: ["OCI"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "OCI", "TestSupport"]),
        .testTarget(name: "ProvisionersTests", dependencies: ["Provisioners", "Layers", "OCI", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Layers", "OCI", "TestSupport"]),
        // End-to-end tests of the `bake` binary and interop with skopeo, umoci, podman, tar.
        .testTarget(name: "bakeTests", dependencies: ["bake", "Layers", "OCI", "TestSupport"]),
    ]
)
