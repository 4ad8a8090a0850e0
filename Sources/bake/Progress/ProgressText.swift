import ArgumentParser
import Glibc
import Pipeline

/// Shared formatting of steps and of the summary table.
enum ProgressText {
    static func step(_ result: StepResult) -> String {
        let status = result.remote != nil ? "cached (remote)" : result.cached ? "cached" : "built "
        let reason = result.reason.map { "  (\($0))" } ?? ""
        // A step that changed nothing says so, rather than showing an empty layer's size.
        let size = result.changedNothing ? "no change" : Console.size(result.layer.descriptor.size)
        return "\(result.image) [\(result.step)/\(result.of)] \(status) \(result.summary)  \(result.layer.descriptor.digest.short) "
            + "\(size) \(seconds(result.seconds))\(reason)"
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.2fs", value) : String(format: "%.1fs", value)
    }

    /// The table every build ends with: image, step, cached or built, time, layer size, and
    /// the final digests.
    static func summary(_ images: [BuiltImage], seconds total: Double) -> [String] {
        var rows: [[String]] = [["IMAGE", "STEP", "", "TIME", "SIZE", "LAYER"]]
        for image in images {
            if image.steps.isEmpty { rows.append([image.name, "-", "no steps", "", "", ""]) }
            for step in image.steps {
                rows.append([image.name, "\(step.step) \(step.summary)", step.remote != nil ? "cached (remote)" : step.cached ? "cached" : "built",
                             seconds(step.seconds), step.changedNothing ? "no change" : Console.size(step.layer.descriptor.size),
                             step.layer.descriptor.digest.short])
            }
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], min(cell.count, 48)) }
        }
        var lines = rows.map { row in
            row.enumerated().map { index, cell in
                let clipped = cell.count > 48 ? String(cell.prefix(45)) + "..." : cell
                return clipped.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let built = images.flatMap(\.steps).filter { !$0.cached }.count
        let cached = images.flatMap(\.steps).count - built
        let remote = images.flatMap(\.steps).filter { $0.remote != nil }.count
        lines.append("\(built) built, \(cached) cached" + (remote > 0 ? " (\(remote) from the remote cache)" : "") + " in \(seconds(total))")
        let nameWidth = images.map(\.name.count).max() ?? 0
        for image in images {
            lines.append(image.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " + image.manifestDescriptor.digest.description)
        }
        return lines
    }
}
