import Layers
import Provisioners

/// Every stage file of a project (`DIR/images/*/stage.yaml`), validated together: each
/// file on its own, then the references between them (`from: NAME`) and their cycles.
public struct Project: Sendable {
    /// The project folder (absolute).
    public let directory: String
    /// Stages by image name.
    public let stages: [String: Stage]

    /// Image names, sorted.
    public var names: [String] { stages.keys.sorted() }

    /// Loads and validates every stage file. Throws `PipelineError.invalidStageFiles` with
    /// every problem found, or `.badInput` when there is no `images/` folder.
    public static func load(directory: String) throws -> Project {
        let imagesPath = directory + "/images"
        guard let status = try? FileSystem.statPath(imagesPath), status.kind == .directory else {
            throw PipelineError.badInput(
                "\(directory) has no images/ folder; bake builds images/NAME/stage.yaml (use -C DIR to point at a project)")
        }
        var diagnostics: [Diagnostic] = []
        var stages: [String: Stage] = [:]
        let names = try FileSystem.directoryEntries(Array(imagesPath.utf8)).map { FileSystem.text($0) }
        for name in names where !name.hasPrefix(".") {
            let folder = imagesPath + "/" + name
            guard let folderStatus = try? FileSystem.statPath(folder), folderStatus.kind == .directory else { continue }
            let file = "images/\(name)/stage.yaml"
            let path = folder + "/stage.yaml"
            guard (try? FileSystem.lstatIfExists(path)) != nil else {
                if (try? FileSystem.lstatIfExists(folder + "/stage.yml")) != nil {
                    diagnostics.append(Diagnostic(SourceLocation(file: "images/\(name)/stage.yml", line: 1, column: 1),
                                                  "bake reads stage.yaml, not stage.yml; rename the file"))
                }
                continue
            }
            guard isValidImageName(name) else {
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1),
                                              "'\(name)' is not a valid image name: use lowercase letters, digits, and '.', '_' or '-' between them"))
                continue
            }
            if name == "scratch" {
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1),
                                              "an image cannot be called 'scratch': 'from: scratch' means an empty base"))
                continue
            }
            let text: String
            do {
                let bytes = try FileSystem.readFile(path, limit: 4 << 20)
                guard let decoded = String(validating: bytes, as: UTF8.self) else {
                    diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "the stage file is not UTF-8 text"))
                    continue
                }
                text = decoded
            } catch LayersError.notRegularFile(_, let kind) {
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "the stage file is \(kind.article), not a regular file"))
                continue
            } catch {
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read the stage file: \(error)"))
                continue
            }
            var parser = StageFileParser(name: name, directory: folder, file: file)
            if let stage = parser.parse(text) {
                stages[name] = stage
            } else if parser.diagnostics.isEmpty {
                // A stage must never vanish without a word.
                diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1),
                                              "the stage file could not be read, for no reason bake can name; please report this"))
            }
            diagnostics += parser.diagnostics
        }
        let project = Project(directory: directory, stages: stages)
        diagnostics += project.referenceDiagnostics()
        guard diagnostics.isEmpty else {
            throw PipelineError.invalidStageFiles(diagnostics.sorted {
                ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column)
            })
        }
        return project
    }

    /// `from:` references that name no image, and cycles.
    private func referenceDiagnostics() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for name in names {
            let stage = stages[name]!
            guard case .image(let parent) = stage.base else { continue }
            if parent == name {
                diagnostics.append(Diagnostic(stage.baseLocation, "image \(name) cannot be built from itself"))
            } else if stages[parent] == nil {
                diagnostics.append(Diagnostic(stage.baseLocation,
                    "'from: \(parent)' names no image: images/\(parent)/stage.yaml does not exist\(Suggestions.hint(parent, from: names))"))
            }
        }
        guard diagnostics.isEmpty else { return diagnostics }
        // Each image has at most one parent, so a cycle is found by walking up from each image.
        var reported: Set<String> = []
        for name in names {
            var chain = [name]
            var current = name
            while case .image(let parent)? = stages[current]?.base {
                if let start = chain.firstIndex(of: parent) {
                    let cycle = Array(chain[start...])
                    if reported.isDisjoint(with: cycle) {
                        reported.formUnion(cycle)
                        let first = cycle.min()!
                        let rotated = Array(cycle.drop(while: { $0 != first })) + Array(cycle.prefix(while: { $0 != first }))
                        let path = (rotated + [first]).joined(separator: " -> ")
                        diagnostics.append(Diagnostic(stages[first]!.baseLocation, "'from:' makes a cycle: \(path)"))
                    }
                    break
                }
                chain.append(parent)
                current = parent
            }
        }
        return diagnostics
    }

    /// The image this one is built on, if it is an image of the project.
    public func parent(of name: String) -> String? {
        if case .image(let parent)? = stages[name]?.base { return parent }
        return nil
    }

    /// Images built directly on `name`.
    public func children(of name: String) -> [String] {
        names.filter { parent(of: $0) == name }
    }

    /// `targets` and everything upstream of them, parents before children, in a fixed
    /// order (by name where the graph leaves a choice). Empty targets mean every image.
    public func buildOrder(for targets: [String]) throws -> [String] {
        for target in targets where stages[target] == nil {
            throw PipelineError.badInput("no image named '\(target)' in \(directory)/images\(Suggestions.hint(target, from: names))")
        }
        var order: [String] = []
        var seen: Set<String> = []
        func visit(_ name: String) {
            guard !seen.contains(name) else { return }
            seen.insert(name)
            if let parent = parent(of: name) { visit(parent) }
            order.append(name)
        }
        for target in (targets.isEmpty ? names : targets.sorted()) { visit(target) }
        return order
    }

    /// Lowercase letters and digits, with single '.', '_' or '-' between them.
    public static func isValidImageName(_ name: String) -> Bool {
        guard let first = name.first, let last = name.last, name.count <= 128 else { return false }
        func alnum(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }
        guard alnum(first), alnum(last) else { return false }
        var previousSeparator = false
        for c in name {
            if alnum(c) {
                previousSeparator = false
            } else if c == "." || c == "_" || c == "-" {
                if previousSeparator { return false }
                previousSeparator = true
            } else {
                return false
            }
        }
        return true
    }
}
