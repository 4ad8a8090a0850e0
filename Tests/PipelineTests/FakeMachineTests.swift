import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Layers
@testable import Pipeline
import Provisioners

/// The builder reaches a machine only through the `Machine` seam: with a fake machine, run
/// and apt steps and checks are built and cached without root, namespaces or a sandbox.
@Suite struct FakeMachineTests {
    /// Machines that record the commands they are given and "change" one file per command.
    final class FakeMachines: MachineFactory {
        let commands = Mutex<[Provisioners.Command]>([])

        func machine(on layers: LayerStack) throws -> any Machine {
            FakeMachine(factory: self, below: layers)
        }

        var scripts: [String] { commands.withLock { $0.map { $0.arguments.last ?? "" } } }
    }

    final class FakeMachine: Machine {
        let factory: FakeMachines
        let below: LayerStack
        private var ran: [Provisioners.Command] = []

        init(factory: FakeMachines, below: LayerStack) {
            self.factory = factory
            self.below = below
        }

        func run(_ command: Provisioners.Command, output: CommandOutput) throws -> Int32 {
            ran.append(command)
            factory.commands.withLock { $0.append(command) }
            if case .lines(let handler) = output { handler("fake machine on \(below.layers.count) layers") }
            return command.arguments.last?.contains("exit 3") == true ? 3 : 0
        }

        func changes(below tree: ImageFilesystem, epoch: Int64, into tar: TarWriter) throws -> [TarEntry] {
            let text = Array(ran.map { $0.arguments.joined(separator: " ") }.joined(separator: "\n").utf8)
            let entry = TarEntry(path: try RelativePath("ran"), kind: .regular(size: Int64(text.count)), mode: 0o644, mtime: epoch)
            try tar.append(entry, contentFrom: ArraySource(text), describedAs: "ran")
            return [entry]
        }

        func discard() {}
    }

    static func project() throws -> ProjectFixture {
        let fixture = try ProjectFixture([
            "images/app/stage.yaml": """
                from: scratch
                steps:
                  - copy: sh
                    to: /bin/sh
                  - run: echo hello > /greeting
                checks:
                  - run: test -s /ran

                """,
            "images/app/sh": "#!fake\n",
        ])
        return fixture
    }

    @Test func aRunStepIsBuiltThroughTheMachineAndThenCached() throws {
        let fixture = try Self.project()
        let machines = FakeMachines()
        let workspace = try Workspace(directory: fixture.path, storePath: nil)
        let builder = Builder(project: try workspace.loadProject(), store: workspace.store, reporter: SilentReporter(), machines: machines)
        let options = BuildOptions(targets: [], sourceDateEpoch: 1_700_000_000, compressionThreads: 1)
        let images = try builder.build(options)
        // The step ran in a machine on the one layer below it, then the check in the image.
        #expect(machines.scripts == ["echo hello > /greeting", "test -s /ran"])
        let layer = try #require(images.first?.steps.last?.layer)
        let recorded = "/bin/sh -eu -c echo hello > /greeting"
        #expect(try fixture.listing(of: layer) == ["- 0644 0:0 ran size=\(recorded.utf8.count)"])

        // Built again: the step is a cache hit, the check is not run again, no machine is made.
        let again = try builder.build(options)
        #expect(machines.scripts.count == 2)
        #expect(again.first?.steps.allSatisfy(\.cached) == true)
        #expect(again.first?.manifestDescriptor == images.first?.manifestDescriptor)
    }

    @Test func aFailingCommandNamesTheStepAndItsOutput() throws {
        let fixture = try ProjectFixture([
            "images/app/stage.yaml": """
                from: scratch
                steps:
                  - copy: sh
                    to: /bin/sh
                  - run: exit 3

                """,
            "images/app/sh": "#!fake\n",
        ])
        let workspace = try Workspace(directory: fixture.path, storePath: nil)
        let builder = Builder(project: try workspace.loadProject(), store: workspace.store, reporter: SilentReporter(),
                              machines: FakeMachines())
        #expect {
            try builder.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 1))
        } throws: { error in
            "\(error)" == "images/app/stage.yaml:5:5: step 2 of app failed: its command exited with status 3; its last lines:\n  | fake machine on 1 layers"
        }
    }
}
