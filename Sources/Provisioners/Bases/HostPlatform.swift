import CBakeSystem
import OCI

/// The platform of the machine bake runs on, used for images built on `scratch`.
public enum HostPlatform {
    public static var current: Platform {
        var buffer = [CChar](repeating: 0, count: 65)
        guard bake_machine(&buffer, Int32(buffer.count)) == 0 else { return Platform(architecture: "amd64", os: "linux") }
        let machine = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Platform.linux(machine: machine)
    }
}
