import Layers
import OCI

/// What `bake verify` is asked to do.
public struct VerifyOptions: Sendable {
    /// Images to verify (with everything upstream); empty means every image.
    public var targets: [String]
    /// The bake executable to run the verification build with.
    public var executable: String
    /// `--secret` arguments, passed on to the verification build as given.
    public var secretArguments: [String]
    /// The progress mode of the verification build (`plain` or `auto`).
    public var progress: String
    /// Keep the verification store and project copy (their path is in the report).
    public var keep: Bool
    /// Run diffoscope on the differing files.
    public var diffoscope: Bool
    /// bake's environment.
    public var environment: [String: String]
    /// `--insecure-registry` hosts, passed on to the verification build.
    public var insecureRegistries: [String] = []
    /// More options of the verification build, as given to verify (`--max-memory N`).
    public var buildArguments: [String] = []

    public init(targets: [String], executable: String, secretArguments: [String], progress: String, keep: Bool,
                diffoscope: Bool, environment: [String: String]) {
        self.targets = targets
        self.executable = executable
        self.secretArguments = secretArguments
        self.progress = progress
        self.keep = keep
        self.diffoscope = diffoscope
        self.environment = environment
    }
}
