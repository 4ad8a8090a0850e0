import ArgumentParser
import Diagnostics
import Foundation
import Layers
import OCI
import Pipeline
import Provisioners

/// Runs the command line and maps every failure to bake's exit codes: 0 success, 1 a build,
/// check or verify failed, 2 bad input or usage, 130 interrupted. Every error of bake's
/// knows its exit status (`BakeError`), so this is the one place that catches; errors are
/// one sentence on stderr.
@main
enum Main {
    static func main() {
        Interrupts.unblockSignals()
        HostPersonality.reset()
        do {
            var command = try Bake.parseAsRoot()
            try command.run()
        } catch let error as any BakeError {
            let status = error.exitStatus
            Console.error(status == .interrupted ? "interrupted" : error.description)
            exit(status.rawValue)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = Bake.exitCode(for: error)
            let message = Bake.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            // ArgumentParser reports usage errors as 64 (EX_USAGE); bake's contract is 2. An
            // error that is neither bake's nor a usage error is a failure.
            exit(code == .failure ? 1 : 2)
        }
    }
}
