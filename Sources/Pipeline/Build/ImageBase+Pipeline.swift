import Layers
import OCI
import Provisioners

extension ImageBase {
    /// An empty base (`scratch`).
    static func scratch(epoch: Int64?) -> ImageBase {
        ImageBase(state: CacheKey.scratch, layers: [], diffIDs: [], history: [], config: nil,
                  platform: HostPlatform.current, epoch: epoch ?? 0, parent: nil)
    }

    /// Another image of the pipeline (built, or predicted by a plan).
    static func image(_ parent: AssembledImage, sourceDateEpoch: Int64?) throws -> ImageBase {
        ImageBase(
            // By content, not by manifest digest: a new commit changes the parent's revision
            // label, not what a step on it sees.
            state: try CacheKey.imageState(parent.config),
            layers: parent.manifest.layers,
            diffIDs: parent.config.rootfs.diffIDs,
            history: parent.config.history ?? [],
            config: parent.config.config,
            platform: Platform(architecture: parent.config.architecture, os: parent.config.os, variant: parent.config.variant),
            // The time rule: SOURCE_DATE_EPOCH, else the parent's time.
            epoch: sourceDateEpoch ?? parent.config.created.flatMap(Timestamp.parseRFC3339) ?? 0,
            parent: ParentImage(name: parent.name, digest: parent.manifestDescriptor.digest)
        )
    }

    /// An image base made of the one layer bake made of a Debian or rootfs base.
    static func oneLayer(_ layer: LayerBlob, history: String, recipe: BaseLayerRecipe) -> ImageBase {
        var config: ContainerConfig?
        if let environment = recipe.environment {
            var container = ContainerConfig()
            container.env = environment
            config = container
        }
        return ImageBase(
            state: CacheKey.state(after: CacheKey.scratch, layer: layer.diffID),
            layers: [layer.descriptor], diffIDs: [layer.diffID],
            history: [History(created: Timestamp.rfc3339(recipe.epoch), createdBy: "bake: " + history)],
            config: config, platform: HostPlatform.current, epoch: recipe.epoch, parent: nil)
    }
}
