import Foundation
/// A step's meaning, normalised, as it enters the cache key and the build record: its kind
/// and its arguments as text. Its canonical JSON is part of every step's key, so the
/// encoding of a kind's arguments must never change without a new layer format version.
public struct StepSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `copy`, `remove`, `run`, `apt`, or a base's kind (`debian`, `rootfs`).
    public var kind: String
    /// The arguments, as text, by name.
    public var arguments: [String: String]

    public init(kind: String, arguments: [String: String]) {
        self.kind = kind
        self.arguments = arguments
    }

    /// One line: `copy source=site to=/srv/app/`.
    public var description: String {
        ([kind] + arguments.keys.sorted().map { "\($0)=\(arguments[$0]!.replacingOccurrences(of: "\n", with: ","))" })
            .joined(separator: " ")
    }
}
