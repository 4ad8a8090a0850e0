import Provisioners
/// `bake graph`: the images and what each is built on, as Graphviz dot or Mermaid.
public enum GraphFormat: String, Sendable, CaseIterable {
    case dot
    case mermaid
}

public enum GraphRenderer {
    /// Renders the project's image graph. Output order is fixed (by name).
    public static func render(_ project: Project, format: GraphFormat) -> String {
        var edges: [(String, String)] = []
        var externals: [String: String] = [:]
        for name in project.names {
            let stage = project.stages[name]!
            switch stage.base {
            case .image(let parent):
                edges.append((parent, name))
            default:
                let label = stage.base.description
                let id = "base:" + label
                externals[id] = label
                edges.append((id, name))
            }
        }
        switch format {
        case .dot:
            var lines = ["digraph bake {", "  rankdir=LR;", "  node [shape=box];"]
            for (id, label) in externals.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(quote(id)) [label=\(quote(label)), shape=ellipse, style=dashed];")
            }
            for name in project.names { lines.append("  \(quote(name));") }
            for (from, to) in edges { lines.append("  \(quote(from)) -> \(quote(to));") }
            lines.append("}")
            return lines.joined(separator: "\n") + "\n"
        case .mermaid:
            var ids: [String: String] = [:]
            func id(_ key: String) -> String {
                if let existing = ids[key] { return existing }
                let new = "n\(ids.count)"
                ids[key] = new
                return new
            }
            var lines = ["graph LR"]
            for (key, label) in externals.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(id(key))([\"\(label.replacingOccurrences(of: "\"", with: "'"))\"])")
            }
            for name in project.names { lines.append("  \(id(name))[\"\(name)\"]") }
            for (from, to) in edges { lines.append("  \(id(from)) --> \(id(to))") }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    private static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
