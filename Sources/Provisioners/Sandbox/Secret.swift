import Layers
import OCI

/// A secret's id and value. The value is never logged, keyed or stored.
public struct Secret: Sendable, Hashable {
    public var id: String
    public var value: [UInt8]

    public init(id: String, value: [UInt8]) {
        self.id = id
        self.value = value
    }
}
