import Diagnostics
import Foundation
import OCI
import Pipeline
import Synchronization

/// One JSON object per line on stdout, keys sorted, for tools:
///
///     {"event":"image-start","image":"base",...}
///     {"event":"step-start","image":"base","step":1,...,"reason":"never built"}
///     {"event":"step","image":"base","step":1,"status":"built",...}
///     {"event":"check-start","image":"base","check":1,"of":2,"summary":"..."}
///     {"event":"check","image":"base","check":1,"of":2,"status":"passed","seconds":0.1}
///     {"event":"image","image":"base","digest":"sha256:...",...}
///     {"event":"done","images":[{"image":"base","digest":"sha256:..."}],...}
///
/// A failed build ends with one error event instead of `done` (the same sentence is on
/// stderr): `{"event":"error","image":"app","step":2,"message":"...","exitCode":1}`, with
/// `check` instead of `step` for a check, `commandExitCode` when a command failed, and no
/// image or step when the error is about neither.
final class JSONProgress: ProgressReporter, Sendable {
    /// Events from images building in parallel are written whole, one line at a time.
    private let output = Mutex(())

    struct Fields: Encodable {
        var event: String
        var image: String?
        var file: String?
        var base: String?
        var steps: Int?
        var step: Int?
        var of: Int?
        var summary: String?
        var reason: String?
        var status: String?
        var key: Digest?
        var layer: Digest?
        var diffID: Digest?
        var size: Int64?
        var seconds: Double?
        var digest: Digest?
        var built: Int?
        var cached: Int?
        var lock: String?
        var images: [ImageDigest]?
        var label: String?
        var line: String?
        var check: Int?
        var packages: [String]?
        var message: String?
        var exitCode: Int32?
        var commandExitCode: Int32?
    }

    struct ImageDigest: Encodable {
        var image: String
        var digest: Digest
    }

    private func emit(_ fields: Fields) {
        guard let bytes = try? CanonicalJSON.encode(fields) else { return }
        output.withLock { _ in FileHandle.standardOutput.write(Data(bytes + [0x0a])) }
    }

    func report(_ event: BuildEvent) {
        switch event {
        case .waitingForLock(let path):
            emit(Fields(event: "waiting", lock: path))
        case .imageStarted(let image, let file, let base, let steps):
            emit(Fields(event: "image-start", image: image, file: file, base: base, steps: steps))
        case .stepStarted(let image, let step, let of, let summary, let reason):
            emit(Fields(event: "step-start", image: image, step: step, of: of, summary: summary, reason: reason))
        case .stepFinished(let result):
            emit(Fields(event: "step", image: result.image, step: result.step, of: result.of, summary: result.summary,
                        reason: result.reason, status: result.remote != nil ? "remote" : result.cached ? "cached" : "built", key: result.key.digest,
                        layer: result.layer.descriptor.digest, diffID: result.layer.diffID,
                        size: result.layer.descriptor.size, seconds: result.seconds, packages: result.packages))
        case .output(let image, let label, let line):
            emit(Fields(event: "output", image: image, label: label, line: line))
        case .checkStarted(let image, let check, let of, let summary):
            emit(Fields(event: "check-start", image: image, of: of, summary: summary, check: check))
        case .checkFinished(let image, let check, let of, let result, let seconds):
            var fields = Fields(event: "check", image: image, of: of, status: result.name, seconds: seconds, check: check)
            if case .failed(let status) = result { fields.commandExitCode = status }
            emit(fields)
        case .imageFinished(let image):
            let built = image.steps.filter { !$0.cached }.count
            emit(Fields(event: "image", image: image.name, seconds: image.seconds, digest: image.manifestDescriptor.digest,
                        built: built, cached: image.steps.count - built))
        case .warning(let message):
            emit(Fields(event: "warning", message: message))
        }
    }

    func failed(_ error: any Error) {
        var fields = Fields(event: "error", message: String(describing: error), exitCode: BakeExitStatus(for: error).rawValue)
        if let pipeline = error as? PipelineError {
            if let subject = pipeline.subject {
                fields.image = subject.image
                let parts = subject.what.split(separator: " ")
                if parts.count == 2, let number = Int(parts[1]) {
                    if parts[0] == "step" { fields.step = number } else if parts[0] == "check" { fields.check = number }
                }
            }
            fields.commandExitCode = pipeline.commandExitStatus
        }
        emit(fields)
    }

    func finish(_ images: [BuiltImage], seconds: Double) {
        let built = images.flatMap(\.steps).filter { !$0.cached }.count
        emit(Fields(event: "done", seconds: seconds, built: built, cached: images.flatMap(\.steps).count - built,
                    images: images.map { ImageDigest(image: $0.name, digest: $0.manifestDescriptor.digest) }))
    }
}
