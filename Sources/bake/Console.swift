import Foundation
import Layers
import OCI
import Pipeline

/// Printing: results on stdout, progress and errors on stderr.
enum Console {
    static func error(_ message: String) {
        for line in message.split(separator: "\n", omittingEmptySubsequences: false) {
            standardError("bake: \(line)")
        }
    }

    static func warning(_ message: String) {
        standardError("bake: warning: \(message)")
    }

    static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// 1234567 -> "1.2 MB".
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

