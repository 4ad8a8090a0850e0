import Foundation
import OCI

/// Tag templates of `bake push --tag`.
enum TagTemplate {
    static let placeholders = ["{git.sha}", "{git.short}", "{seq}"]

    /// Rejects unknown `{...}` placeholders before anything is pushed.
    static func validate(_ template: String) throws {
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw PipelineError.badInput("--tag '\(template)' has a '{' without '}'; templates are \(placeholders.joined(separator: ", "))")
            }
            let placeholder = String(rest[open...close])
            guard placeholders.contains(placeholder) else {
                throw PipelineError.badInput("--tag '\(template)' uses \(placeholder), which is not a tag template; use \(placeholders.joined(separator: ", ")) or a plain tag")
            }
            rest = rest[rest.index(after: close)...]
        }
        let sample = template.replacingOccurrences(of: "{git.sha}", with: "a").replacingOccurrences(of: "{git.short}", with: "a")
            .replacingOccurrences(of: "{seq}", with: "1")
        guard Reference.isValidTag(sample) else {
            throw PipelineError.badInput("--tag '\(template)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
        }
    }

    /// For a template with `{seq}` (its git placeholders already filled in): one more than
    /// the highest number among the tags of that shape (`{seq}`: all-digit tags; `build-{seq}`:
    /// `build-1`, `build-2`...), or 1. Nil for a template without `{seq}`.
    static func nextSequence(_ tags: [String], template: String) -> Int? {
        guard let range = template.range(of: "{seq}") else { return nil }
        let prefix = template[..<range.lowerBound], suffix = template[range.upperBound...]
        let numbers = tags.compactMap { tag -> Int? in
            guard tag.hasPrefix(prefix), tag.hasSuffix(suffix), tag.count > prefix.count + suffix.count else { return nil }
            let digits = tag.dropFirst(prefix.count).dropLast(suffix.count)
            guard digits.utf8.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }
        return (numbers.max() ?? 0) + 1
    }

    static func expand(_ template: String, revision: String?, sequence: Int?, image: String) throws -> String {
        var tag = template
        if tag.contains("{git.sha}") || tag.contains("{git.short}") {
            guard let revision, !revision.isEmpty else {
                throw PipelineError.badInput(
                    "--tag '\(template)' needs the git revision \(image) was built from, but it has no \(AnnotationKey.revision) label; build it in a clean git checkout or set BAKE_REVISION")
            }
            tag = tag.replacingOccurrences(of: "{git.sha}", with: revision)
            // Seven characters, as git and most CI systems show a short commit.
            tag = tag.replacingOccurrences(of: "{git.short}", with: String(revision.prefix(7)))
        }
        if tag.contains("{seq}") {
            // Filled in later, from the repository's tags.
            guard let sequence else { return tag }
            tag = tag.replacingOccurrences(of: "{seq}", with: String(sequence))
        }
        guard Reference.isValidTag(tag) else {
            throw PipelineError.badInput("--tag '\(template)' gives '\(tag)', which is not a valid tag")
        }
        return tag
    }
}
