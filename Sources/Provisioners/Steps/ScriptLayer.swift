import Foundation
import Layers

/// A script run in a fresh machine on the image below, its changes written as the layer:
/// what run and apt steps share.
enum ScriptLayer {
    static func run(_ script: ShellScript, _ context: StepContext) throws -> [TarEntry] {
        try ShellScript.requireShell(in: context.below.tree)
        let machine = try context.machines.machine(on: context.below.stack)
        defer { machine.discard() }
        try script.runChecked(in: machine, output: context.output)
        return try machine.changes(below: context.below.tree, epoch: context.epoch, into: context.layer)
    }
}
