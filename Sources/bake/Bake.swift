import ArgumentParser
import Diagnostics
import Foundation
import Layers
import OCI
import Pipeline
import Provisioners

/// `bake`: the root command.
struct Bake: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bake",
        abstract: "Reproducible, daemonless image builds from stage files.",
        discussion: """
            bake builds a chain of OCI images (base -> app-base -> app) from \
            images/NAME/stage.yaml files. Every layer is made deterministically, so the same \
            inputs give the same digests; the results live in an OCI image layout in .bake/oci \
            that skopeo, umoci and podman read directly.

            EXAMPLES:
              bake build app             build app and the images it is built on
              bake plan                  each step as a cache HIT or a BUILD, and why
              bake why app               the first input that changed since app's build
              bake verify app            rebuild elsewhere and prove the same bytes
              bake history app           past builds; bake export app@3 ... rolls back
              bake run app               run app's entrypoint in the sandbox
              bake inspect app --json    digests, layers and config of a built image
              bake export app --format docker-archive --output app.tar
              bake push app registry.example.com/team/app --tag {git.sha}
              bake retag registry.example.com/team/app:454 latest   (roll back)
              bake outdated              images with a newer upstream than bake.lock
            """,
        version: BakeVersion.current,
        subcommands: [
            Build.self, Plan.self, Why.self, Verify.self, Run.self, Inspect.self, History.self, Graph.self, Export.self,
            Push.self, Retag.self, Update.self, Outdated.self, Fsck.self, Gc.self,
        ]
    )

    @OptionGroup var global: GlobalOptions
}
