import Foundation
import Layers
import Pipeline

/// `--secret id=NAME,env=VARIABLE` or `--secret id=NAME,src=FILE`.
enum SecretSpec {
    static func load(_ specs: [String], environment: [String: String]) throws -> [String: [UInt8]] {
        var secrets: [String: [UInt8]] = [:]
        for spec in specs {
            var fields: [String: String] = [:]
            for part in spec.split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw usage(spec) }
                fields[pair[0]] = pair[1]
            }
            guard let id = fields["id"], !id.isEmpty, fields.count == 2 else { throw usage(spec) }
            guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                throw PipelineError.badInput("--secret \(spec): '\(id)' is not a secret id (letters, digits, '_', '.' and '-')")
            }
            // Two values for one id: which the step gets must not depend on argument order.
            guard secrets[id] == nil else {
                throw PipelineError.badInput("--secret \(spec): secret '\(id)' is given twice; give each secret once")
            }
            if let variable = fields["env"] {
                guard let value = environment[variable] else {
                    throw PipelineError.badInput("--secret \(spec): the environment variable \(variable) is not set")
                }
                secrets[id] = Array(value.utf8)
            } else if let file = fields["src"] {
                do {
                    secrets[id] = try FileSystem.readFile(file, limit: 1 << 20)
                } catch let error as LayersError {
                    if case .notRegularFile = error { throw PipelineError.badInput("--secret \(spec): \(error)") }
                    if case .tooLarge = error { throw PipelineError.badInput("--secret \(spec): \(error)") }
                    throw PipelineError.badInput("--secret \(spec): cannot read the file \(file)")
                }
            } else {
                throw usage(spec)
            }
        }
        return secrets
    }

    private static func usage(_ spec: String) -> PipelineError {
        PipelineError.badInput("--secret \(spec) is not id=NAME,env=VARIABLE or id=NAME,src=FILE")
    }
}
